/**
 * Time, money and name formatting shared by the widget and the console. Pure: no DOM.
 * Texts a customer reads that the hub also writes (wait estimate, agent title) are not here:
 * the hub sends them formatted (`wait_text`, `title`) so WeChat and the widget say the same.
 */

export function pad(n) {
  return String(n).padStart(2, "0");
}

/** A Date from an ISO string, epoch seconds or epoch milliseconds; null when there is none. */
export function toDate(v) {
  if (v == null || v === "") return null;
  if (v instanceof Date) return isNaN(v.getTime()) ? null : v;
  if (typeof v === "number") return new Date(v < 1e12 ? v * 1000 : v);
  const d = new Date(v);
  return isNaN(d.getTime()) ? null : d;
}

/** "14:05"; without a value: now. */
export function clock(v) {
  const d = v == null ? new Date() : toDate(v);
  if (!d) return "";
  return pad(d.getHours()) + ":" + pad(d.getMinutes());
}

/** "14:05" today, "6月18日 14:05" on another day. */
export function when(v, now = new Date()) {
  const d = toDate(v);
  if (!d) return "";
  const hm = clock(d);
  if (d.toDateString() === now.toDateString()) return hm;
  return (d.getMonth() + 1) + "月" + d.getDate() + "日 " + hm;
}

/** "45 秒", "3:07", "1 小时 5 分"; "—" when unknown. */
export function duration(sec) {
  if (sec == null || isNaN(sec)) return "—";
  sec = Math.max(0, Math.round(sec));
  if (sec < 60) return sec + " 秒";
  const m = Math.floor(sec / 60), s = sec % 60;
  if (m < 60) return m + ":" + pad(s);
  return Math.floor(m / 60) + " 小时 " + (m % 60) + " 分";
}

export function money(v) {
  if (v == null || v === "") return "";
  const n = Number(v);
  return isNaN(n) ? String(v) : "¥" + n.toFixed(2);
}

/** Avatar letter: "客服 小李" -> "小", "张伟" -> "张". */
export function initial(name, fallback = "?") {
  const parts = String(name || "").trim().split(/\s+/);
  return (parts[parts.length - 1] || fallback).slice(0, 1);
}

/** A badge count: "7", "99+". */
export function badgeCount(n) {
  return n > 99 ? "99+" : String(n);
}
