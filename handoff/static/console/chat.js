/** The open chat: header and actions, transcript with notes, customer panel, composer. */

import { el } from "../shared/dom.js";
import { initial, when } from "../shared/format.js";
import { onlyRequestErrors } from "../shared/http.js";
import { api, conversationPath } from "./api.js";
import { refreshSuggestions } from "./assist.js";
import { openCanned } from "./canned.js";
import { renderCustomerHistory } from "./history.js";
import { claimConversation, refreshMine, renderMine, renderQueue, tagNodes } from "./inbox.js";
import { TRANSFER_SKILLS, label } from "./labels.js";
import { sendFrame } from "./live.js";
import { toast } from "./notify.js";
import { customerName, orderCard, transcriptItems } from "./present.js";
import { $, S, agentName, isMine } from "./state.js";

export function openConversation(id) {
  S.currentId = id;
  delete S.unread[id];
  renderQueue();
  renderMine();
  return api("GET", conversationPath(id)).then((conv) => {
    if (S.currentId !== id) return;
    S.current = conv;
    renderConversation();
  }, (err) => {
    onlyRequestErrors(err);
    toast("打开会话失败：" + err.message, "error");
  });
}

export function renderConversation() {
  const c = S.current;
  $("chat-empty").hidden = true;
  $("chat-inner").hidden = false;
  const cust = c.customer || null;
  $("chat-name").textContent = customerName(c);
  const tagBox = $("chat-tags");
  tagBox.textContent = "";
  tagBox.appendChild(el("span", "tag mode", label("mode", c.mode)));
  tagNodes({ ...c, vip_level: (cust && cust.vip_level) || c.vip_level }).forEach((t) => tagBox.appendChild(t));

  const mine = isMine(c);
  $("btn-claim").hidden = c.mode !== "queued";
  $("btn-transfer").hidden = !mine;
  $("btn-return").hidden = !mine;
  $("btn-close").hidden = !mine;
  $("composer").classList.toggle("disabled", !mine);
  $("composer-input").disabled = !mine;
  $("btn-send").disabled = !mine;
  $("composer-input").placeholder = mine ? (S.composeMode === "note" ? "写一条内部备注（客户看不到）…" : "输入回复内容…")
    : (c.mode === "queued" ? "接入后即可回复" : c.mode === "bot" || c.mode === "closed" ? "人工服务已结束，会话已交回机器人"
      : "该会话由其他客服处理");
  $("peer-typing").hidden = true;

  renderTranscript();
  renderSide();
  refreshSuggestions();
}

function renderTranscript() {
  const box = $("transcript");
  box.textContent = "";
  const reason = S.current.reason;
  let handedOff = false;
  transcriptItems(S.current).forEach((m) => {
    if (!handedOff && reason && (m.author === "agent" || m.author === "system")) {
      // where the bot part ends and the human part begins
      const d = el("div", "divider", "转人工 · " + label("reason", reason));
      d.setAttribute("data-role", "handoff-divider");
      box.appendChild(d);
      handedOff = true;
    }
    box.appendChild(messageNode(m));
  });
  box.scrollTop = box.scrollHeight;
}

function messageNode(m) {
  if (m.author === "system" && !m.internal) {
    const s = el("div", "sysline");
    s.setAttribute("data-role", "msg-system");
    s.appendChild(el("span", null, m.text));
    return s;
  }
  const kind = m.internal ? "note" : m.author;
  const row = el("div", "m " + kind);
  row.setAttribute("data-role", "msg-" + kind);
  row.setAttribute("data-id", m.id);
  const av = el("div", "av", kind === "customer" ? "客" : kind === "bot" ? "AI" : kind === "note" ? "注"
    : initial(agentName(m.agent_id)));
  const body = el("div", "body");
  const who = el("div", "who", kind === "customer" ? ((S.current.customer && S.current.customer.name) || "客户")
    : kind === "bot" ? "机器人"
      : kind === "note" ? (m.author === "system" ? "系统提示（客户不可见）" : "内部备注 · " + agentName(m.agent_id) + "（客户不可见）")
        : agentName(m.agent_id));
  who.appendChild(el("time", null, when(m.created_at)));
  body.appendChild(who);
  const text = m.author === "customer" && m.title ? m.title : m.text;
  body.appendChild(el("div", "txt", text));
  if (m.buttons && m.buttons.length) {
    const btns = el("div", "btns");
    m.buttons.forEach((b) => btns.appendChild(el("span", null, b.title || b.payload)));
    body.appendChild(btns);
  }
  row.append(av, body);
  return row;
}

