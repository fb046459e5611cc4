/**
 * The 历史 view: search past conversations, read one read-only, score it (supervisors: 质检),
 * per-agent 质检 averages; and the chat sidebar's list of the customer's earlier conversations
 * and tickets. What is shown comes from history_view.js (pure); text goes in as text only.
 */

import { el } from "../shared/dom.js";
import { initial, when } from "../shared/format.js";
import { onlyRequestErrors } from "../shared/http.js";
import { api } from "./api.js";
import { LABELS, label } from "./labels.js";
import { RUBRIC, historyRow, linkNote, qaRows, scoreBody, scoreMean, searchQuery, transcriptTimeline }
  from "./history_view.js";
import { toast } from "./notify.js";
import { $, S, agentName, isSupervisor } from "./state.js";

const H = { cursor: null, items: [], current: null, searched: false, show: () => {} };

function formValues() {
  const out = {};
  new FormData($("hist-form")).forEach((v, k) => { out[k] = v; });
  return out;
}

/** Empty dates: the hub searches its last 30 days (in the shop's time zone) and says which. */
function clearDates() {
  $("hist-from").value = "";
  $("hist-to").value = "";
}

function fillAgents() {
  const sel = $("hist-agent");
  sel.hidden = !isSupervisor();
  if (!isSupervisor() || sel.options.length > 1) return Promise.resolve();
  return api("GET", "/api/agent/agents").then((b) => {
    b.agents.forEach((a) => {
      const o = el("option", null, a.display_name);
      o.value = a.id;
      sel.appendChild(o);
    });
  }, onlyRequestErrors);
}

/** Called when the view is shown: the first time, the last 30 days are listed. */
export function showHistory() {
  $("hist-scope").textContent = isSupervisor() ? "主管可查询全部会话" : "仅显示您接待过的会话";
  fillAgents();
  if (isSupervisor()) loadQaBoard();
  if (!H.searched) runSearch(false);
}

function runSearch(more) {
  const values = formValues();
  $("hist-error").textContent = "";
  $("hist-submit").disabled = true;
  H.searched = true;
  return api("GET", "/api/agent/history?" + searchQuery(values, more ? H.cursor : null)).then((b) => {
    if (!$("hist-from").value) $("hist-from").value = b.from;
    if (!$("hist-to").value) $("hist-to").value = b.to;
    H.items = more ? H.items.concat(b.items) : b.items;
    H.cursor = b.next_cursor;
    renderResults();
    if (isSupervisor() && !more) loadQaBoard();
  }, (err) => {
    onlyRequestErrors(err);
    $("hist-error").textContent = err.message;
  }).finally(() => { $("hist-submit").disabled = false; });
}

function renderResults() {
  const box = $("hist-results");
  box.textContent = "";
  if (!H.items.length) box.appendChild(el("div", "inbox-empty", "没有符合条件的会话"));
  H.items.forEach((item) => {
    const row = historyRow(item);
    const node = el("div", { class: "item" + (H.current && H.current.conversation_id === item.conversation_id
      ? " selected" : ""), "data-role": "history-item", "data-id": item.conversation_id });
    const top = el("div", "item-top");
    top.appendChild(el("span", "item-name", row.title));
    node.appendChild(top);
    node.appendChild(el("div", "muted", row.meta));
    if (row.snippet) node.appendChild(el("div", "item-summary", row.snippet));
    const tags = el("div", "item-tags");
    row.tags.forEach(([cls, text]) => tags.appendChild(el("span", cls, text)));
    node.appendChild(tags);
    node.addEventListener("click", () => openTranscript(item.conversation_id));
    box.appendChild(node);
  });
  $("hist-more").hidden = !H.cursor;
}

/** Open one past conversation (from the results, or from a live chat's sidebar). */
export function openTranscript(id) {
  return api("GET", "/api/agent/history/" + encodeURIComponent(id)).then((t) => {
    H.current = t;
    renderTranscript(t);
    renderResults();
  }, (err) => {
    onlyRequestErrors(err);
    toast("打开历史会话失败：" + err.message, "error");
  });
}

