/**
 * What the widget says, as pure functions (no DOM), so they can be tested on their own.
 * Texts the hub also writes are not decided here: the wait estimate (`wait_text`) and the
 * agent's title (`title`) come formatted in the hub's events, the same words WeChat customers get.
 */

import { initial } from "../shared/format.js";

export const DEFAULT_TITLE = "在线客服";
export const GREETING = "您好，欢迎光临！我是智能客服，请问有什么可以帮您？\n可以问我：退款多久到账、七天无理由退货、运费、发票……";
export const STAR_LABELS = ["", "非常不满意", "不满意", "一般", "满意", "非常满意"];

/** The optional 推荐意愿 question after the stars (NPS: 0–10). */
export const NPS_QUESTION = "您有多大可能向朋友推荐我们？（选填）";

/** The rating as sent: the NPS answer only when one was picked. */
export function ratingBody(score, comment, nps) {
  const body = { score, comment: String(comment || "").trim() };
  if (Number.isInteger(nps) && nps >= 0 && nps <= 10) body.nps = nps;
  return body;
}

/** The queue banner: place, and the hub's wait estimate when it gave one. */
export function queueBanner(position, waitText) {
  const text = position <= 1 ? "正在为您接入人工客服，您是下一位" : "正在排队，您前面还有 " + (position - 1) + " 位";
  return text + "（第 " + position + " 位）" + (waitText ? "，预计等待" + waitText : "");
}

/** Header avatar letter, status line and whether the dot shows "waiting". */
export function headerStatus(mode, offline, agentName, agentTitle) {
  if (mode === "agent" && agentName) {
    return { avatar: initial(agentName, "客"), text: (agentTitle || agentName) + " 为您服务", waiting: false };
  }
  if (mode === "queued" && offline) return { avatar: "客", text: "人工客服暂不在线，您可以留言", waiting: true };
  if (mode === "queued") return { avatar: "客", text: "正在为您转接人工客服", waiting: true };
  return { avatar: "客", text: "智能客服 · 7×24 小时在线", waiting: false };
}

export function typingLabel(agentTitle) {
  return (agentTitle || "客服") + " 正在输入…";
}

/** The name over a bot or agent bubble. */
export function authorLabel(author, agentName) {
  if (author === "bot") return "智能助手";
  if (author === "agent") return agentName || "人工客服";
  return "";
}

/** The hub's "… 已接入 …" notice gets the join style. */
export function isJoinNotice(text) {
  return /已接入/.test(text || "");
}

/** A mainland mobile number or an e-mail address. */
export function validContact(contact) {
  return /^(1\d{10}|[^@\s]+@[^@\s]+\.[^@\s]+)$/.test(contact);
}

export function startFailedNotice(message) {
  return "暂时无法连接客服系统：" + (message || "网络错误") + "，请稍后重试。";
}