/** A message or note of the open chat, from an event or this agent's own send; repeats dropped. */
export function appendToTranscript(m) {
  if (!S.current) return;
  const list = m.internal ? (S.current.notes || (S.current.notes = [])) : (S.current.messages || (S.current.messages = []));
  if ((S.current.messages || []).concat(S.current.notes || []).some((x) => x.id === m.id)) return;
  list.push(m);
  renderTranscript();
  if (m.author === "customer" && !m.internal) refreshSuggestions();
}

function renderSide() {
  const c = S.current, side = $("side");
  side.textContent = "";
  const cust = c.customer;
  side.appendChild(el("h3", null, "客户信息"));
  const head = el("div", "cust");
  head.appendChild(el("div", "big-av", ((cust && cust.name) || "访").slice(0, 1)));
  const nm = el("div");
  nm.appendChild(el("div", "cust-name", (cust && cust.name) || "未登录访客"));
  if (cust && cust.vip_level) nm.appendChild(el("span", "tag vip", "VIP" + cust.vip_level));
  head.appendChild(nm);
  side.appendChild(head);
  if (c.recent_complaint_at) {
    side.appendChild(el("div", { class: "complaint-note", "data-role": "recent-complaint" },
      "近期投诉：该客户 " + when(c.recent_complaint_at) + " 曾投诉（7 天内），请优先安抚"));
  }
  let kv = el("dl", "kv");
  function row(k, v) {
    if (v == null || v === "") return null;
    kv.appendChild(el("dt", null, k));
    const dd = el("dd", null, v);
    kv.appendChild(dd);
    return dd;
  }
  if (cust) {
    row("客户编号", cust.id);
    const phone = row("手机号", cust.phone_masked);
    if (phone) phone.setAttribute("data-role", "phone-masked");
    row("会员等级", cust.vip_level ? "VIP" + cust.vip_level : "普通会员");
  } else {
    row("身份", "未验证（网站访客）");
  }
  row("渠道", label("channel", c.channel));
  row("会话编号", c.conversation_id);
  side.appendChild(kv);

  const h = c.handoff;
  if (h) {
    side.appendChild(el("h3", null, "转人工信息"));
    kv = el("dl", "kv");
    row("原因", label("reason", h.reason));
    row("优先级", label("priority", h.priority));
    row("技能组", label("skill", h.skill));
    row("情绪", label("emotion", h.emotion));
    side.appendChild(kv);
    if (h.summary) {
      const sb = el("div", "summary-box", h.summary);
      sb.style.marginTop = "8px";
      side.appendChild(sb);
    }
  }

  renderCustomerHistory(side, c);  // earlier conversations and tickets, filled in when they arrive

  side.appendChild(el("h3", null, "最近订单"));
  const orders = c.orders || [];
  if (!orders.length) side.appendChild(el("div", "muted", cust ? "暂无订单" : "访客未登录，无法查看订单"));
  orders.forEach((o) => {
    const view = orderCard(o);
    const card = el("div", "order");
    card.setAttribute("data-role", "order");
    const top = el("div", "order-top");
    top.appendChild(el("span", "order-id", view.id));
    top.appendChild(el("span", "order-status", view.status));
    card.appendChild(top);
    if (view.items) card.appendChild(el("div", null, view.items));
    if (view.meta) card.appendChild(el("div", "order-meta", view.meta));
    side.appendChild(card);
  });
}

/* ---------- composer ---------- */

function setComposeMode(mode) {
  S.composeMode = mode;
  document.querySelectorAll(".ctab").forEach((b) => b.classList.toggle("active", b.dataset.mode === mode));
  $("composer").classList.toggle("note", mode === "note");
  $("btn-send").textContent = mode === "note" ? "添加备注" : "发送";
  if (S.current) renderConversation();
  $("composer-input").focus();
}

