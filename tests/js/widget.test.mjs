import assert from "node:assert/strict";
import { test } from "node:test";

import { authorLabel, headerStatus, queueBanner, typingLabel, validContact } from "../../handoff/static/widget/text.js";

test("queue banner shows the place and the hub's wait text as it is", () => {
  assert.equal(queueBanner(1, "约 3 分钟"), "正在为您接入人工客服，您是下一位（第 1 位），预计等待约 3 分钟");
  assert.equal(queueBanner(3, "不到 1 分钟"), "正在排队，您前面还有 2 位（第 3 位），预计等待不到 1 分钟");
  assert.equal(queueBanner(2, undefined), "正在排队，您前面还有 1 位（第 2 位）");
});

test("header follows the mode; the agent is shown with the hub's title", () => {
  assert.deepEqual(headerStatus("agent", false, "小李", "客服 小李"), { avatar: "小", text: "客服 小李 为您服务", waiting: false });
  assert.deepEqual(headerStatus("agent", false, "主管 王敏", "主管 王敏"), { avatar: "王", text: "主管 王敏 为您服务", waiting: false });
  assert.equal(headerStatus("queued", false).text, "正在为您转接人工客服");
  assert.equal(headerStatus("queued", true).text, "人工客服暂不在线，您可以留言");
  assert.equal(headerStatus("bot", false).text, "智能客服 · 7×24 小时在线");
  assert.equal(headerStatus("agent", false, null, null).text, "智能客服 · 7×24 小时在线"); // before the join event
});

test("typing and author labels", () => {
  assert.equal(typingLabel("客服 小李"), "客服 小李 正在输入…");
  assert.equal(typingLabel(null), "客服 正在输入…");
  assert.equal(authorLabel("bot"), "智能助手");
  assert.equal(authorLabel("agent", "客服 小李"), "客服 小李");
  assert.equal(authorLabel("agent", null), "人工客服");
});

test("contact is a mainland mobile number or an e-mail address", () => {
  assert.ok(validContact("13900001111"));
  assert.ok(validContact("a@b.cn"));
  assert.ok(!validContact("abc"));
  assert.ok(!validContact("1390000111"));
});
