/**
 * What the console shows, as pure functions over the hub's API shapes (no DOM), reading
 * exactly the fields /openapi.json documents.
 */

import { duration, money, when } from "../shared/format.js";
import { label } from "./labels.js";

/** "张伟", else "访客 3f2a1b" (the first digits of the conversation id). */
export function customerName(c) {
  return (c.customer && c.customer.name) || c.customer_name || "访客 " + c.conversation_id.slice(0, 6);
}

/** Tags of a queue item, a chat summary or an open chat: [class, text] pairs. */
export function tags(c) {
  const out = [];
  if (c.priority) out.push(["tag p-" + c.priority, label("priority", c.priority) + "优先级"]);
  if (c.recent_complaint_at) out.push(["tag complaint", "近期投诉"]);
  if (c.vip_level) out.push(["tag vip", "VIP" + c.vip_level]);
  if (c.reason) out.push(["tag reason", label("reason", c.reason)]);
  if (c.emotion && c.emotion !== "neutral") out.push(["tag angry", "情绪：" + label("emotion", c.emotion)]);
  if (c.channel) out.push(["tag channel", label("channel", c.channel)]);
  if (c.skill) out.push(["tag", label("skill", c.skill) + "组"]);
  return out;
}

/** Transcript and internal notes of an agent conversation, in the order they were written. */
export function transcriptItems(conv) {
  const all = (conv.messages || []).slice();
  const seen = {};
  all.forEach((m) => { seen[m.id] = true; });
  (conv.notes || []).forEach((n) => { if (!seen[n.id]) all.push(n); });
  return all.sort((a, b) => a.seq - b.seq);
}

/** One order card of the customer panel. */
export function orderCard(o) {
  const items = Array.isArray(o.items) ? o.items.join("、") : "";
  const meta = [money(o.total), when(o.created_at), label("order_type", o.order_type)].filter(Boolean).join(" · ");
  return { id: o.order_id, status: o.status, items, meta };
}

/** The dashboard's six figures: [title, value, note, alert]. */
export function kpis(s) {
  const fr = s.first_response_seconds || {};
  const csat = s.csat || {};
  const agents = s.agents || [];
  const longest = s.longest_wait_seconds || 0;
  return [
    ["排队人数", s.queue_length || 0, "", (s.queue_length || 0) > 5],
    ["最长等待", duration(longest), "", longest > 180],
    ["在线客服", (s.agents_online || 0) + " / " + agents.length, "在线 / 全部", false],
    ["今日转人工", s.handoffs_today || 0, "", false],
    ["首次响应", fr.avg == null ? "—" : duration(fr.avg), fr.p90 == null ? "平均" : "平均 · P90 " + duration(fr.p90),
      fr.avg != null && fr.avg > 30],
    ["满意度", csat.avg == null ? "—" : Number(csat.avg).toFixed(2),
      csat.count != null ? csat.count + " 次评价 · 满分 5" : "满分 5", false],
  ];
}

/** Today's handoffs by reason, most frequent first, with bar widths in percent. */
export function reasonBars(byReason) {
  const counts = byReason || {};
  const keys = Object.keys(counts).sort((a, b) => counts[b] - counts[a]);
  const top = keys.length ? counts[keys[0]] : 0;
  return keys.map((k) => ({ code: k, label: label("reason", k), count: counts[k],
    width: top ? Math.max(4, Math.round(counts[k] / top * 100)) : 0 }));
}

/** An agent's load as "2 / 5" and a bar width in percent. */
export function agentLoad(a) {
  const max = Math.max(1, a.max_chats || 0);
  return { text: a.load + " / " + a.max_chats, full: a.load >= a.max_chats,
    width: Math.min(100, Math.round(a.load / max * 100)) };
}
