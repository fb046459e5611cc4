/**
 * The quality figures as the console shows them, pure (no DOM, no chart library): values with
 * their units, targets, what missed its target, chart data and export links, from the
 * /api/supervisor/figures shape (see /openapi.json: Figures).
 */

import { duration } from "../shared/format.js";

/** "95.0%", "4.25", "33.3", "31 秒"; "—" without a value. */
export function formatValue(value, unit) {
  if (value == null || typeof value !== "number" || !isFinite(value)) return "—";
  if (unit === "rate") return (value * 100).toFixed(1) + "%";
  if (unit === "seconds") return duration(value);
  if (unit === "score") return value.toFixed(2);
  return value.toFixed(1);
}

/** "目标 ≥ 95.0%" / "目标 ≤ 30 秒"; "未设目标" without one. */
export function formatTarget(target, unit, atLeast) {
  if (target == null) return "未设目标";
  return "目标 " + (atLeast ? "≥ " : "≤ ") + formatValue(target, unit);
}

/** "达标", "未达标", or "" when there is nothing to judge. */
export function verdict(met) {
  return met === true ? "达标" : met === false ? "未达标" : "";
}

/** The range's tiles: one per figure with value, target and verdict. */
export function tiles(report) {
  const totals = report.totals || { figures: {} };
  return (report.figures || []).map((f) => {
    const v = totals.figures[f.key] || {};
    return {
      key: f.key, label: f.label, value: formatValue(v.value, f.unit),
      target: formatTarget(v.target, f.unit, f.at_least), met: v.met == null ? null : v.met,
      verdict: verdict(v.met), count: v.count || 0,
    };
  });
}

/** Columns of a table by day or by agent: [key, label, unit] (figure keys, or "handoffs"/"conversations"). */
export function columns(report, byAgent) {
  const head = byAgent ? [["name", "客服", ""]] : [["date", "日期", ""], ["conversations", "会话数", ""]];
  head.push(["handoffs", "转人工数", ""]);
  const bot = { self_service_rate: true, handoff_rate: true };
  (report.figures || []).forEach((f) => { if (!byAgent || !bot[f.key]) head.push([f.key, f.label, f.unit]); });
  return head;
}

/** One table row: [{text, missed}] in the order of `columns`. */
export function row(block, cols) {
  return cols.map(([key, , unit]) => {
    if (key === "name") return { text: block.display_name, missed: false };
    if (key === "date") return { text: block.date, missed: false };
    if (key === "handoffs" || key === "conversations") return { text: String(block[key] == null ? "—" : block[key]), missed: false };
    const v = (block.figures || {})[key] || {};
    return { text: formatValue(v.value, unit), missed: v.met === false };
  });
}

const DAY_SERIES = [
  ["first_response_rate", "首次响应达标率", "#1f6feb"],
  ["resolution_rate", "解决率", "#2f9e44"],
  ["self_service_rate", "机器人自助率", "#7048e8"],
  ["repeat_complaint_rate", "重复投诉率", "#d4380d"],
];

/** Shares by day in percent (null where a day has no data: the line breaks there). */
export function dayChart(report) {
  const days = report.days || [];
  return {
    labels: days.map((d) => d.date.slice(5)),
    datasets: DAY_SERIES.map(([key, label, color]) => ({
      label, borderColor: color, backgroundColor: color,
      data: days.map((d) => {
        const v = (d.figures[key] || {}).value;
        return v == null ? null : Math.round(v * 1000) / 10;
      }),
    })),
  };
}

/** Each agent's first-response and resolution shares and CSAT (as a share of 5), in percent. */
export function agentChart(report) {
  const agents = report.agents || [];
  const pct = (a, key, scale) => {
    const v = (a.figures[key] || {}).value;
    return v == null ? null : Math.round(v / scale * 1000) / 10;
  };
  return {
    labels: agents.map((a) => a.display_name),
    datasets: [
      { label: "首次响应达标率", backgroundColor: "#5b8ff9", data: agents.map((a) => pct(a, "first_response_rate", 1)) },
      { label: "解决率", backgroundColor: "#5ad8a6", data: agents.map((a) => pct(a, "resolution_rate", 1)) },
      { label: "满意度（占满分）", backgroundColor: "#f6bd16", data: agents.map((a) => pct(a, "csat_avg", 5)) },
    ],
  };
}

/** The CSV export's address for a range, by day or by agent. */
export function csvHref(from, to, by) {
  const q = new URLSearchParams();
  if (from) q.set("from", from);
  if (to) q.set("to", to);
  q.set("by", by === "agent" ? "agent" : "day");
  return "/api/supervisor/figures.csv?" + q.toString();
}

/** The range to ask for: "" means the hub's default (the last 7 shop days). */
export function figuresPath(from, to) {
  const q = new URLSearchParams();
  if (from) q.set("from", from);
  if (to) q.set("to", to);
  const s = q.toString();
  return "/api/supervisor/figures" + (s ? "?" + s : "");
}

/**
 * A target as typed into the form: a number (a percentage for shares), null for "no target"
 * (an empty box, where allowed); undefined when it is not a number.
 */
export function parseTarget(text, target, isRate) {
  const s = String(text == null ? "" : text).trim();
  if (s === "") return target.nullable ? null : undefined;
  const n = Number(s);
  if (!isFinite(n)) return undefined;
  return isRate ? Math.round(n * 10) / 1000 : n;
}

/** Which targets are shares (typed and shown in percent). */
export function isRateTarget(key) {
  return /_rate$/.test(key);
}

/** The box's text for a target value: percent for shares, "" for none. */
export function targetText(value, key) {
  if (value == null) return "";
  return isRateTarget(key) ? String(Math.round(value * 1000) / 10) : String(value);
}

/** The line above the figures: the range, and whether its last days can still change. */
export function statusText(report) {
  const base = report.from + " 至 " + report.to + "（" + report.timezone + "）";
  const open = report.totals && report.totals.final === false;
  return open ? base + " · 近 7 天的解决率、重复投诉率仍可能变化" : base;
}