function messageNode(m, t) {
  if (m.author === "system" && !m.internal) {
    const s = el("div", { class: "sysline", "data-role": "hist-system" });
    s.appendChild(el("span", null, m.text));
    return s;
  }
  const kind = m.internal ? "note" : m.author;
  const row = el("div", { class: "m " + kind, "data-role": "hist-" + kind });
  const name = agentName(m.agent_id);
  row.appendChild(el("div", "av", kind === "customer" ? "客" : kind === "bot" ? "AI" : kind === "note" ? "注"
    : initial(name)));
  const body = el("div", "body");
  const who = el("div", "who", kind === "customer" ? (t.customer_name || "客户") : kind === "bot" ? "机器人"
    : kind === "note" ? "内部备注 · " + name + "（客户不可见）" : name);
  who.appendChild(el("time", null, when(m.created_at)));
  body.appendChild(who);
  body.appendChild(el("div", "txt", m.author === "customer" && m.title ? m.title : m.text));
  if (m.buttons && m.buttons.length) {
    const btns = el("div", "btns");
    m.buttons.forEach((b) => btns.appendChild(el("span", null, b.title || b.payload)));
    body.appendChild(btns);
  }
  row.appendChild(body);
  return row;
}

function renderTranscript(t) {
  $("hist-empty").hidden = true;
  $("hist-inner").hidden = false;
  $("hist-name").textContent = historyRow({ ...t, agents: [], reasons: [] }).title;
  const tags = $("hist-tags");
  tags.textContent = "";
  tags.appendChild(el("span", "tag mode", label("mode", t.mode)));
  tags.appendChild(el("span", "tag channel", label("channel", t.channel)));
  const box = $("hist-transcript");
  box.textContent = "";
  transcriptTimeline(t).forEach((x) => {
    if (x.kind === "event") {
      const d = el("div", { class: "divider", "data-role": "hist-event" }, x.text + " · " + when(x.at));
      box.appendChild(d);
    } else {
      box.appendChild(messageNode(x.message, t));
    }
  });
  renderInfo(t);
  renderScoreForm(t);
}

function renderInfo(t) {
  const side = $("hist-info");
  side.textContent = "";
  side.appendChild(el("h3", null, "会话信息"));
  const kv = el("dl", "kv");
  const row = (k, v) => {
    if (v == null || v === "") return;
    kv.appendChild(el("dt", null, k));
    kv.appendChild(el("dd", null, v));
  };
  row("客户编号", t.customer_id);
  row("openid", t.openid);
  row("开始时间", when(t.created_at));
  row("订单号", (t.order_numbers || []).join("、"));
  row("手机尾号", (t.phone_tails || []).join("、"));
  row("转人工", (t.handoffs || []).map((h) => label("reason", h.reason)).join("、"));
  row("满意度", (t.ratings || []).map((r) => r.score + "★" + (r.comment ? "「" + r.comment + "」" : "")).join("；"));
  row("会话编号", t.conversation_id);
  side.appendChild(kv);
  if ((t.tickets || []).length) {
    side.appendChild(el("h3", null, "相关工单"));
    t.tickets.forEach((tk) => side.appendChild(ticketNode(tk)));
  }
  const others = (t.qa || []).filter((s) => !S.me || !s.supervisor || s.supervisor.id !== S.me.id || !isSupervisor());
  if (others.length) {
    side.appendChild(el("h3", null, isSupervisor() ? "其他主管的质检" : "我的质检结果"));
    others.forEach((s) => {
      const card = el("div", { class: "order", "data-role": "qa-score" });
      card.appendChild(el("div", "order-top", (s.supervisor ? s.supervisor.display_name : "") + " · 综合 " + scoreMean(s)));
      card.appendChild(el("div", "order-meta", RUBRIC.map(([k, name]) => name + " " + s[k]).join(" · ")));
      if (s.comment) card.appendChild(el("div", null, s.comment));
      side.appendChild(card);
    });
  }
}

