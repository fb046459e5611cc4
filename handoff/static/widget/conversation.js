/**
 * The conversation with the hub: start or resume, live events over a reconnecting websocket,
 * and while it is down, HTTP sends (idempotent by client_msg_id) and polling, so nothing is lost.
 */

import { onlyRequestErrors, requestJson } from "../shared/http.js";
import { LiveSocket } from "../shared/socket.js";
import { el } from "../shared/dom.js";
import { clock } from "../shared/format.js";
import { showCsat, showLeaveMessage } from "./cards.js";
import { renderCustomer, renderMessage } from "./messages.js";
import { newMessageId } from "./storage.js";
import { GREETING, startFailedNotice, typingLabel } from "./text.js";
import { hideTyping, renderSystem, setHeader, setQueueBanner, showTyping } from "./view.js";

const POLL_MS = 3000;
const WS_ACK_MS = 4000;

export function newState() {
  return {
    conversationId: null,
    token: null,
    mode: "bot",
    lastSeq: 0,
    seen: {},          // message id -> true
    pending: {},       // client_msg_id -> {row, text, title, timer}
    open: false,
    unread: 0,
    quiet: false,      // rendering history: not "unread"
    pollTimer: null,
    agentName: null,   // display name of the agent serving, for bubbles and the avatar
    agentTitle: null,  // how the hub titles that agent for the customer ("客服 小李")
    csatShown: false,
    csatDone: false,
    offlineShown: false,
    lastTypingSent: 0,
    starting: null,
    loaded: false,
    offline: false,
  };
}

/** The widget API with the conversation token; no cookies (the widget runs on the shop's origin). */
export function apiFor(w) {
  return (method, path, body) => {
    const headers = {};
    if (w.state.token) headers.Authorization = "Bearer " + w.state.token;
    return requestJson(w.config.hub + path, { method, body, headers, credentials: "omit" });
  };
}

export function persist(w) {
  w.store.save({
    conversation_id: w.state.conversationId,
    token: w.state.token,
    identity: w.config.identity,
    csat_done: w.state.csatDone,
  });
}

export function setMode(w, mode) {
  const { state, ui } = w;
  if (!mode) return;
  const prev = state.mode;
  state.mode = mode;
  if (mode !== "queued") {
    ui.banner.hidden = true;
    state.offline = false;
  }
  if (mode === "bot" && prev === "agent") {
    state.agentName = null;
    state.agentTitle = null;
  }
  if (mode === "queued" || mode === "agent") {
    state.csatShown = false;
    state.csatDone = false;
  }
  setHeader(ui, state);
}

function setAgent(w, agent) {
  if (!agent || !agent.display_name) return;
  w.state.agentName = agent.display_name;
  w.state.agentTitle = agent.title || agent.display_name;
}

function applySnapshot(w, conv) {
  const { state } = w;
  const firstLoad = !state.loaded;
  state.loaded = true;
  setMode(w, conv.mode);
  setAgent(w, conv.agent);
  setHeader(w.ui, state);
  state.quiet = firstLoad; // history is not "unread"
  (conv.messages || []).forEach((m) => renderMessage(w, m));
  state.quiet = false;
  if (conv.queue) setQueueBanner(w.ui, state, conv.queue.position, conv.queue.wait_text);
  if (conv.csat_pending) showCsat(w);
}

function conversationPath(w, rest) {
  return "/api/conversations/" + w.state.conversationId + (rest || "");
}

async function createConversation(w) {
  const { state } = w;
  const body = { channel: "web", visitor: w.store.visitorId() };
  if (w.config.identity) body.identity = w.config.identity;
  const data = await w.api("POST", "/api/conversations", body);
  state.conversationId = data.conversation_id;
  state.token = data.token;
  state.csatDone = false;
  persist(w);
  setMode(w, data.mode || "bot");
  const conv = await w.api("GET", conversationPath(w));
  applySnapshot(w, conv);
  if (!conv.messages || !conv.messages.length) renderSystem(w.ui, GREETING);
  w.live.start();
}

