/** The inbox: the queue (waiting chats of the agent's groups) and "my chats", with claims. */

import { el } from "../shared/dom.js";
import { badgeCount, duration, when } from "../shared/format.js";
import { onlyRequestErrors } from "../shared/http.js";
import { api, conversationPath } from "./api.js";
import { notify, tickWaiting } from "./alerts.js";
import { openConversation } from "./chat.js";
import { alertTitle, beep, pruneQueueToasts, queueToastText, stopTitleAlert, toast } from "./notify.js";
import { customerName, tags } from "./present.js";
import { $, S } from "./state.js";

export function tagNodes(c) {
  return tags(c).map(([cls, text]) => el("span", cls, text));
}

/** A queue snapshot (REST or socket): waiting chats in serving order and every agent. */
export function setQueue(snapshot) {
  const items = snapshot.items || [];
  if (snapshot.agents) S.agents = snapshot.agents;
  const ids = items.map((q) => q.conversation_id);
  if (S.knownQueue) {
    const fresh = ids.filter((id) => !S.knownQueue[id]);
    if (fresh.length && S.me && S.me.presence !== "offline") {
      beep();
      alertTitle("新会话");
      toast(queueToastText(fresh.length)).setAttribute("data-queue-ids", fresh.join(" "));
      const first = items.find((q) => q.conversation_id === fresh[0]);
      notify("新客户排队", queueToastText(fresh.length) + (first && first.summary ? "：" + first.summary : ""), "queue");
    }
  }
  S.knownQueue = {};
  ids.forEach((id) => { S.knownQueue[id] = true; });
  S.queue = items;
  S.queueAt = Date.now();
  renderQueue();
}

export function renderQueue() {
  pruneQueueToasts();
  const box = $("queue-list");
  box.textContent = "";
  $("count-queue").textContent = S.queue.length;
  updateChatBadge();
  if (!S.queue.length) {
    box.appendChild(el("div", "inbox-empty", "暂无排队客户"));
    return;
  }
  S.queue.forEach((q) => {
    const id = q.conversation_id;
    const item = el("div", "item" + (S.currentId === id ? " selected" : ""));
    item.setAttribute("data-role", "queue-item");
    item.setAttribute("data-id", id);
    const top = el("div", "item-top");
    top.appendChild(el("span", "item-name", customerName(q)));
    const wait = el("span", "item-wait");
    wait.setAttribute("data-waited", q.waited_seconds || 0);
    top.appendChild(wait);
    item.appendChild(top);
    const tagBox = el("div", "item-tags");
    tagNodes(q).forEach((t) => tagBox.appendChild(t));
    item.appendChild(tagBox);
    if (q.summary) item.appendChild(el("div", "item-summary", q.summary));
    const foot = el("div", "item-foot");
    foot.appendChild(el("span", "spacer"));
    const claim = el("button", "btn primary small", "接入");
    claim.setAttribute("data-role", "claim");
    claim.addEventListener("click", (e) => { e.stopPropagation(); claimConversation(id); });
    foot.appendChild(claim);
    item.appendChild(foot);
    item.addEventListener("click", () => openConversation(id));
    box.appendChild(item);
  });
  tickWaits();
}

function tickWaits() {
  const extra = (Date.now() - S.queueAt) / 1000;
  document.querySelectorAll("#queue-list .item-wait").forEach((w) => {
    const sec = Number(w.getAttribute("data-waited")) + extra;
    w.textContent = "已等待 " + duration(sec);
    w.classList.toggle("long", sec >= 120);
  });
}

export function refreshQueue() {
  return api("GET", "/api/agent/queue").then(setQueue).catch(onlyRequestErrors);
}

export function claimConversation(id) {
  S.justClaimed = id;
  return api("POST", conversationPath(id, "/claim"), {})
    .then(() => {
      S.queue = S.queue.filter((q) => q.conversation_id !== id);
      renderQueue();
      stopTitleAlert();
      toast("已接入会话", "ok");
      switchTab("mine");
      return refreshMine().then(() => openConversation(id));
    })
    .catch((err) => {
      onlyRequestErrors(err);
      if (err.status === 409) {
        toast("已被其他客服接入", "error");
        S.queue = S.queue.filter((q) => q.conversation_id !== id);
        renderQueue();
        if (S.currentId === id) openConversation(id);
      } else {
        toast("接入失败：" + err.message, "error");
      }
    });
}

export function refreshMine() {
  return api("GET", "/api/agent/conversations?scope=mine").then((b) => {
    S.mine = b.conversations.filter((c) => c.mode !== "closed" && c.mode !== "bot");
    renderMine();
  }).catch(onlyRequestErrors);
}

export function renderMine() {
  const box = $("mine-list");
  box.textContent = "";
  $("count-mine").textContent = S.mine.length;
  updateChatBadge();
  if (!S.mine.length) {
    box.appendChild(el("div", "inbox-empty", "当前没有进行中的会话"));
    return;
  }
  S.mine.forEach((c) => {
    const id = c.conversation_id;
    const item = el("div", "item" + (S.currentId === id ? " selected" : ""));
    item.setAttribute("data-role", "mine-item");
    item.setAttribute("data-id", id);
    const top = el("div", "item-top");
    top.appendChild(el("span", "item-name", customerName(c)));
    const last = c.last_message || null; // the latest message event this console saw
    top.appendChild(el("span", "item-wait", when((last && last.created_at) || c.updated_at)));
    item.appendChild(top);
    const tagBox = el("div", "item-tags");
    tagNodes(c).forEach((t) => tagBox.appendChild(t));
    item.appendChild(tagBox);
    const foot = el("div", "item-foot");
    const preview = last ? (last.author === "customer" ? "" : "我：") + (last.title || last.text || "") : (c.summary || "");
    const p = el("div", "item-summary", preview);
    p.style.flex = "1";
    foot.appendChild(p);
    const n = S.unread[id] || 0;
    if (n) {
      const u = el("span", "unread", badgeCount(n));
      u.setAttribute("data-role", "unread");
      foot.appendChild(u);
    }
    item.appendChild(foot);
    item.addEventListener("click", () => openConversation(id));
    box.appendChild(item);
  });
  tickWaiting();
}

export function updateChatBadge() {
  let total = 0;
  Object.keys(S.unread).forEach((k) => { total += S.unread[k]; });
  const b = $("badge-chats");
  const n = total + S.queue.length;
  b.hidden = !n;
  b.textContent = badgeCount(n);
}

export function switchTab(tab) {
  S.tab = tab;
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.tab === tab));
  $("queue-list").hidden = tab !== "queue";
  $("mine-list").hidden = tab !== "mine";
}

export function initInbox() {
  document.querySelectorAll(".tab").forEach((t) => {
    t.addEventListener("click", () => switchTab(t.dataset.tab));
  });
  setInterval(tickWaits, 1000);
  switchTab("queue");
}