function ticketNode(tk) {
  const card = el("div", { class: "order", "data-role": "ticket" });
  const top = el("div", "order-top");
  top.appendChild(el("span", "order-id", "工单 #" + tk.id));
  top.appendChild(el("span", "st " + tk.status, label("ticket", tk.status)));
  card.appendChild(top);
  card.appendChild(el("div", null, tk.text));
  card.appendChild(el("div", "order-meta", when(tk.created_at) + (tk.overdue ? " · 已超时" : "")));
  return card;
}

function renderScoreForm(t) {
  const form = $("qa-form");
  const note = $("qa-note");
  note.textContent = "";
  if (!isSupervisor()) { form.hidden = true; return; }
  if (!t.scorable) {
    form.hidden = true;
    note.textContent = t.mode === "queued" || t.mode === "agent" ? "人工服务尚未结束，结束后可质检" : "该会话没有人工接待，无需质检";
    return;
  }
  form.hidden = false;
  const mine = (t.qa || []).find((s) => s.supervisor && S.me && s.supervisor.id === S.me.id);
  const items = $("qa-items");
  items.textContent = "";
  RUBRIC.forEach(([k, name]) => {
    const line = el("div", "qa-line");
    line.appendChild(el("span", null, name));
    const stars = el("div", { class: "qa-stars", role: "radiogroup", "aria-label": name, "data-item": k });
    for (let n = 1; n <= 5; n++) {
      const b = el("button", { type: "button", class: "qa-star", "data-value": String(n), "aria-label": name + " " + n + " 分",
        role: "radio" }, String(n));
      b.addEventListener("click", () => setStars(stars, n));
      stars.appendChild(b);
    }
    line.appendChild(stars);
    items.appendChild(line);
    setStars(stars, mine ? mine[k] : 0);
  });
  $("qa-comment").value = mine && mine.comment ? mine.comment : "";
  $("qa-save").textContent = mine ? "更新评分" : "保存评分";
  $("qa-error").textContent = "";
  const whom = mine && mine.agent ? mine.agent.display_name : ((t.handoffs || []).filter((h) => h.agent).map((h) => h.agent.display_name).pop() || "");
  if (whom) note.textContent = "质检对象：" + whom + (mine ? " · 已评 " + scoreMean(mine) + " 分" : "");
}

function setStars(group, n) {
  group.dataset.value = String(n);
  group.querySelectorAll(".qa-star").forEach((b) => {
    const on = Number(b.dataset.value) <= n;
    b.classList.toggle("on", on);
    b.setAttribute("aria-checked", String(Number(b.dataset.value) === n));
  });
}

function saveScore(e) {
  e.preventDefault();
  const t = H.current;
  if (!t) return;
  const values = { comment: $("qa-comment").value };
  document.querySelectorAll("#qa-items .qa-stars").forEach((g) => { values[g.dataset.item] = g.dataset.value; });
  const { body, problem } = scoreBody(values);
  if (!body) { $("qa-error").textContent = problem; return; }
  $("qa-save").disabled = true;
  api("PUT", "/api/supervisor/qa/scores/" + encodeURIComponent(t.conversation_id), body).then((s) => {
    toast("质检评分已保存：" + s.agent.display_name + " 综合 " + scoreMean(s) + " 分", "ok");
    loadQaBoard();
    return openTranscript(t.conversation_id).then(() => runSearchKeepingPlace());
  }, (err) => {
    onlyRequestErrors(err);
    $("qa-error").textContent = err.message;
  }).finally(() => { $("qa-save").disabled = false; });
}

function runSearchKeepingPlace() {
  const id = H.current && H.current.conversation_id;
  const hit = H.items.findIndex((i) => i.conversation_id === id);
  if (hit < 0) return Promise.resolve();
  return api("GET", "/api/agent/history?" + searchQuery(formValues())).then((b) => {
    const fresh = b.items.find((i) => i.conversation_id === id);
    if (fresh) { H.items[hit] = fresh; renderResults(); }
  }, onlyRequestErrors);
}

