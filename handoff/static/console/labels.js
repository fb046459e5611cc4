/**
 * Chinese labels for the codes the hub sends, and only those (tests/hub/test_static.py holds
 * each list to the hub's own: handoff/router.py, handoff/tickets.py, bot/nlu/anger.py).
 * An unknown code shows as it is.
 */

export const LABELS = {
  reason: {
    requested: "客户要求人工", angry: "客户情绪激动", not_understood: "机器人无法理解", urgent: "紧急问题",
    verification_failed: "身份验证未通过", bot_unavailable: "机器人不可用", offline_message: "非工作时间留言",
  },
  priority: { urgent: "紧急", high: "高", normal: "普通" },
  skill: { general: "综合", orders: "订单", refunds: "退款", payments: "支付", account: "账户安全" },
  channel: { web: "网页", wechat: "微信" },
  mode: { bot: "机器人", queued: "排队中", agent: "人工服务中", closed: "已结束" },
  presence: { online: "在线", away: "离开", offline: "离线" },
  role: { agent: "客服", supervisor: "主管" },
  ticket: { open: "待处理", pending: "处理中", solved: "已解决" },
  emotion: { angry: "愤怒", neutral: "平静" },
  order_type: { normal: "", presale: "预售" },
};

/** Skill groups a chat can be transferred to, in the order the dialog lists them. */
export const TRANSFER_SKILLS = ["general", "orders", "refunds", "payments", "account"];

export function label(kind, code) {
  if (code == null || code === "") return "";
  const known = LABELS[kind] || {};
  return Object.prototype.hasOwnProperty.call(known, code) ? known[code] : String(code);
}
