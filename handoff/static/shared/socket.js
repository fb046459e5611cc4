/**
 * A websocket that comes back by itself: exponential backoff (1 s doubling to 15 s) with jitter,
 * so clients cut off together do not all return in the same second. Only a socket that delivers
 * an event resets the backoff (an upgrade the hub accepts and drops at once does not).
 *
 *   const live = new LiveSocket({ url: () => "wss://…", onOpen, onEvent, onClose });
 *   live.start(); live.send({type: "typing"}); live.stop();
 *
 * `onClose(closeEvent, wasOpen)` returning false stops reconnecting (e.g. the token was refused).
 * Events arrive parsed; frames that are not JSON are dropped.
 */

export function backoffDelay(attempt, random = Math.random) {
  return Math.min(15000, 1000 * Math.pow(2, attempt)) * (0.75 + random() * 0.5);
}

export class LiveSocket {
  constructor(options) {
    this.options = options;
    this.ws = null;
    this.isOpen = false;
    this.retry = 0;
    this.timer = null;
    this.stopped = true;
    this.WebSocket = options.WebSocket || globalThis.WebSocket;
    this.setTimeout = options.setTimeout || ((fn, ms) => setTimeout(fn, ms));
    this.clearTimeout = options.clearTimeout || ((t) => clearTimeout(t));
    this.random = options.random || Math.random;
  }

  /** Connect unless connected or connecting. */
  start() {
    this.stopped = false;
    if (this.ws) return;
    this.clearTimeout(this.timer);
    this.timer = null;
    let ws;
    try {
      ws = new this.WebSocket(this.options.url());
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.isOpen = true;
      if (this.options.onOpen) this.options.onOpen();
    };
    ws.onmessage = (ev) => {
      this.retry = 0;
      let data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (this.options.onEvent) this.options.onEvent(data);
    };
    ws.onclose = (ev) => {
      const wasOpen = this.isOpen;
      this.ws = null;
      this.isOpen = false;
      if (this.stopped) return;
      const again = this.options.onClose ? this.options.onClose(ev, wasOpen) : true;
      if (again === false) {
        this.stopped = true;
        return;
      }
      this.scheduleReconnect();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const delay = backoffDelay(this.retry, this.random);
    this.retry += 1;
    this.clearTimeout(this.timer);
    this.timer = this.setTimeout(() => { this.timer = null; this.start(); }, delay);
  }

  /** Send one JSON frame; false when the socket is not open (the caller falls back to HTTP). */
  send(frame) {
    if (!this.ws || !this.isOpen) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch (e) {
      return false;
    }
  }

  /** Close for good: no onClose call, no reconnect. */
  stop() {
    this.stopped = true;
    this.clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    this.isOpen = false;
    if (ws) {
      ws.onclose = null;
      try { ws.close(); } catch (e) { /* already closed */ }
    }
  }
}
