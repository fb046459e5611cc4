import assert from "node:assert/strict";
import { test } from "node:test";

import { FAQ_KEY, IGNORE, NEW_FAQ, insertText, kindsText, labelRequest, labelledText, suggestionView }
  from "../../handoff/static/console/teaching.js";

test("a suggestion goes into the composer after what the agent typed, on its own line", () => {
  assert.equal(insertText("", "亲，满99包邮。"), "亲，满99包邮。");
  assert.equal(insertText("  \n", "亲"), "亲");
  assert.equal(insertText("您好", "亲，满99包邮。"), "您好\n亲，满99包邮。");
  assert.equal(insertText("您好  \n\n", "亲"), "您好\n亲");
  assert.equal(insertText(null, "<b>x</b>"), "<b>x</b>"); // text, not markup: the input holds it as typed
});

test("suggestion chips: badge by source, a short preview counted in characters, the match in percent", () => {
  const faq = suggestionView({ kind: "faq", title: "运费", text: "亲,订单满99元包邮。\n不满99元收运费8元", score: 0.855 });
  assert.deepEqual(faq, { badge: "知识库", title: "运费", preview: "亲,订单满99元包邮。 不满99元收运费8元", match: "86%" });
  const long = suggestionView({ kind: "canned", title: "t", text: "😀".repeat(60), score: 7 }, 10);
  assert.equal(long.badge, "话术");
  assert.equal(long.preview, "😀".repeat(10) + "…"); // no emoji cut in half
  assert.equal(long.match, "100%");
  assert.equal(suggestionView({ kind: "canned", score: "x" }).match, "0%");
});

test("kinds of a group in Chinese, most frequent first", () => {
  assert.equal(kindsText({ out_of_scope: 1, fallback: 3 }), "未识别 ×3 · 超出范围 ×1");
  assert.equal(kindsText({ not_understood: 2, weird: 1 }), "无法理解转人工 ×2 · weird ×1");
  assert.equal(kindsText(null), "");
});

test("a label request: an existing label, a new FAQ (key and answer checked), or ignore", () => {
  const g = { item_ids: [3, 5] };
  assert.deepEqual(labelRequest(g, "faq/coupon"), { body: { item_ids: [3, 5], label: "faq/coupon" } });
  assert.deepEqual(labelRequest(g, IGNORE), { body: { item_ids: [3, 5], label: "ignore" } });
  assert.deepEqual(labelRequest(g, NEW_FAQ, " digital_rmb ", " 暂不支持 "),
    { body: { item_ids: [3, 5], new_faq: { key: "digital_rmb", answer: "暂不支持" } } });
  assert.match(labelRequest(g, "").error, /请选择/);
  assert.match(labelRequest({ item_ids: [] }, "greet").error, /没有消息/);
  for (const bad of ["", "a", "Digital", "1abc", "数字", "a-b", "../x", "a".repeat(42)]) {
    assert.ok(labelRequest(g, NEW_FAQ, bad, "答").error, bad);
    assert.equal(FAQ_KEY.test(bad), false, bad);
  }
  assert.match(labelRequest(g, NEW_FAQ, "ok_key", "   ").error, /答案/);
  assert.match(labelRequest(g, NEW_FAQ, "ok_key", "字".repeat(1001)).error, /1000/);
});

test("what a supervisor is told after labelling", () => {
  assert.equal(labelledText({ labelled: 2, file: null }), "已忽略 2 条消息");
  assert.equal(labelledText({ labelled: 3, file: "data/nlu/reviewed.yml", examples: 7, held_out: 0 }),
    "已标注 3 条，data/nlu/reviewed.yml 现有 7 条训练样例");
  assert.match(labelledText({ labelled: 1, file: "data/nlu/reviewed.yml", examples: 7, held_out: 1 }), /1 条与测试集相同/);
});
