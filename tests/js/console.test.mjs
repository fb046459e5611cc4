import assert from "node:assert/strict";
import { test } from "node:test";

import { label } from "../../handoff/static/console/labels.js";
import { agentLoad, customerName, kpis, orderCard, reasonBars, tags, transcriptItems }
  from "../../handoff/static/console/present.js";

test("labels: known codes in Chinese, unknown ones as they are", () => {
  assert.equal(label("reason", "bot_unavailable"), "机器人不可用");
  assert.equal(label("skill", "account"), "账户安全");
  assert.equal(label("reason", "something_new"), "something_new");
  assert.equal(label("order_type", "normal"), "");
  assert.equal(label("emotion", null), "");
});

test("tags of a queue item", () => {
  const item = { conversation_id: "ab".repeat(16), priority: "high", vip_level: 3, reason: "angry", emotion: "angry",
    channel: "wechat", skill: "refunds" };
  assert.deepEqual(tags(item).map((t) => t[1]), ["高优先级", "VIP3", "客户情绪激动", "情绪：愤怒", "微信", "退款组"]);
  assert.deepEqual(tags({ emotion: "neutral" }), []);
  assert.equal(customerName({ conversation_id: "3f2a1b99" }), "访客 3f2a1b");
  assert.equal(customerName({ conversation_id: "x", customer_name: "张伟" }), "张伟");
  assert.equal(customerName({ conversation_id: "x", customer: { name: "李娜" }, customer_name: "张伟" }), "李娜");
});

test("notes go between messages by seq, once", () => {
  const conv = {
    messages: [{ id: "a", seq: 1 }, { id: "c", seq: 3 }],
    notes: [{ id: "b", seq: 2, internal: true }, { id: "c", seq: 3 }],
  };
  assert.deepEqual(transcriptItems(conv).map((m) => m.id), ["a", "b", "c"]);
});

test("order card from the hub's order summary", () => {
  const card = orderCard({ order_id: "2025061800004", status: "已发货", order_type: "presale", total: 1299,
    items: ["咖啡机 ×1", "滤网 ×2"], created_at: null });
  assert.deepEqual(card, { id: "2025061800004", status: "已发货", items: "咖啡机 ×1、滤网 ×2", meta: "¥1299.00 · 预售" });
});

test("dashboard figures read the documented Stats shape", () => {
  const stats = {
    queue_length: 6, longest_wait_seconds: 200, agents_online: 2,
    agents: [{ id: 1, display_name: "客服 小李", presence: "online", load: 5, max_chats: 5 },
      { id: 2, display_name: "客服 小陈", presence: "online", load: 1, max_chats: 4 },
      { id: 3, display_name: "主管 王敏", presence: "offline", load: 0, max_chats: 8 }],
    handoffs_today: 3, handoffs_by_reason: { requested: 1, angry: 2 },
    first_response_seconds: { avg: 42, p90: 80, count: 3 }, csat: { avg: 4.5, count: 2 },
  };
  assert.deepEqual(kpis(stats), [
    ["排队人数", 6, "", true],
    ["最长等待", "3:20", "", true],
    ["在线客服", "2 / 3", "在线 / 全部", false],
    ["今日转人工", 3, "", false],
    ["首次响应", "42 秒", "平均 · P90 1:20", true],
    ["满意度", "4.50", "2 次评价 · 满分 5", false],
  ]);
  const empty = kpis({ queue_length: 0, longest_wait_seconds: 0, agents: [], agents_online: 0, handoffs_today: 0,
    handoffs_by_reason: {}, first_response_seconds: { avg: null, p90: null, count: 0 }, csat: { avg: null, count: 0 } });
  assert.deepEqual(empty.map((k) => k[1]), [0, "0 秒", "0 / 0", 0, "—", "—"]);
  assert.deepEqual(reasonBars(stats.handoffs_by_reason).map((b) => [b.label, b.count, b.width]),
    [["客户情绪激动", 2, 100], ["客户要求人工", 1, 50]]);
  assert.deepEqual(agentLoad(stats.agents[0]), { text: "5 / 5", full: true, width: 100 });
  assert.deepEqual(agentLoad(stats.agents[1]), { text: "1 / 4", full: false, width: 25 });
});
