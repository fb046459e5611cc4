/**
 * Nobody waits on a silent agent: how long each customer of "my chats" has waited for a reply
 * (a live timer), the alerts the hub raises (to the agent after the first limit, to supervisors
 * after the second), and the supervisor's take-back into the queue. Browser notifications (with
 * permission) for new queued chats and alerts.
 */

import { el } from "../shared/dom.js";
import { onlyRequestErrors } from "../shared/http.js";
import { api } from "./api.js";
import { openConversation } from "./chat.js";
import { alertTitle, beep, toast } from "./notify.js";
import { $, S, agentName, isSupervisor } from "./state.js";
import { renderTeams } from "./teams.js";
import { alertText, waitLevel } from "./waits.js";

/** Ask for notification permission: only from a user gesture (the login click). */
export function askNotificationPermission() {
  try {
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
  } catch (e) { /* not supported */ }
}

/** A browser notification when permitted; the console's own alerts work without it. */
export function notify(title, body, tag) {
  try {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const n = new Notification(title, { body, tag, silent: true });
    n.onclick = () => { window.focus(); n.close(); };
  } catch (e) { /* not supported here */ }
}

function customerOf(cid) {
  const c = S.mine.find((x) => x.conversation_id === cid) || S.queue.find((x) => x.conversation_id === cid);
  const w = S.waiting[cid];
  return (c && (c.customer_name || c.customer_id)) || (w && w.customer_name) || "客户";
}

function limitsOf(skill) {
  return (S.teams || []).find((t) => t.skill === (skill || "general"));
}

export function loadSilence() {
  return api("GET", "/api/agent/silence").then((b) => {
    S.waiting = {};
    b.waiting.forEach((w) => { S.waiting[w.conversation_id] = w; });
    S.alerts = b.alerts;
    S.teams = b.teams;
    renderTeams();
    renderAlerts();
    tickWaiting();
  }).catch(onlyRequestErrors);
}

/** A silence event from the hub (only the chat's agent and supervisors get it). */
export function onSilence(ev) {
  const a = ev.alert;
  if (!S.alerts.some((x) => x.id === a.id)) S.alerts.push(a);
  const mine = S.me && a.agent_id === S.me.id;
  if (a.level === "agent" && mine) {
    beep();
    alertTitle("客户等待回复");
    toast(customerOf(a.conversation_id) + " 正在等待您的回复", "error").setAttribute("data-role", "silence-toast");
    notify("客户等待回复", customerOf(a.conversation_id) + " 已等待较长时间，请尽快回复", "silence-" + a.id);
  }
  if (a.level === "supervisor" && isSupervisor()) {
    beep();
    notify("客服长时间未回复", alertText(a, customerOf(a.conversation_id), agentName(a.agent_id), Date.now() / 1000),
      "silence-" + a.id);
  }
  loadSilence();
}

export function onSilenceResolved(ev) {
  S.alerts = S.alerts.filter((a) => a.id !== ev.alert_id);
  loadSilence();
}

function takeBack(cid) {
  return api("POST", "/api/supervisor/conversations/" + encodeURIComponent(cid) + "/take_back", {})
    .then(() => { toast("已收回到队列（保留原排队位置）", "ok"); return loadSilence(); })
    .catch((err) => { onlyRequestErrors(err); toast("收回失败：" + err.message, "error"); });
}

/** The bar over the views: the agent's own late chats; for supervisors the escalated ones. */
export function renderAlerts() {
  const bar = $("silence-bar");
  bar.textContent = "";
  const shown = S.alerts.filter((a) => (isSupervisor() ? a.level === "supervisor" : a.agent_id === (S.me && S.me.id)));
  const seen = {};
  shown.forEach((a) => {
    if (seen[a.conversation_id]) return;
    seen[a.conversation_id] = true;
    const row = el("div", "silence-item");
    row.setAttribute("data-role", "silence-alert");
    row.setAttribute("data-id", a.conversation_id);
    row.setAttribute("data-since", a.since);
    row.setAttribute("data-level", a.level);
    row.appendChild(el("b", "silence-text", ""));
    if (isSupervisor()) {
      const btn = el("button", "btn danger small", "收回到队列");
      btn.setAttribute("data-role", "take-back");
      btn.addEventListener("click", () => takeBack(a.conversation_id));
      row.appendChild(btn);
    } else {
      const go = el("button", "btn small", "去回复");
      go.setAttribute("data-role", "go-reply");
      go.addEventListener("click", () => openConversation(a.conversation_id));
      row.appendChild(go);
    }
    bar.appendChild(row);
  });
  bar.hidden = !bar.childNodes.length;
  tickWaiting();
}

/** Every second: the waiting timers of "my chats" and of the alert bar. */
export function tickWaiting() {
  const now = Date.now() / 1000;
  document.querySelectorAll("#mine-list [data-role=mine-item]").forEach((item) => {
    const cid = item.getAttribute("data-id");
    let tag = item.querySelector(".item-waiting");
    const w = S.waiting[cid];
    if (!w) { if (tag) tag.remove(); return; }
    if (!tag) {
      tag = el("div", "item-waiting");
      tag.setAttribute("data-role", "waiting");
      item.appendChild(tag);
    }
    const lv = waitLevel(w.since, now, limitsOf(w.skill));
    tag.textContent = lv.text;
    tag.className = "item-waiting " + lv.level;
  });
  document.querySelectorAll("#silence-bar [data-role=silence-alert]").forEach((row) => {
    const a = { since: Number(row.getAttribute("data-since")), level: row.getAttribute("data-level") };
    const cid = row.getAttribute("data-id");
    const alert = S.alerts.find((x) => x.conversation_id === cid) || {};
    row.querySelector(".silence-text").textContent = alertText(a, customerOf(cid), agentName(alert.agent_id), now);
  });
}

export function initAlerts() {
  setInterval(tickWaiting, 1000);
  setInterval(() => { if (S.me) loadSilence(); }, 10000);
}
