/** Leave-a-message tickets (留言工单): the list, filtered by status, and status changes. */

import { el } from "../shared/dom.js";
import { when } from "../shared/format.js";
import { onlyRequestErrors } from "../shared/http.js";
import { api } from "./api.js";
import { label } from "./labels.js";
import { toast } from "./notify.js";
import { $, S } from "./state.js";

export function loadTickets() {
  const st = $("ticket-filter").value;
  return api("GET", "/api/agent/tickets" + (st ? "?status=" + st : "")).then((b) => {
    S.tickets = b.items;
    renderTickets();
  }).catch(onlyRequestErrors);
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
    const tr = el("tr");
    tr.setAttribute("data-role", "ticket-row");
    tr.appendChild(el("td", null, "#" + t.id));
    tr.appendChild(el("td", null, when(t.created_at)));
    const who = el("td", null, t.contact || "—");
    if (t.customer_id) who.appendChild(el("div", "muted", "客户 " + t.customer_id));
    tr.appendChild(who);
    tr.appendChild(el("td", "text", t.text));
    tr.appendChild(el("td", t.overdue ? "overdue" : "", when(t.due_at) || "—"));
    const td = el("td");
    const sel = el("select");
    sel.setAttribute("aria-label", "工单状态");
    ["open", "pending", "solved"].forEach((s) => {
      const o = el("option", null, label("ticket", s));
      o.value = s;
      sel.appendChild(o);
    });
    sel.value = t.status;
    sel.addEventListener("change", () => {
      api("PATCH", "/api/agent/tickets/" + t.id, { status: sel.value })
        .then((b) => {
          S.tickets = S.tickets.map((x) => (x.id === t.id ? b.ticket : x));
          toast("工单 #" + t.id + " 已更新为" + label("ticket", b.ticket.status), "ok");
          renderTickets();
        })
        .catch((err) => { onlyRequestErrors(err); sel.value = t.status; toast("更新失败：" + err.message, "error"); });
    });
    td.appendChild(sel);
    tr.appendChild(td);
    tbody.appendChild(tr);
  });
}

export function initTickets() {
  $("ticket-filter").addEventListener("change", loadTickets);
}
