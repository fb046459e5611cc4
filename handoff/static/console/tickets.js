/**
 * Leave-a-message tickets (留言工单): the list (status filter, assignee, due time with overdue
 * marked) and a detail pane: the customer's message, the thread (replies, notes, status, assignment
 * and due changes, who and when), replying, notes, assigning, due times (supervisors).
 */

import { el } from "../shared/dom.js";
import { when } from "../shared/format.js";
import { onlyRequestErrors } from "../shared/http.js";
import { api } from "./api.js";
import { label } from "./labels.js";
import { toast } from "./notify.js";
import { $, S, agentName, isSupervisor } from "./state.js";
import { DELIVERY, entryLine, windowNotice } from "./waits.js";

const ticketPath = (id, rest) => "/api/agent/tickets/" + id + (rest || "");

export function loadTickets() {
  const st = $("ticket-filter").value;
  return api("GET", "/api/agent/tickets" + (st ? "?status=" + st : "")).then((b) => {
    S.tickets = b.items;
    renderTickets();
    if (S.ticketId != null && !$("ticket-detail").hidden) openTicket(S.ticketId);
  }).catch(onlyRequestErrors);
}

function assigneeName(id) {
  return id == null ? "未分配" : agentName(id);
}

function statusSelect(t, onChange) {
  const sel = el("select");
  sel.setAttribute("aria-label", "工单状态");
  ["open", "pending", "solved"].forEach((s) => {
    const o = el("option", null, label("ticket", s));
    o.value = s;
    sel.appendChild(o);
  });
  sel.value = t.status;
  sel.addEventListener("change", () => {
    api("PATCH", ticketPath(t.id), { status: sel.value })
      .then((b) => {
        toast("工单 #" + t.id + " 已更新为" + label("ticket", b.ticket.status), "ok");
        onChange(b.ticket);
      })
      .catch((err) => { onlyRequestErrors(err); sel.value = t.status; toast("更新失败：" + err.message, "error"); });
  });
  return sel;
}

function replaceTicket(ticket) {
  S.tickets = S.tickets.map((x) => (x.id === ticket.id ? ticket : x));
  renderTickets();
}

function renderTickets() {
  const tbody = document.querySelector("#tickets-table tbody");
  tbody.textContent = "";
  const st = $("ticket-filter").value;
  const rows = S.tickets.filter((t) => !st || t.status === st);
  $("tickets-empty").hidden = rows.length > 0;
  const open = S.tickets.filter((t) => t.status === "open").length;
  $("badge-tickets").hidden = !open;
  $("badge-tickets").textContent = open;
  rows.forEach((t) => {
    const tr = el("tr", S.ticketId === t.id ? "selected" : "");
    tr.setAttribute("data-role", "ticket-row");
    tr.setAttribute("data-id", t.id);
    tr.appendChild(el("td", null, "#" + t.id));
    tr.appendChild(el("td", null, when(t.created_at)));
    const who = el("td", null, t.contact || "—");
    if (t.customer_id) who.appendChild(el("div", "muted", "客户 " + t.customer_id));
    if (t.channel) who.appendChild(el("div", "muted", label("channel", t.channel)));
    tr.appendChild(who);
    tr.appendChild(el("td", "text", t.text));
    tr.appendChild(el("td", null, assigneeName(t.assignee_id)));
    const due = el("td", t.overdue ? "overdue" : "", when(t.due_at) || "—");
    if (t.overdue) due.appendChild(el("span", "st open", "已逾期")).setAttribute("data-role", "overdue");
    tr.appendChild(due);
    const td = el("td");
    const sel = statusSelect(t, replaceTicket);
    sel.addEventListener("click", (e) => e.stopPropagation());
    td.appendChild(sel);
    tr.appendChild(td);
    tr.addEventListener("click", () => openTicket(t.id));
    tbody.appendChild(tr);
  });
}

export function openTicket(id) {
  S.ticketId = id;
  document.querySelectorAll("#tickets-table tr[data-id]").forEach((r) => {
    r.classList.toggle("selected", Number(r.getAttribute("data-id")) === id);
  });
  return api("GET", ticketPath(id)).then(renderDetail).catch((err) => {
    onlyRequestErrors(err);
    toast("打开工单失败：" + err.message, "error");
  });
}

function after(body) {
  if (body && body.ticket) replaceTicket(body.ticket);
  return openTicket(S.ticketId);
}

function assignBox(t) {
  const box = el("div", "td-row");
  box.appendChild(el("span", "muted", "负责人："));
  if (isSupervisor()) {
    const sel = el("select", { "aria-label": "分配给", "data-role": "ticket-assign" });
    const none = el("option", null, "未分配");
    none.value = "";
    sel.appendChild(none);
    S.agents.forEach((a) => {
      const o = el("option", null, a.display_name);
      o.value = String(a.id);
      sel.appendChild(o);
    });
    sel.value = t.assignee_id == null ? "" : String(t.assignee_id);
    sel.addEventListener("change", () => {
      api("POST", ticketPath(t.id, "/assign"), { agent_id: sel.value ? Number(sel.value) : null })
        .then((b) => { toast("已分配给 " + assigneeName(b.ticket.assignee_id), "ok"); return after(b); })
        .catch((err) => { onlyRequestErrors(err); toast("分配失败：" + err.message, "error"); });
    });
    box.appendChild(sel);
    return box;
  }
  box.appendChild(el("b", null, assigneeName(t.assignee_id)));
  const mine = S.me && t.assignee_id === S.me.id;
  if (t.assignee_id == null || mine) {
    const btn = el("button", "btn small", mine ? "退回" : "领取");
    btn.setAttribute("data-role", "ticket-take");
    btn.addEventListener("click", () => {
      api("POST", ticketPath(t.id, "/assign"), { agent_id: mine ? null : S.me.id })
        .then(after).catch((err) => { onlyRequestErrors(err); toast(err.message, "error"); });
    });
    box.appendChild(btn);
  }
  return box;
}

