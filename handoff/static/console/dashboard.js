/** The supervisor's live dashboard: six figures, agents' presence and load, handoff reasons. */

import { el } from "../shared/dom.js";
import { when } from "../shared/format.js";
import { api } from "./api.js";
import { label } from "./labels.js";
import { agentLoad, kpis, reasonBars } from "./present.js";
import { $ } from "./state.js";

export function loadStats() {
  return api("GET", "/api/supervisor/stats").then(renderStats, (err) => {
    $("stats-updated").textContent = "加载失败：" + err.message;
  });
}

function renderStats(s) {
  $("stats-updated").textContent = "更新于 " + when(new Date()) + " · 每 5 秒刷新";
  const box = $("kpis");
  box.textContent = "";
  kpis(s).forEach(([title, value, note, alert]) => {
    const d = el("div", "kpi" + (alert ? " alert" : ""));
    d.setAttribute("data-role", "kpi");
    d.appendChild(el("div", "k", title));
    d.appendChild(el("div", "v", value));
    if (note) d.appendChild(el("div", "s", note));
    box.appendChild(d);
  });

  const tbody = document.querySelector("#agents-table tbody");
  tbody.textContent = "";
  s.agents.forEach((a) => {
    const tr = el("tr");
    tr.appendChild(el("td", null, a.display_name));
    const td = el("td");
    td.appendChild(el("i", "pdot " + a.presence));
    td.appendChild(document.createTextNode(" " + label("presence", a.presence)));
    tr.appendChild(td);
    const load = agentLoad(a);
    tr.appendChild(el("td", null, load.text));
    const lt = el("td");
    const bar = el("span", "load" + (load.full ? " full" : ""));
    const fill = el("i");
    fill.style.width = load.width + "%";
    bar.appendChild(fill);
    lt.appendChild(bar);
    tr.appendChild(lt);
    tbody.appendChild(tr);
  });

  const chart = $("reasons-chart");
  chart.textContent = "";
  const bars = reasonBars(s.handoffs_by_reason);
  if (!bars.length) chart.appendChild(el("div", "muted", "今日暂无转人工"));
  bars.forEach((b) => {
    const r = el("div", "bar-row");
    r.appendChild(el("span", null, b.label));
    const track = el("div", "bar-track");
    const fill = el("div", "bar-fill");
    fill.style.width = b.width + "%";
    track.appendChild(fill);
    r.appendChild(track);
    r.appendChild(el("b", null, b.count));
    chart.appendChild(r);
  });
}
