/**
 * The console's live events from /ws/agent (see /openapi.json). While the socket is down the
 * console polls every 5 s, so the queue never goes stale.
 */

import { LiveSocket } from "../shared/socket.js";
import { loadSilence, onSilence, onSilenceResolved } from "./alerts.js";
import { appendToTranscript, openConversation } from "./chat.js";
import { loadStats } from "./dashboard.js";
import { refreshMine, refreshQueue, renderMine, setQueue } from "./inbox.js";
import { alertTitle, beep, toast } from "./notify.js";
import { $, S } from "./state.js";
import { loadTickets } from "./tickets.js";

let live = null;
let peerTypingTimer = null;
let sessionEnded = () => {};

function setConn(state) {
  const c = $("conn");
  c.className = "conn " + state;
  c.querySelector("span").textContent = state === "ok" ? "实时连接" : state === "down" ? "连接中断，自动重连中" : "连接中…";
}

function reloadAll() {
  refreshQueue();
  refreshMine();
  loadSilence();
  if (S.currentId) openConversation(S.currentId);
}

/** Open the socket (after login); `onRevoked(message)` runs when the hub ends the session. */
export function connectLive(onRevoked) {
  sessionEnded = onRevoked;
  if (!live) {
    live = new LiveSocket({
      url: () => (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/agent",
      onOpen() {
        setConn("ok");
        clearInterval(S.pollTimer);
        S.pollTimer = null;
        reloadAll();
      },
      onEvent: handleEvent,
      onClose() {
        if (!S.me) return false;
        setConn("down");
        if (!S.pollTimer) S.pollTimer = setInterval(reloadAll, 5000);
        return true;
      },
    });
  }
  live.start();
}

export function disconnectLive() {
  if (live) live.stop();
  clearInterval(S.pollTimer);
  S.pollTimer = null;
}

/** One frame to the hub over the socket; false when it is down (then use HTTP). */
export function sendFrame(frame) {
  return !!live && live.send(frame);
}

function handleEvent(ev) {
  const cid = ev.conversation_id;
  switch (ev.type) {
    case "error": // the session ended (logout elsewhere, password reset): back to the login form
      if (ev.error && ev.error.code === "session_revoked" && S.me) sessionEnded("登录已失效，请重新登录");
      break;
    case "resync": // the hub's event bus was down: reload what may have been missed
      reloadAll();
      break;
    case "queue":
      setQueue(ev);
      break;
    case "message":
      if (cid === S.currentId) {
        appendToTranscript(ev.message);
        if (ev.message.author === "customer") $("peer-typing").hidden = true;
      } else if (ev.message.author === "customer" && S.mine.some((c) => c.conversation_id === cid)) {
        S.unread[cid] = (S.unread[cid] || 0) + 1;
        if (!document.hasFocus()) alertTitle("新消息");
      }
      S.mine.forEach((c) => { if (c.conversation_id === cid) c.last_message = ev.message; });
      renderMine();
      if (ev.message.author === "customer" || ev.message.author === "agent") loadSilence();
      break;
    case "mode":
      if (cid === S.currentId) openConversation(cid);
      refreshMine();
      break;
    case "typing":
      if (cid === S.currentId && ev.author !== "agent") {
        $("peer-typing").hidden = false;
        clearTimeout(peerTypingTimer);
        peerTypingTimer = setTimeout(() => { $("peer-typing").hidden = true; }, 5000);
      }
      break;
    case "assigned":
      if (S.me && ev.agent_id === S.me.id && cid !== S.justClaimed) {
        // to me, by routing or a colleague's transfer, not by my own claim (supervisors see every assignment)
        beep();
        alertTitle("新会话");
        toast("有新会话分配给您", "ok");
      }
      refreshMine();
      refreshQueue();
      break;
    case "ticket":
      loadTickets();
      break;
    case "silence":
      onSilence(ev);
      break;
    case "silence_resolved":
      onSilenceResolved(ev);
      break;
    case "presence":
      // another tab of this agent switched presence, or a colleague did: keep switch and dashboard true
      if (S.me && ev.agent_id === S.me.id) {
        S.me.presence = ev.presence;
        $("presence").value = ev.presence;
        $("presence-dot").className = "pdot " + ev.presence;
      }
      if (S.view === "stats") loadStats();
      break;
    default:
      break;
  }
}
