/** The message list: customer, bot, agent and system messages, quick-reply buttons, unread badge. */

import { el } from "../shared/dom.js";
import { badgeCount, clock, initial } from "../shared/format.js";
import { authorLabel, isJoinNotice } from "./text.js";
import { appendNode, hideTyping, renderSystem } from "./view.js";

export function renderCustomer(w, text, cmid) {
  const row = el("div", { class: "row me", "data-role": "msg-customer" });
  if (cmid) row.setAttribute("data-cmid", cmid);
  const col = el("div", { class: "col" });
  col.appendChild(el("div", { class: "bubble" }, text));
  col.appendChild(el("div", { class: "meta" }, clock()));
  row.appendChild(col);
  appendNode(w.ui, row);
  return row;
}

function clearQuickReplies(w) {
  w.ui.list.querySelectorAll(".qr button").forEach((b) => { b.disabled = true; });
}

function renderQuickReplies(w, buttons) {
  const box = el("div", { class: "qr", "data-role": "quick-replies" });
  buttons.forEach((b) => {
    const btn = el("button", { type: "button" }, b.title || b.payload);
    btn.addEventListener("click", () => {
      clearQuickReplies(w);
      w.actions.send(b.payload || b.title, b.title || b.payload);
    });
    box.appendChild(btn);
  });
  appendNode(w.ui, box);
}

function cssEscape(s) {
  return globalThis.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, "\\$&");
}

/** One message from the hub (REST or socket); repeats (at-least-once delivery) are dropped by id. */
export function renderMessage(w, msg) {
  const { state, ui } = w;
  if (!msg) return;
  if (msg.id != null) {
    if (state.seen[msg.id]) return;
    state.seen[msg.id] = true;
  }
  if (msg.seq != null && msg.seq > state.lastSeq) state.lastSeq = msg.seq;
  const text = msg.author === "customer" && msg.title ? msg.title : msg.text;

  if (msg.author === "customer") {
    if (msg.client_msg_id && state.pending[msg.client_msg_id]) {
      w.actions.confirmPending(msg.client_msg_id, msg);
      return;
    }
    if (msg.client_msg_id && ui.list.querySelector('[data-cmid="' + cssEscape(msg.client_msg_id) + '"]')) return;
    const row = renderCustomer(w, text || "", msg.client_msg_id);
    row.querySelector(".meta").textContent = clock(msg.created_at);
    return;
  }
  hideTyping(ui);
  if (msg.author === "system") {
    if (text) renderSystem(ui, text, isJoinNotice(text) ? "join" : "");
  } else {
    const who = msg.author === "agent" ? "agent" : "bot";
    const name = authorLabel(who, state.agentName);
    const row = el("div", { class: "row " + who, "data-role": "msg-" + who });
    const av = el("div", { class: "av" }, who === "bot" ? "AI" : initial(name, "客"));
    const col = el("div", { class: "col" });
    col.appendChild(el("div", { class: "who" }, name));
    if (text) col.appendChild(el("div", { class: "bubble" }, text));
    col.appendChild(el("div", { class: "meta" }, clock(msg.created_at)));
    row.append(av, col);
    appendNode(ui, row);
  }
  if (msg.buttons && msg.buttons.length) {
    clearQuickReplies(w);
    renderQuickReplies(w, msg.buttons);
  }
  if (!state.open && !state.quiet) {
    state.unread += 1;
    ui.badge.textContent = badgeCount(state.unread);
    ui.badge.hidden = false;
  }
}