/** 质检 averages per agent for the form's dates. */
export function loadQaBoard() {
  if (!isSupervisor()) return Promise.resolve();
  const v = formValues();
  const q = searchQuery({ from: v.from, to: v.to });
  return api("GET", "/api/supervisor/qa/agents" + (q ? "?" + q : "")).then((data) => {
    $("qa-range").textContent = data.from + " 至 " + data.to;
    const tbody = document.querySelector("#qa-table tbody");
    tbody.textContent = "";
    const rows = qaRows(data);
    $("qa-empty").hidden = rows.length > 0;
    rows.forEach((r) => {
      const tr = el("tr", { "data-role": "qa-agent", "data-agent": String(r.agentId) });
      tr.appendChild(el("td", null, r.name));
      tr.appendChild(el("td", null, r.count));
      r.cells.forEach((c) => tr.appendChild(el("td", null, c)));
      tr.appendChild(el("td", "qa-overall", r.overall));
      tbody.appendChild(tr);
    });
  }, (err) => { onlyRequestErrors(err); $("qa-range").textContent = "加载失败：" + err.message; });
}

/** The chat sidebar's part: the customer's earlier conversations (click: the transcript) and tickets. */
export function renderCustomerHistory(side, conv) {
  const mine = conv.mode === "agent" && S.me && conv.assigned_agent_id === S.me.id;
  const box = el("div", { "data-role": "customer-history" });
  box.appendChild(el("h3", null, "历史会话"));
  side.appendChild(box);
  if (!mine && !isSupervisor()) {
    box.appendChild(el("div", "muted", "接入后可查看该客户的历史会话"));
    return Promise.resolve();
  }
  const id = conv.conversation_id;
  return api("GET", "/api/agent/conversations/" + encodeURIComponent(id) + "/customer_history").then((h) => {
    if (!S.current || S.current.conversation_id !== id) return;
    const note = linkNote(h.link);
    if (note) box.appendChild(el("div", "muted", note));
    if (!h.conversations.length) box.appendChild(el("div", "muted", h.link ? "暂无历史会话" : "访客未登录，无法关联历史会话"));
    h.conversations.forEach((c) => {
      const row = historyRow(c);
      const card = el("div", { class: "order hist-prev", "data-role": "previous-conversation", "data-id": c.conversation_id,
        tabindex: "0" });
      const top = el("div", "order-top");
      top.appendChild(el("span", null, (c.reasons || []).map((r) => label("reason", r)).join("、") || "机器人接待"));
      top.appendChild(el("span", "order-status", c.rating != null ? c.rating + "★" : label("channel", c.channel)));
      card.appendChild(top);
      if (row.snippet) card.appendChild(el("div", "item-summary", row.snippet));
      card.appendChild(el("div", "order-meta", row.meta));
      const open = () => { H.show("history"); openTranscript(c.conversation_id); };
      card.addEventListener("click", open);
      card.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
      box.appendChild(card);
    });
    if (h.tickets.length) {
      box.appendChild(el("h3", null, "工单"));
      h.tickets.forEach((tk) => box.appendChild(ticketNode(tk)));
    }
  }, (err) => {
    onlyRequestErrors(err);
    box.appendChild(el("div", "muted", "历史会话加载失败：" + err.message));
  });
}

/** ``show(view)``: how the sidebar switches to this view (main.js owns the views). */
export function initHistory(show) {
  H.show = show;
  clearDates();
  const reasons = $("hist-reason");
  Object.keys(LABELS.reason).forEach((r) => {
    const o = el("option", null, label("reason", r));
    o.value = r;
    reasons.appendChild(o);
  });
  $("hist-form").addEventListener("submit", (e) => { e.preventDefault(); H.cursor = null; runSearch(false); });
  $("hist-form").addEventListener("reset", () => setTimeout(() => { clearDates(); H.cursor = null; runSearch(false); }, 0));
  $("hist-more").addEventListener("click", () => runSearch(true));
  $("qa-form").addEventListener("submit", saveScore);
}
