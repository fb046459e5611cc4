import assert from "node:assert/strict";
import { test } from "node:test";

import { NETWORK_ERROR, RequestError, requestJson } from "../../handoff/static/shared/http.js";

function answer(status, body) {
  return async (url, init) => {
    answer.last = { url, init };
    return { ok: status < 400, status, text: async () => (body == null ? "" : JSON.stringify(body)) };
  };
}

test("a body is sent as JSON, and the answer parsed", async () => {
  const data = await requestJson("/api/x", { method: "POST", body: { a: 1 }, headers: { "X-CSRF-Token": "t" },
    fetch: answer(200, { ok: true }) });
  assert.deepEqual(data, { ok: true });
  assert.equal(answer.last.init.body, '{"a":1}');
  assert.equal(answer.last.init.headers["Content-Type"], "application/json");
  assert.equal(answer.last.init.headers["X-CSRF-Token"], "t");
  assert.equal(answer.last.init.credentials, "same-origin");
});

test("no body: no Content-Type (a GET stays a simple request)", async () => {
  await requestJson("/api/x", { fetch: answer(200, null), credentials: "omit" });
  assert.equal(answer.last.init.body, undefined);
  assert.equal(answer.last.init.headers["Content-Type"], undefined);
  assert.equal(answer.last.init.credentials, "omit");
});

test("a refusal carries the hub's code, message and body", async () => {
  const body = { error: { code: "reply_pending", message: "稍后" }, message: { id: "m1" } };
  await assert.rejects(requestJson("/api/x", { fetch: answer(503, body) }), (err) => {
    assert.ok(err instanceof RequestError);
    assert.equal(err.status, 503);
    assert.equal(err.code, "reply_pending");
    assert.equal(err.message, "稍后");
    assert.deepEqual(err.data, body);
    return true;
  });
  await assert.rejects(requestJson("/api/x", { fetch: answer(502, null) }), { status: 502, message: "请求失败（502）" });
});

test("no answer at all is status 0", async () => {
  const down = async () => { throw new TypeError("Failed to fetch"); };
  await assert.rejects(requestJson("/api/x", { fetch: down }), { status: 0, message: NETWORK_ERROR });
});
