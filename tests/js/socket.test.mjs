import assert from "node:assert/strict";
import { test } from "node:test";

import { LiveSocket, backoffDelay } from "../../handoff/static/shared/socket.js";

/** A websocket stand-in the test drives by hand, and a manual clock. */
function harness(options = {}) {
  const sockets = [];
  class FakeSocket {
    constructor(url) { this.url = url; this.sent = []; sockets.push(this); }
    send(data) { this.sent.push(JSON.parse(data)); }
    close() { this.closed = true; }
  }
  const timers = [];
  const events = [];
  const live = new LiveSocket({
    url: () => "ws://hub/ws",
    WebSocket: FakeSocket,
    setTimeout: (fn, ms) => { timers.push({ fn, ms }); return timers.length; },
    clearTimeout: () => {},
    random: () => 0.5,
    onOpen: () => events.push("open"),
    onEvent: (ev) => events.push(ev),
    onClose: options.onClose || (() => true),
  });
  return { live, sockets, timers, events };
}

test("backoff doubles to 15 s with ±25 % jitter", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, () => 0.5)), [1000, 2000, 4000, 8000, 15000, 15000]);
  assert.equal(backoffDelay(0, () => 0), 750);
  assert.equal(backoffDelay(0, () => 1), 1250);
});

test("events arrive parsed; frames that are not JSON are dropped", () => {
  const h = harness();
  h.live.start();
  h.sockets[0].onopen();
  h.sockets[0].onmessage({ data: '{"type":"queue","position":2}' });
  h.sockets[0].onmessage({ data: "not json" });
  assert.deepEqual(h.events, ["open", { type: "queue", position: 2 }]);
  assert.equal(h.live.send({ type: "typing" }), true);
  assert.deepEqual(h.sockets[0].sent, [{ type: "typing" }]);
});

test("a drop reconnects with growing delays; only a delivered event resets them", () => {
  const h = harness();
  h.live.start();
  h.sockets[0].onclose({ code: 1006 });
  assert.equal(h.timers[0].ms, 1000);
  h.timers[0].fn();
  h.sockets[1].onopen(); // accepted, then dropped before any event
  h.sockets[1].onclose({ code: 1006 });
  assert.equal(h.timers[1].ms, 2000);
  h.timers[1].fn();
  h.sockets[2].onmessage({ data: '{"type":"mode"}' });
  h.sockets[2].onclose({ code: 1006 });
  assert.equal(h.timers[2].ms, 1000);
});

test("send is refused while down, so the caller uses HTTP", () => {
  const h = harness();
  assert.equal(h.live.send({ type: "typing" }), false);
  h.live.start();
  assert.equal(h.live.send({ type: "typing" }), false); // connecting
});

test("onClose returning false stops for good; stop() never reconnects", () => {
  const h = harness({ onClose: (ev) => ev.code !== 4401 });
  h.live.start();
  h.sockets[0].onclose({ code: 4401 });
  assert.equal(h.timers.length, 0);
  const g = harness();
  g.live.start();
  g.sockets[0].onopen();
  g.live.stop();
  assert.equal(g.sockets[0].closed, true);
  assert.equal(g.sockets[0].onclose, null);
  assert.equal(g.timers.length, 0);
});
