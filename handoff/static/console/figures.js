/**
 * The supervisor's quality figures in the 看板 view: a date range, the range's figures against
 * their targets (a missed one is marked), charts by day and by agent (Chart.js 4, its UMD build
 * vendored under /static/vendor with its licence), tables, CSV export and the targets form. What is shown is quality.js (pure).
 */

import { el } from "../shared/dom.js";
import { onlyRequestErrors } from "../shared/http.js";
import { api } from "./api.js";
import { toast } from "./notify.js";
import { agentChart, columns, csvHref, dayChart, figuresPath, isRateTarget, parseTarget, row, statusText, targetText,
  tiles } from "./quality.js";
import { $ } from "./state.js";

const charts = {};
let chartLoading = null;
let loadedOnce = false;
let targets = [];

/** Chart.js's UMD build, loaded on first use (agents never need it); it sets globalThis.Chart. */
function chartLibrary() {
  if (!chartLoading) chartLoading = import("../vendor/chart.umd.min.js").then(() => globalThis.Chart);
  return chartLoading;
}

async function drawChart(id, type, data, yMax) {
  const Chart = await chartLibrary();
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart($(id), {
    type,
    data,
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, spanGaps: false,
      scales: { y: { beginAtZero: true, suggestedMax: yMax, ticks: { callback: (v) => v + "%" } } },
      plugins: { legend: { position: "bottom" } },
    },
  });
}

function renderTiles(report) {
  const box = $("fig-kpis");
  box.textContent = "";
  tiles(report).forEach((t) => {
    const d = el("div", { class: "kpi fig" + (t.met === false ? " missed" : t.met ? " met" : ""),
      "data-role": "figure", "data-key": t.key, "data-met": String(t.met) });
    d.appendChild(el("div", "k", t.label));
    d.appendChild(el("div", "v", t.value));
    const s = el("div", "s", t.target);
    if (t.verdict) s.appendChild(el("b", { class: "verdict", "data-role": "verdict" }, t.verdict));
    d.appendChild(s);
    box.appendChild(d);
  });
}

function renderTable(id, report, blocks, byAgent) {
  const table = $(id);
  const cols = columns(report, byAgent);
  const head = table.querySelector("thead");
  head.textContent = "";
  const hr = el("tr");
  cols.forEach(([, label]) => hr.appendChild(el("th", null, label)));
  head.appendChild(hr);
  const body = table.querySelector("tbody");
  body.textContent = "";
  blocks.forEach((b) => {
    const tr = el("tr");
    row(b, cols).forEach((c) => tr.appendChild(el("td", c.missed ? { class: "miss", title: "未达标" } : null, c.text)));
    body.appendChild(tr);
  });
  if (!blocks.length) {
    const tr = el("tr");
    tr.appendChild(el("td", { colspan: String(cols.length), class: "muted" }, "该时间段没有人工接待"));
    body.appendChild(tr);
  }
}

function render(report) {
  $("fig-from").value = report.from;
  $("fig-to").value = report.to;
  $("fig-csv-day").href = csvHref(report.from, report.to, "day");
  $("fig-csv-agent").href = csvHref(report.from, report.to, "agent");
  $("fig-status").textContent = statusText(report);
  renderTiles(report);
  Promise.all([drawChart("fig-chart-days", "line", dayChart(report), 100),
    drawChart("fig-chart-agents", "bar", agentChart(report), 100)]).catch((err) => {
    $("fig-status").textContent = "图表加载失败：" + err.message;
  });
  renderTable("fig-days", report, report.days, false);
  renderTable("fig-agents", report, report.agents, true);
  targets = report.targets;
  renderTargets();
}

/** Load the figures of the range in the date boxes (empty boxes: the last 7 days). */
export function loadFigures() {
  loadedOnce = true;
  $("fig-status").textContent = "加载中…";
  return api("GET", figuresPath($("fig-from").value, $("fig-to").value)).then(render, (err) => {
    onlyRequestErrors(err);
    $("fig-status").textContent = "加载失败：" + err.message;
  });
}

/** On opening the 看板: the figures once (they change slowly; 查询 reloads them). */
export function showFigures() {
  if (!loadedOnce) loadFigures();
}

function renderTargets() {
  const form = $("fig-targets-list");
  form.textContent = "";
  targets.forEach((t) => {
    const label = el("label", "target");
    label.appendChild(el("span", null, t.label + (isRateTarget(t.key) ? "（%）" : "")));
    const input = el("input", { type: "number", step: "any", name: t.key, "data-key": t.key,
      placeholder: t.nullable ? "不设目标" : "" });
    input.value = targetText(t.value, t.key);
    label.appendChild(input);
    label.appendChild(el("small", "muted", "默认 " + (t.default == null ? "无" : targetText(t.default, t.key))));
    form.appendChild(label);
  });
}

function saveTargets(e) {
  e.preventDefault();
  const values = {};
  let bad = "";
  targets.forEach((t) => {
    const input = $("fig-targets-list").querySelector("[data-key='" + t.key + "']");
    const v = parseTarget(input.value, t, isRateTarget(t.key));
    if (v === undefined) bad = t.label;
    else values[t.key] = v;
  });
  if (bad) {
    $("fig-targets-error").textContent = bad + "：请输入数字";
    return;
  }
  $("fig-targets-error").textContent = "";
  api("PUT", "/api/supervisor/targets", { targets: values }).then(() => {
    toast("目标已保存", "ok");
    loadFigures();
  }, (err) => {
    onlyRequestErrors(err);
    $("fig-targets-error").textContent = err.message;
  });
}

export function initFigures() {
  $("fig-range").addEventListener("submit", (e) => {
    e.preventDefault();
    loadFigures();
  });
  $("fig-targets").addEventListener("submit", saveTargets);
}
