import assert from "node:assert/strict";
import { test } from "node:test";

import { RUBRIC, historyRow, historyWho, linkNote, qaRows, scoreBody, scoreMean, searchQuery, transcriptTimeline }
  from "../../handoff/static/console/history_view.js";

test("search query: empty fields left out, values trimmed and encoded, cursor last", () => {
  assert.equal(searchQuery({ q: "  退款 ", order: "", customer: null, rating: "5" }), "rating=5&q=%E9%80%80%E6%AC%BE");
  assert.equal(searchQuery({ q: "100%_&x=1" }, "1.5_ab"), "q=100%25_%26x%3D1&cursor=1.5_ab");
  assert.equal(searchQuery({ limit: "999", page: "2" }), "");  // only the form's own fields
  assert.equal(searchQuery({}), "");
});

test("who a past conversation was with", () => {
  assert.equal(historyWho({ customer_name: "张伟", customer_id: "C0001", conversation_id: "x" }), "张伟（C0001）");
  assert.equal(historyWho({ customer_id: "C0002", conversation_id: "x" }), "客户 C0002");
  assert.equal(historyWho({ openid: "oAbCdEfGhIjK", conversation_id: "x" }), "微信用户 oAbCdEfG…");
  assert.equal(historyWho({ conversation_id: "3f2a1b99" }), "访客 3f2a1b");
});

test("a result row: reasons, a low rating marked, 质检 average, live chats tagged", () => {
  const row = historyRow({ conversation_id: "c1", customer_name: "李娜", channel: "wechat", updated_at: 0,
    reasons: ["angry", "requested"], agents: [{ id: 2, display_name: "客服 小李" }], rating: 2,
    qa: { count: 1, avg: 4.25 }, mode: "agent", snippet: "<b>退款</b>" });
  assert.deepEqual(row.tags, [["tag reason", "客户情绪激动"], ["tag reason", "客户要求人工"], ["tag angry", "评分 2★"],
    ["tag qa", "质检 4.3"], ["tag mode", "人工服务中"]]);
  assert.match(row.meta, /微信 · 客服：客服 小李$/);
  assert.equal(row.snippet, "<b>退款</b>");  // shown with textContent: markup stays text
  assert.match(historyRow({ conversation_id: "c2", updated_at: 0, channel: "web" }).meta, /机器人接待$/);
});

test("timeline: handoff events between the messages at their times, events first on a tie", () => {
  const t = {
    messages: [
      { seq: 1, created_at: "2026-01-01T00:00:00.000Z", author: "customer" },
      { seq: 2, created_at: "2026-01-01T00:00:10.000Z", author: "bot" },
      { seq: 3, created_at: "2026-01-01T00:01:00.000Z", author: "agent" },
    ],
    handoffs: [{ reason: "angry", skill: "refunds", priority: "high", queued_at: Date.parse("2026-01-01T00:00:10Z") / 1000,
      assigned_at: Date.parse("2026-01-01T00:00:30Z") / 1000, closed_at: Date.parse("2026-01-01T00:02:00Z") / 1000,
      agent: { id: 3, display_name: "客服 小陈" } }],
  };
  const kinds = transcriptTimeline(t).map((x) => (x.kind === "event" ? x.text : x.message.seq));
  assert.deepEqual(kinds, [1, "转人工 · 客户情绪激动 · 退款组 · 高优先级", 2, "客服 小陈 接入", 3, "人工服务结束"]);
  assert.deepEqual(transcriptTimeline({}), []);
  // a notice stored with the handoff (same instant, its ISO time cut to the millisecond) comes after the event
  const tie = transcriptTimeline({ messages: [{ seq: 5, created_at: "2026-01-01T00:00:10.123Z" }],
    handoffs: [{ reason: "requested", skill: "orders", priority: "normal", queued_at: 1767225610.1239 }] });
  assert.deepEqual(tie.map((x) => x.kind), ["event", "message"]);
});

test("score form: every rubric item 1–5, comment trimmed, the mean", () => {
  assert.deepEqual(RUBRIC.map(([k]) => k), ["greeting", "correct", "resolved", "attitude"]);
  assert.deepEqual(scoreBody({ greeting: "5", correct: "4", resolved: "3", attitude: "4", comment: "  好 " }),
    { body: { greeting: 5, correct: 4, resolved: 3, attitude: 4, comment: "好" }, problem: "" });
  assert.equal(scoreBody({ greeting: "5", correct: "0", resolved: "3", attitude: "4" }).problem, "请为“回答正确”打 1–5 分");
  assert.equal(scoreBody({ greeting: "5.5", correct: "4", resolved: "3", attitude: "4" }).body, null);
  assert.equal(scoreBody({ greeting: 1, correct: 1, resolved: 1, attitude: 1, comment: "字".repeat(1001) }).body, null);
  assert.equal(scoreBody({ greeting: 1, correct: 1, resolved: 1, attitude: 1, comment: "" }).body.comment, null);
  assert.equal(scoreMean({ greeting: 5, correct: 5, resolved: 4, attitude: 4 }), "4.5");
});

test("per-agent 质检 rows and the sidebar's link note", () => {
  const rows = qaRows({ items: [{ agent_id: 3, display_name: "客服 小陈", count: 2, greeting: 4.5, correct: 5,
    resolved: 3.25, attitude: 4, overall: 4.1875 }] });
  assert.deepEqual(rows, [{ agentId: 3, name: "客服 小陈", count: 2, cells: ["4.5", "5.0", "3.3", "4.0"], overall: "4.2" }]);
  assert.deepEqual(qaRows({}), []);
  assert.equal(linkNote("browser"), "同一浏览器（未验证身份）");
  assert.equal(linkNote(null), "");
});