async function resumeConversation(w, saved) {
  const { state } = w;
  state.conversationId = saved.conversation_id;
  state.token = saved.token;
  state.csatDone = !!saved.csat_done;
  const conv = await w.api("GET", conversationPath(w));
  applySnapshot(w, conv);
  w.live.start();
  await readOn(w, { has_more: conv.has_more });
}

/** Resume the stored conversation or start a new one; concurrent callers share one start. */
export function ensureStarted(w) {
  const { state } = w;
  if (state.conversationId && state.token) return Promise.resolve();
  if (state.starting) return state.starting;
  const saved = w.store.load();
  let p;
  if (saved && saved.conversation_id && saved.token && (saved.identity || "") === w.config.identity) {
    p = resumeConversation(w, saved).catch((e) => {
      if (e.status === 401 || e.status === 403 || e.status === 404) {
        state.conversationId = null;
        state.token = null;
        w.store.save(null);
        return createConversation(w);
      }
      throw e;
    });
  } else {
    p = createConversation(w);
  }
  state.starting = p.then(() => { state.starting = null; }, (e) => {
    state.starting = null;
    state.conversationId = null;
    const notice = startFailedNotice(e.message);
    const shown = w.ui.list.querySelectorAll(".sys");
    if (!shown.length || shown[shown.length - 1].textContent !== notice) renderSystem(w.ui, notice);
    throw e;
  });
  return state.starting;
}

export function liveSocket(w) {
  return new LiveSocket({
    url() {
      const u = new URL(w.config.hub + "/ws/customer");
      u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
      u.searchParams.set("conversation_id", w.state.conversationId);
      u.searchParams.set("token", w.state.token);
      return u.toString();
    },
    onOpen() {
      w.ui.net.hidden = true;
      stopPolling(w);
      catchUp(w);
    },
    onEvent(ev) { handleEvent(w, ev); },
    onClose(ev, wasOpen) {
      if (ev.code === 4401 || ev.code === 4403 || ev.code === 1008) {
        // token refused: the conversation is gone; start over on the next open
        w.store.save(null);
        return false;
      }
      if (wasOpen) w.ui.net.hidden = false;
      startPolling(w);
      return true;
    },
  });
}

/** Messages after the newest one shown, page by page (a page holds 500). */
async function readOn(w, page) {
  ((page && page.messages) || []).forEach((m) => renderMessage(w, m));
  if (!page || !page.has_more || !w.state.conversationId) return;
  await readOn(w, await w.api("GET", conversationPath(w, "/messages?after=" + w.state.lastSeq)));
}

async function catchUp(w) {
  if (!w.state.conversationId) return;
  try {
    const conv = await w.api("GET", conversationPath(w, "?after=" + w.state.lastSeq));
    applySnapshot(w, conv);
    await readOn(w, { has_more: conv.has_more });
    w.ui.net.hidden = true;
  } catch (e) {
    onlyRequestErrors(e);
    if (!w.live.isOpen) w.ui.net.hidden = false;
  }
}

function startPolling(w) {
  if (w.state.pollTimer) return;
  w.state.pollTimer = setInterval(() => catchUp(w), POLL_MS);
}

function stopPolling(w) {
  clearInterval(w.state.pollTimer);
  w.state.pollTimer = null;
}

/** Customer-socket events (see /openapi.json): message, mode, queue, agent_joined, typing, ack,
 * csat_request, offline. */
