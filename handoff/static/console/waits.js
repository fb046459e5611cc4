/** Pure rules behind ticket threads and waiting alerts (no DOM: unit-tested with node --test). */

import { duration, when } from "../shared/format.js";
import { label } from "./labels.js";

export const DELIVERY = {
  pending: "待客户下次访问时查看",
  shown: "客户已在网页客服看到",
  sent: "已通过微信发送",
  window_closed: "未送达：微信 48 小时窗口已关闭",
  failed: "未送达",
};

/** One thread entry as a line: [who/what, text, css class]. `nameOf(agentId)` names agents. */
export function entryLine(e, nameOf) {
  const who = e.agent_id != null ? nameOf(e.agent_id) : "系统";
  switch (e.kind) {
    case "reply":
      return [who + " 回复客户", e.text || "", e.delivery === "window_closed" || e.delivery === "failed" ? "undelivered" : "reply"];
    case "note":
      return [who + " 内部备注", e.text || "", "note"];
    case "status":
      return [who + " 将状态改为「" + label("ticket", e.value) + "」", "", "change"];
    case "assign":
      return [e.value == null ? who + " 取消了分配" : who + " 将工单分配给 " + nameOf(Number(e.value)), "", "change"];
    case "due":
      return [who + " 将截止时间改为 " + when(Number(e.value)), "", "change"];
    default:
      return [who, e.text || "", "change"];
  }
}

/** What the console says about WeChat's 48 h window (null for web tickets). */
export function windowNotice(w, nowSec) {
  if (!w) return null;
  if (!w.open) return ["closed", "微信 48 小时窗口已关闭：客户需先发消息，否则回复无法送达（将保存为未送达）"];
  return ["open", "微信窗口开放中，剩余 " + duration(w.closes_at - nowSec) + "，回复将通过微信客服消息发送"];
}

/** Queue items not seen before (a new chat to announce); `known` null on the first snapshot. */
export function freshArrivals(known, items) {
  if (!known) return [];
  return items.filter((q) => !known[q.conversation_id]);
}

/** How long a customer has waited on their agent, and how late that is: "", "late", "very-late". */
export function waitLevel(sinceSec, nowSec, limits) {
  const waited = Math.max(0, nowSec - sinceSec);
  const lim = limits || { agent_after: 30, supervisor_after: 120 };
  return { waited, text: "客户等待 " + duration(waited),
    level: waited >= lim.supervisor_after ? "very-late" : waited >= lim.agent_after ? "late" : "" };
}

/** The line of a silent-agent alert. */
export function alertText(alert, customer, agentName, nowSec) {
  const waited = duration(nowSec - alert.since);
  return (customer || "客户") + " 已等待 " + waited + " 未获回复" + (alert.level === "supervisor" ? "（" + agentName + "）" : "");
}