function dueBox(t) {
  const box = el("div", "td-row");
  box.appendChild(el("span", "muted", "截止："));
  box.appendChild(el("b", t.overdue ? "overdue" : "", when(t.due_at) + (t.overdue ? "（已逾期）" : "")));
  if (!isSupervisor()) return box;
  const input = el("input", { type: "datetime-local", "aria-label": "截止时间", "data-role": "ticket-due" });
  const save = el("button", "btn small", "修改截止时间");
  save.addEventListener("click", () => {
    const ms = new Date(input.value).getTime();
    if (isNaN(ms)) { toast("请选择截止时间", "error"); return; }
    api("PATCH", ticketPath(t.id), { due_at: ms / 1000 })
      .then((b) => { toast("截止时间已更新", "ok"); return after(b); })
      .catch((err) => { onlyRequestErrors(err); toast("修改失败：" + err.message, "error"); });
  });
  box.appendChild(input);
  box.appendChild(save);
  return box;
}

function renderDetail(d) {
  const t = d.ticket;
  const pane = $("ticket-detail");
  pane.hidden = false;
  pane.textContent = "";
  const head = el("div", "td-head");
  head.appendChild(el("h3", null, "工单 #" + t.id));
  head.appendChild(el("span", "st " + t.status, label("ticket", t.status)));
  if (t.outcome === "answered") head.appendChild(el("span", "st solved", "已答复"));
  if (t.outcome === "undelivered") head.appendChild(el("span", "st open", "回复未送达"));
  head.appendChild(statusSelect(t, (ticket) => after({ ticket })));
  pane.appendChild(head);
  pane.appendChild(assignBox(t));
  pane.appendChild(dueBox(t));
  const meta = el("div", "td-row muted", label("channel", t.channel) + " · " + (t.contact || "未留联系方式") +
    (t.customer_id ? " · 客户 " + t.customer_id : "") + " · 提交于 " + when(t.created_at));
  pane.appendChild(meta);
  const windowLine = windowNotice(d.wechat_window, Date.now() / 1000);
  if (windowLine) {
    const w = el("div", "td-window " + windowLine[0], windowLine[1]);
    w.setAttribute("data-role", "wechat-window");
    pane.appendChild(w);
  }
  const thread = el("div", "td-thread");
  thread.setAttribute("data-role", "ticket-thread");
  const first = el("div", "td-entry customer");
  first.appendChild(el("div", "td-who", "客户留言 · " + when(t.created_at)));
  first.appendChild(el("div", "td-text", t.text));
  thread.appendChild(first);
  d.thread.forEach((e) => {
    const [who, text, cls] = entryLine(e, agentName);
    const row = el("div", "td-entry " + cls);
    row.setAttribute("data-role", "ticket-entry");
    row.setAttribute("data-kind", e.kind);
    row.appendChild(el("div", "td-who", who + " · " + when(e.created_at)));
    if (text) row.appendChild(el("div", "td-text", text));
    if (e.kind === "reply") {
      const dl = el("div", "td-delivery", (DELIVERY[e.delivery] || e.delivery) +
        (e.delivery_detail && e.delivery !== "pending" ? "（" + e.delivery_detail + "）" : ""));
      dl.setAttribute("data-role", "delivery");
      row.appendChild(dl);
    }
    thread.appendChild(row);
  });
  pane.appendChild(thread);
  const box = el("textarea", { rows: "3", maxlength: "2000", placeholder: "回复客户或写内部备注…",
    "data-role": "ticket-input" });
  pane.appendChild(box);
  const acts = el("div", "td-acts");
  const note = el("button", "btn", "添加内部备注");
  note.setAttribute("data-role", "ticket-note");
  const send = el("button", "btn primary", "回复客户");
  send.setAttribute("data-role", "ticket-reply");
  send.disabled = t.status === "solved";
  const post = (kind) => {
    const text = box.value.trim();
    if (!text) return;
    api("POST", ticketPath(t.id, kind === "reply" ? "/replies" : "/notes"), { text })
      .then((b) => {
        box.value = "";
        if (kind === "note") toast("备注已添加", "ok");
        else if (b.entry.delivery === "window_closed" || b.entry.delivery === "failed") {
          toast("回复未送达：" + (b.entry.delivery_detail || "微信窗口已关闭"), "error");
        } else toast(b.entry.delivery === "sent" ? "已通过微信发送" : "已回复，客户下次打开网页客服时可见", "ok");
        return after(b);
      })
      .catch((err) => { onlyRequestErrors(err); toast("提交失败：" + err.message, "error"); });
  };
  note.addEventListener("click", () => post("note"));
  send.addEventListener("click", () => post("reply"));
  acts.appendChild(note);
  acts.appendChild(send);
  pane.appendChild(acts);
}

export function initTickets() {
  $("ticket-filter").addEventListener("change", loadTickets);
}
