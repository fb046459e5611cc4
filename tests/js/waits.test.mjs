import assert from "node:assert/strict";
import { test } from "node:test";

import { alertText, entryLine, freshArrivals, waitLevel, windowNotice } from "../../handoff/static/console/waits.js";

const names = (id) => ({ 2: "客服 小李", 3: "客服 小陈" }[id] || "客服");

test("thread entries say who did what", () => {
  assert.deepEqual(entryLine({ kind: "reply", agent_id: 2, text: "已补发", delivery: "pending" }, names),
    ["客服 小李 回复客户", "已补发", "reply"]);
  assert.equal(entryLine({ kind: "reply", agent_id: 2, text: "x", delivery: "window_closed" }, names)[2], "undelivered");
  assert.equal(entryLine({ kind: "status", agent_id: 3, value: "solved" }, names)[0], "客服 小陈 将状态改为「已解决」");
  assert.equal(entryLine({ kind: "assign", agent_id: 1, value: "3" }, names)[0], "客服 将工单分配给 客服 小陈");
  assert.equal(entryLine({ kind: "assign", agent_id: 3, value: null }, names)[0], "客服 小陈 取消了分配");
  assert.deepEqual(entryLine({ kind: "note", agent_id: 2, text: "<b>x</b>" }, names), ["客服 小李 内部备注", "<b>x</b>", "note"]);
});

test("the WeChat window", () => {
  assert.equal(windowNotice(null, 0), null);
  assert.equal(windowNotice({ open: false, closes_at: 10 }, 20)[0], "closed");
  const open = windowNotice({ open: true, closes_at: 1000 + 3600 * 5 }, 1000);
  assert.equal(open[0], "open");
  assert.match(open[1], /5 小时 0 分/);
});

test("new arrivals and waiting levels", () => {
  const items = [{ conversation_id: "a" }, { conversation_id: "b" }];
  assert.deepEqual(freshArrivals(null, items), []);
  assert.deepEqual(freshArrivals({ a: true }, items).map((q) => q.conversation_id), ["b"]);
  assert.equal(waitLevel(100, 110, { agent_after: 30, supervisor_after: 120 }).level, "");
  assert.equal(waitLevel(100, 140, { agent_after: 30, supervisor_after: 120 }).level, "late");
  assert.equal(waitLevel(100, 300, { agent_after: 30, supervisor_after: 120 }).level, "very-late");
  assert.equal(waitLevel(100, 50).waited, 0);
  assert.equal(alertText({ since: 0, level: "supervisor" }, "张伟", "客服 小李", 95), "张伟 已等待 1:35 未获回复（客服 小李）");
});