export function handleEvent(w, ev) {
  const { state, ui } = w;
  switch (ev.type) {
    case "message":
      renderMessage(w, ev.message);
      break;
    case "mode":
      setMode(w, ev.mode);
      break;
    case "queue":
      if (state.mode !== "queued") setMode(w, "queued");
      setQueueBanner(ui, state, ev.position, ev.wait_text);
      break;
    case "agent_joined":
      state.offline = false;
      setAgent(w, ev);
      setMode(w, "agent");
      break;
    case "typing":
      if (ev.author === "agent") showTyping(ui, typingLabel(state.agentTitle));
      break;
    case "ack":
      if (ev.client_msg_id) confirmPending(w, ev.client_msg_id, ev.message);
      break;
    case "csat_request":
      showCsat(w);
      break;
    case "offline":
      // nobody can take the chat now: no queue promise, offer the message form instead
      state.offline = true;
      ui.banner.hidden = true;
      setHeader(ui, state);
      if (ev.can_leave_message !== false) showLeaveMessage(w);
      break;
    default:
      break;
  }
}

/* ---------- sending ---------- */

export function confirmPending(w, cmid, stored) {
  const { state } = w;
  const p = state.pending[cmid];
  if (!p) return;
  clearTimeout(p.timer);
  delete state.pending[cmid];
  p.row.classList.remove("pending", "failed");
  p.row.querySelector(".meta").textContent = clock(stored && stored.created_at);
  if (stored && stored.id != null) state.seen[stored.id] = true;
  if (stored && stored.seq > state.lastSeq) state.lastSeq = stored.seq;
}

function markFailed(w, cmid, reason) {
  const p = w.state.pending[cmid];
  if (!p) return;
  p.row.classList.add("failed");
  const meta = p.row.querySelector(".meta");
  meta.textContent = (reason || "发送失败") + " ";
  const retry = el("button", { type: "button" }, "重试");
  retry.addEventListener("click", () => {
    p.row.classList.remove("failed");
    meta.textContent = "发送中…";
    postMessage(w, cmid);
  });
  meta.appendChild(retry);
  hideTyping(w.ui);
}

async function postMessage(w, cmid) {
  const { state } = w;
  const p = state.pending[cmid];
  if (!p) return;
  const body = { text: p.text, client_msg_id: cmid };
  if (p.title && p.title !== p.text) body.title = p.title;
  if (state.mode === "bot") showTyping(w.ui, "");
  try {
    const data = await w.api("POST", conversationPath(w, "/messages"), body);
    confirmPending(w, cmid, data && data.message);
    ((data && data.replies) || []).forEach((m) => renderMessage(w, m));
    if (state.mode === "bot") hideTyping(w.ui);
  } catch (e) {
    if (e.code === "reply_pending") { // stored; the reply arrives on the socket or the next catch-up
      confirmPending(w, cmid, e.data && e.data.message);
      return;
    }
    if (e.status && e.status < 500 && e.status !== 408 && e.status !== 429) markFailed(w, cmid, e.message);
    else markFailed(w, cmid, "网络异常，未发送");
  }
}

export function sendMessage(w, text, title) {
  const { state } = w;
  text = (text || "").trim();
  if (!text) return;
  ensureStarted(w).then(() => {
    const cmid = newMessageId();
    const row = renderCustomer(w, title || text, cmid);
    row.classList.add("pending");
    row.querySelector(".meta").textContent = "发送中…";
    state.pending[cmid] = { row, text, title: title || text, timer: null };
    // Buttons (title differs from payload) and bot-mode messages go over HTTP: the
    // response carries the bot's replies. Otherwise prefer the websocket and fall back to
    // HTTP with the same client_msg_id (stored once) if it is not acknowledged in time.
    if (state.mode !== "bot" && !(title && title !== text) &&
        w.live.send({ type: "message", text, client_msg_id: cmid })) {
      state.pending[cmid].timer = setTimeout(() => postMessage(w, cmid), WS_ACK_MS);
      return;
    }
    postMessage(w, cmid);
  }).catch(onlyRequestErrors); // already reported
}

export function sendTyping(w) {
  const { state } = w;
  if (!state.conversationId || state.mode === "bot") return;
  const now = Date.now();
  if (now - state.lastTypingSent < 2500) return;
  state.lastTypingSent = now;
  if (w.live.send({ type: "typing" })) return;
  w.api("POST", conversationPath(w, "/typing")).catch(onlyRequestErrors);
}
