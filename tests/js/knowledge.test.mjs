import assert from "node:assert/strict";
import { test } from "node:test";

import { duration, entryBadge, entryTitle, filterEntries, stageSteps, trainingHeadline, versionAction }
  from "../../handoff/static/console/kb-present.js";

const states = (t) => stageSteps(t).map((s) => s.state).join(",");

test("retrain stages: done before the current one, the current one active or failed", () => {
  assert.equal(states(null), "todo,todo,todo,todo");
  assert.equal(states({ state: "running", stage: "writing" }), "active,todo,todo,todo");
  assert.equal(states({ state: "running", stage: "gating" }), "done,done,active,todo");
  assert.equal(states({ state: "failed", stage: "gating" }), "done,done,failed,todo");
  assert.equal(states({ state: "done", stage: "done" }), "done,done,done,done");
  assert.deepEqual(stageSteps(null).map((s) => s.text), ["写入数据", "重新训练", "对话测试", "模型上线"]);
});

test("durations and the headline", () => {
  assert.equal(duration(42.4), "42秒");
  assert.equal(duration(65), "1分05秒");
  assert.equal(duration(-3), "0秒");
  assert.equal(duration("x"), "0秒");
  assert.equal(trainingHeadline(null), "尚未发布过修改");
  assert.equal(trainingHeadline({ id: 4, state: "failed", elapsed_seconds: 130, train_seconds: 70,
    gate: { selected: 12, passed: 11 } }), "#4 未上线 · 用时 2分10秒 · 训练 1分10秒 · 对话测试 11/12");
  assert.equal(trainingHeadline({ id: 5, state: "running", elapsed_seconds: 3, train_seconds: null, gate: null }),
    "#5 进行中 · 用时 3秒");
});

test("entries: titles, badges, filtering by kind and text", () => {
  const items = [
    { key: "utter_faq/shipping_fee", kind: "faq", example: "买多少钱包邮", text: "满99元包邮", live: true },
    { key: "utter_goodbye", kind: "phrase", example: null, text: "再见", live: false },
  ];
  assert.equal(entryTitle(items[0]), "FAQ · shipping_fee");
  assert.equal(entryTitle(items[1]), "话术 · goodbye");
  assert.deepEqual(entryBadge(items[0]), ["live", "已上线"]);
  assert.deepEqual(entryBadge(items[1]), ["pending", "待上线"]);
  assert.deepEqual(filterEntries(items, "", "").length, 2);
  assert.deepEqual(filterEntries(items, "faq", "").map((e) => e.key), ["utter_faq/shipping_fee"]);
  assert.deepEqual(filterEntries(items, "", "包邮").map((e) => e.key), ["utter_faq/shipping_fee"]);
  assert.deepEqual(filterEntries(items, "", "GOODBYE").map((e) => e.key), ["utter_goodbye"]);
  assert.deepEqual(filterEntries(items, "phrase", "包邮"), []);
  assert.equal(versionAction({ action: "rollback", rollback_of: 3 }), "回滚 #3");
  assert.equal(versionAction({ action: "edit" }), "修改");
});
