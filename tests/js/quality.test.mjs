import assert from "node:assert/strict";
import { test } from "node:test";

import { tags } from "../../handoff/static/console/present.js";
import { agentChart, columns, csvHref, dayChart, figuresPath, formatTarget, formatValue, parseTarget, row,
  statusText, targetText, tiles } from "../../handoff/static/console/quality.js";
import { ratingBody } from "../../handoff/static/widget/text.js";

const FIGURES = [
  { key: "first_response_rate", label: "首次响应达标率", unit: "rate", target: "first_response_rate", at_least: true },
  { key: "csat_avg", label: "满意度", unit: "score", target: "csat_avg", at_least: true },
  { key: "first_response_avg", label: "平均首次响应", unit: "seconds", target: "first_response_seconds", at_least: false },
  { key: "self_service_rate", label: "机器人自助率", unit: "rate", target: "self_service_rate", at_least: true },
];
const v = (value, target, met) => ({ value, count: 1, target, met });
const REPORT = {
  from: "2026-06-17", to: "2026-06-18", figures: FIGURES,
  totals: { handoffs: 3, conversations: 4, figures: {
    first_response_rate: v(0.4, 0.95, false), csat_avg: v(4.25, 4.5, false), first_response_avg: v(20, 30, true),
    self_service_rate: v(0.25, null, null) } },
  days: [
    { date: "2026-06-17", conversations: 0, handoffs: 0, figures: { first_response_rate: v(null, 0.95, null),
      csat_avg: v(null, 4.5, null), first_response_avg: v(null, 30, null), self_service_rate: v(null, null, null),
      resolution_rate: v(null, 0.85, null), repeat_complaint_rate: v(null, 0.05, null) } },
    { date: "2026-06-18", conversations: 4, handoffs: 3, figures: { first_response_rate: v(0.4, 0.95, false),
      csat_avg: v(4.25, 4.5, false), first_response_avg: v(20, 30, true), self_service_rate: v(0.25, null, null),
      resolution_rate: v(0.8, 0.85, false), repeat_complaint_rate: v(0.5, 0.05, false) } },
  ],
  agents: [{ agent_id: 2, display_name: "<b>小李</b>", handoffs: 2, figures: {
    first_response_rate: v(1, 0.95, true), csat_avg: v(4, 4.5, false), resolution_rate: v(0.5, 0.85, false) } }],
};

test("values and targets in their units", () => {
  assert.equal(formatValue(0.4, "rate"), "40.0%");
  assert.equal(formatValue(4.25, "score"), "4.25");
  assert.equal(formatValue(31.25, "seconds"), "31 秒");
  assert.equal(formatValue(-33.333, "nps"), "-33.3");
  assert.equal(formatValue(null, "rate"), "—");
  assert.equal(formatValue(NaN, "rate"), "—");
  assert.equal(formatTarget(0.95, "rate", true), "目标 ≥ 95.0%");
  assert.equal(formatTarget(30, "seconds", false), "目标 ≤ 30 秒");
  assert.equal(formatTarget(null, "rate", true), "未设目标");
});

test("tiles mark what missed its target", () => {
  const t = tiles(REPORT);
  assert.deepEqual(t.map((x) => [x.key, x.value, x.met, x.verdict]), [
    ["first_response_rate", "40.0%", false, "未达标"], ["csat_avg", "4.25", false, "未达标"],
    ["first_response_avg", "20 秒", true, "达标"], ["self_service_rate", "25.0%", null, ""]]);
});

test("tables by day and by agent: the bot's figures are not an agent's", () => {
  const days = columns(REPORT, false);
  assert.deepEqual(days.map((c) => c[0]), ["date", "conversations", "handoffs", "first_response_rate", "csat_avg",
    "first_response_avg", "self_service_rate"]);
  const agents = columns(REPORT, true);
  assert.ok(!agents.some((c) => c[0] === "self_service_rate"));
  const cells = row(REPORT.agents[0], agents);
  assert.equal(cells[0].text, "<b>小李</b>");  // text, shown with textContent
  assert.deepEqual(cells.filter((c) => c.missed).map((c) => c.text), ["4.00"]);
  assert.equal(row(REPORT.days[0], days)[3].text, "—");
});

test("chart data: percentages, gaps where a day has none", () => {
  const d = dayChart(REPORT);
  assert.deepEqual(d.labels, ["06-17", "06-18"]);
  assert.deepEqual(d.datasets.map((s) => s.data), [[null, 40], [null, 80], [null, 25], [null, 50]]);
  const a = agentChart(REPORT);
  assert.deepEqual(a.labels, ["<b>小李</b>"]);
  assert.deepEqual(a.datasets.map((s) => s.data[0]), [100, 50, 80]);
});

test("links and targets typed in", () => {
  assert.equal(csvHref("2026-06-01", "2026-06-18", "agent"), "/api/supervisor/figures.csv?from=2026-06-01&to=2026-06-18&by=agent");
  assert.equal(csvHref("", "", "x"), "/api/supervisor/figures.csv?by=day");
  assert.equal(figuresPath("", ""), "/api/supervisor/figures");
  assert.equal(figuresPath("2026-06-01&x=1", ""), "/api/supervisor/figures?from=2026-06-01%26x%3D1");
  assert.equal(parseTarget("95", { nullable: true }, true), 0.95);
  assert.equal(parseTarget(" 4.5 ", { nullable: true }, false), 4.5);
  assert.equal(parseTarget("", { nullable: true }, false), null);
  assert.equal(parseTarget("", { nullable: false }, false), undefined);
  assert.equal(parseTarget("abc", { nullable: true }, false), undefined);
  assert.equal(targetText(0.95, "first_response_rate"), "95");
  assert.equal(targetText(null, "nps"), "");
  assert.equal(targetText(30, "first_response_seconds"), "30");
});

test("a recent complaint is tagged; the rating sends NPS only when picked", () => {
  assert.deepEqual(tags({ recent_complaint_at: 1781712000, priority: "normal" }).map((t) => t[1]), ["普通优先级", "近期投诉"]);
  assert.deepEqual(tags({ recent_complaint_at: null }), []);
  assert.deepEqual(ratingBody(5, " 好 ", null), { score: 5, comment: "好" });
  assert.deepEqual(ratingBody(4, "", 0), { score: 4, comment: "", nps: 0 });
  assert.deepEqual(ratingBody(4, "", 11), { score: 4, comment: "" });
});

test("the status line says when the last days can still change", () => {
  const r = { from: "2026-06-17", to: "2026-06-18", timezone: "Asia/Shanghai", totals: { final: false } };
  assert.equal(statusText(r), "2026-06-17 至 2026-06-18（Asia/Shanghai） · 近 7 天的解决率、重复投诉率仍可能变化");
  assert.equal(statusText({ ...r, totals: { final: true } }), "2026-06-17 至 2026-06-18（Asia/Shanghai）");
});
