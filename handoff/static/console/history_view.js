/**
 * History and 质检, as pure functions over the hub's shapes (HistoryItem, Transcript, QaAgents):
 * the search query, result rows, the transcript with its handoff events in place, scores.
 */

import { when } from "../shared/format.js";
import { label } from "./labels.js";

/** The rubric of a 质检 score, in the order the form shows it (the hub's shapes.QA_RUBRIC). */
export const RUBRIC = [
  ["greeting", "问候与规范用语"],
  ["correct", "回答正确"],
  ["resolved", "问题解决"],
  ["attitude", "服务态度"],
];

const FIELDS = ["customer", "order", "phone_tail", "agent_id", "reason", "rating", "q", "from", "to"];

/** The search form's values as a query string: empty fields left out, values trimmed; a cursor for the next page. */
export function searchQuery(values, cursor) {
  const parts = [];
  FIELDS.forEach((k) => {
    const v = values[k] == null ? "" : String(values[k]).trim();
    if (v) parts.push(k + "=" + encodeURIComponent(v));
  });
  if (cursor) parts.push("cursor=" + encodeURIComponent(cursor));
  return parts.join("&");
}

/** Who the customer of a past conversation is, as a line of the result list. */
export function historyWho(item) {
  if (item.customer_name) return item.customer_name + (item.customer_id ? "（" + item.customer_id + "）" : "");
  if (item.customer_id) return "客户 " + item.customer_id;
  if (item.openid) return "微信用户 " + item.openid.slice(0, 8) + "…";
  return "访客 " + item.conversation_id.slice(0, 6);
}

/** One result row: title, meta line, tags [class, text], snippet. */
export function historyRow(item) {
  const agents = (item.agents || []).map((a) => a.display_name).join("、");
  const meta = [when(item.updated_at), label("channel", item.channel), agents ? "客服：" + agents : "机器人接待"]
    .filter(Boolean).join(" · ");
  const tags = (item.reasons || []).map((r) => ["tag reason", label("reason", r)]);
  if (item.rating != null) tags.push(["tag" + (item.rating <= 2 ? " angry" : ""), "评分 " + item.rating + "★"]);
  if (item.qa && item.qa.count) tags.push(["tag qa", "质检 " + Number(item.qa.avg).toFixed(1)]);
  if (item.mode === "queued" || item.mode === "agent") tags.push(["tag mode", label("mode", item.mode)]);
  return { title: historyWho(item), meta, tags, snippet: item.snippet || "" };
}

/**
 * The transcript in order, with a line where each handoff was queued, taken and closed:
 * items are {kind: "message", message} or {kind: "event", text, at}.
 */
export function transcriptTimeline(t) {
  const out = (t.messages || []).map((m) => ({ kind: "message", message: m, at: toEpoch(m.created_at), seq: m.seq }));
  (t.handoffs || []).forEach((h) => {
    const who = h.agent ? h.agent.display_name : "";
    out.push({ kind: "event", at: h.queued_at, order: 0, text: "转人工 · " + label("reason", h.reason) + " · " +
      label("skill", h.skill) + "组 · " + label("priority", h.priority) + "优先级" });
    if (h.assigned_at != null) out.push({ kind: "event", at: h.assigned_at, order: 1, text: (who || "客服") + " 接入" });
    if (h.closed_at != null) out.push({ kind: "event", at: h.closed_at, order: 2, text: "人工服务结束" });
  });
  // message times come in milliseconds (ISO), handoff times in finer epoch seconds: compare by the millisecond
  const ms = (x) => Math.floor(x.at * 1000);
  return out.sort((a, b) => (ms(a) - ms(b)) || rank(a) - rank(b));
}

function rank(x) {
  return x.kind === "event" ? x.order - 3 : x.seq;  // at the same instant: the event first
}

function toEpoch(v) {
  if (typeof v === "number") return v;
  const ms = Date.parse(v);
  return isNaN(ms) ? 0 : ms / 1000;
}

/** A score's mean over the rubric, one decimal ("4.5"). */
export function scoreMean(s) {
  const values = RUBRIC.map(([k]) => Number(s[k]));
  return (values.reduce((a, b) => a + b, 0) / values.length).toFixed(1);
}

/** The form's values as the PUT body; null (with the first problem) when a rubric item is not 1–5. */
export function scoreBody(values) {
  const body = {};
  for (const [k, name] of RUBRIC) {
    const n = Number(values[k]);
    if (!Number.isInteger(n) || n < 1 || n > 5) return { body: null, problem: "请为“" + name + "”打 1–5 分" };
    body[k] = n;
  }
  const comment = String(values.comment || "").trim();
  if (comment.length > 1000) return { body: null, problem: "评语最多 1000 字" };
  body.comment = comment || null;
  return { body, problem: "" };
}

/** Per-agent 质检 rows: name, count, the four averages and the overall, one decimal each. */
export function qaRows(data) {
  return (data.items || []).map((r) => ({
    agentId: r.agent_id, name: r.display_name, count: r.count,
    cells: RUBRIC.map(([k]) => Number(r[k]).toFixed(1)), overall: Number(r.overall).toFixed(1),
  }));
}

/** How the sidebar's history is tied to the customer, in words. */
export function linkNote(link) {
  return { customer: "按登录身份关联", wechat: "按微信 openid 关联", browser: "同一浏览器（未验证身份）" }[link] || "";
}
