/**
 * 在线客服 widget, started by the one-tag loader (/widget.js) with the tag's settings:
 *   start({hub: "https://HUB", identity: "SIGNED", title: "在线客服"})
 *
 * Module map: view.js (DOM in a shadow root), messages.js (the list), cards.js (rating and
 * message forms), conversation.js (hub API, socket, sending), text.js (wording), storage.js.
 */

import { apiFor, ensureStarted, confirmPending, liveSocket, newState, persist, sendMessage, sendTyping }
  from "./conversation.js";
import { onlyRequestErrors } from "../shared/http.js";
import { conversationStore } from "./storage.js";
import { DEFAULT_TITLE } from "./text.js";
import { buildView, scrollToEnd } from "./view.js";

let started = false;

export function start(options = {}) {
  if (started || window.__kefuWidget) return;
  started = true;
  const hub = String(options.hub || location.origin).replace(/\/+$/, "");
  const config = { hub, identity: options.identity || "", title: options.title || DEFAULT_TITLE };
  const w = { config, state: newState(), ui: buildView(config.title), store: conversationStore(hub) };
  w.api = apiFor(w);
  w.live = liveSocket(w);
  w.actions = {
    send: (text, title) => sendMessage(w, text, title),
    confirmPending: (cmid, stored) => confirmPending(w, cmid, stored),
    persist: () => persist(w),
  };
  const { ui, state } = w;

  function openPanel() {
    state.open = true;
    ui.panel.classList.add("open");
    ui.launcher.setAttribute("aria-label", "收起在线客服");
    state.unread = 0;
    ui.badge.hidden = true;
    ensureStarted(w).catch(onlyRequestErrors);
    setTimeout(() => { ui.input.focus(); scrollToEnd(ui); }, 50);
  }

  function closePanel() {
    state.open = false;
    ui.panel.classList.remove("open");
    ui.launcher.setAttribute("aria-label", "打开在线客服");
  }

  function autoGrow() {
    ui.input.style.height = "40px";
    ui.input.style.height = Math.min(110, ui.input.scrollHeight + 2) + "px";
  }

  ui.launcher.addEventListener("click", () => (state.open ? closePanel() : openPanel()));
  ui.panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { closePanel(); ui.launcher.focus(); }
  });
  ui.closeBtn.addEventListener("click", closePanel);
  ui.sendBtn.addEventListener("click", () => {
    const v = ui.input.value;
    ui.input.value = "";
    autoGrow();
    sendMessage(w, v);
    ui.input.focus();
  });
  ui.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      ui.sendBtn.click();
    }
  });
  ui.input.addEventListener("input", () => { autoGrow(); sendTyping(w); });

  function mount() {
    document.body.appendChild(ui.host);
    // A stored conversation is resumed at once (history + live updates after a reload).
    const saved = w.store.load();
    if (saved && saved.conversation_id && (saved.identity || "") === config.identity) {
      ensureStarted(w).catch(onlyRequestErrors);
    }
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  window.__kefuWidget = {
    open: openPanel,
    close: closePanel,
    send: (text) => sendMessage(w, text),
    state: () => ({ conversation_id: state.conversationId, mode: state.mode, ws_open: w.live.isOpen }),
  };
}