function sendReply() {
  const input = $("composer-input");
  const text = input.value.trim();
  if (!text || !S.current) return;
  const id = S.current.conversation_id;
  const internal = S.composeMode === "note";
  $("btn-send").disabled = true;
  $("composer-error").textContent = "";
  api("POST", conversationPath(id, "/messages"), { text, internal })
    .then((body) => {
      input.value = "";
      if (S.currentId === id) appendToTranscript(body.message);
    })
    .catch((err) => { onlyRequestErrors(err); $("composer-error").textContent = "发送失败：" + err.message; })
    .finally(() => { $("btn-send").disabled = !(S.current && isMine(S.current)); input.focus(); });
}

function sendAgentTyping() {
  if (!S.current || S.composeMode === "note") return;
  const now = Date.now();
  if (now - S.lastTypingSent < 2500) return;
  S.lastTypingSent = now;
  const id = S.current.conversation_id;
  if (sendFrame({ type: "typing", conversation_id: id })) return;
  api("POST", conversationPath(id, "/typing"), {}).catch(onlyRequestErrors);
}

/* ---------- actions ---------- */

/** After this agent let a chat go: out of "mine", and the chat reloaded read-only. */
function afterLeave(id) {
  S.mine = S.mine.filter((c) => c.conversation_id !== id);
  delete S.unread[id];
  renderMine();
  openConversation(id);
  refreshMine();
}

function finish(action, done, failed) {
  if (!S.current) return;
  const id = S.current.conversation_id;
  api("POST", conversationPath(id, action), {})
    .then(() => { toast(done, "ok"); afterLeave(id); })
    .catch((err) => { onlyRequestErrors(err); toast(failed + err.message, "error"); });
}

function openTransfer() {
  const skills = $("transfer-skill"), agents = $("transfer-agent");
  skills.textContent = "";
  TRANSFER_SKILLS.forEach((s) => {
    const o = el("option", null, label("skill", s) + "组");
    o.value = s;
    skills.appendChild(o);
  });
  agents.textContent = "";
  $("transfer-error").textContent = "";
  api("GET", "/api/agent/agents").then((b) => b.agents, (err) => { onlyRequestErrors(err); return []; }).then((list) => {
    list.filter((a) => !S.me || a.id !== S.me.id).forEach((a) => {
      const o = el("option", null, (a.display_name || a.username) + "（" + label("presence", a.presence) + "）");
      o.value = a.id;
      agents.appendChild(o);
    });
    if (!agents.options.length) agents.appendChild(el("option", null, "暂无其他客服"));
  });
  $("transfer-dialog").showModal();
}

function submitTransfer(e) {
  const dlg = $("transfer-dialog");
  if (e.submitter && e.submitter.value !== "ok") return;
  e.preventDefault();
  if (!S.current) { dlg.close(); return; }
  const type = document.querySelector('input[name="ttype"]:checked').value;
  const body = type === "agent" ? { agent_id: Number($("transfer-agent").value) } : { skill: $("transfer-skill").value };
  if (type === "agent" && !body.agent_id) { $("transfer-error").textContent = "请选择客服"; return; }
  const id = S.current.conversation_id;
  api("POST", conversationPath(id, "/transfer"), body)
    .then(() => { dlg.close(); toast("已转接", "ok"); afterLeave(id); })
    .catch((err) => { onlyRequestErrors(err); $("transfer-error").textContent = err.message; });
}

export function initChat() {
  document.querySelectorAll(".ctab").forEach((b) => {
    b.addEventListener("click", () => setComposeMode(b.dataset.mode));
  });
  $("btn-send").addEventListener("click", sendReply);
  $("composer-input").addEventListener("keydown", (e) => {
    if (!$("canned-pop").hidden) return;
    if ((e.ctrlKey || e.metaKey) && (e.key === "k" || e.key === "K")) {
      e.preventDefault();
      openCanned("", false);
      return;
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendReply();
    }
  });
  $("composer-input").addEventListener("input", (e) => {
    if (e.target.value === "/") { openCanned("", true); return; }
    sendAgentTyping();
  });
  $("btn-claim").addEventListener("click", () => { if (S.current) claimConversation(S.current.conversation_id); });
  $("btn-close").addEventListener("click", () => finish("/close", "会话已结束，已邀请客户评价", "结束失败："));
  $("btn-return").addEventListener("click", () => finish("/return_to_bot", "已转回机器人", "操作失败："));
  $("btn-transfer").addEventListener("click", openTransfer);
  $("transfer-form").addEventListener("submit", submitTransfer);
}
