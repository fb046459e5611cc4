/** Getting an agent's attention: toasts, a two-tone beep, a blinking tab title. */

import { el } from "../shared/dom.js";
import { $, S } from "./state.js";

export function toast(text, kind) {
  const t = el("div", "toast" + (kind ? " " + kind : ""), text);
  t.setAttribute("data-role", "toast");
  $("toasts").appendChild(t);
  setTimeout(() => t.remove(), kind === "error" ? 6000 : 3500);
  return t;
}

export function queueToastText(n) {
  return "有 " + n + " 位新客户在排队";
}

/** A "new in queue" toast must not outlive its chats: recount it, or drop it once all were
 * claimed or left. */
export function pruneQueueToasts() {
  const waiting = {};
  S.queue.forEach((q) => { waiting[q.conversation_id] = true; });
  document.querySelectorAll("#toasts [data-queue-ids]").forEach((t) => {
    const left = t.getAttribute("data-queue-ids").split(" ").filter((id) => waiting[id]);
    if (!left.length) { t.remove(); return; }
    t.setAttribute("data-queue-ids", left.join(" "));
    t.textContent = queueToastText(left.length);
  });
}

/** Browsers start audio only after a user gesture: called on login. */
export function unlockAudio() {
  try {
    if (!S.audio) S.audio = new (window.AudioContext || window.webkitAudioContext)();
    if (S.audio.state === "suspended") S.audio.resume();
  } catch (e) { S.audio = null; }
}

/** Two short sine beeps; WebAudio needs no sound file and no network. */
export function beep() {
  if (!S.audio) return;
  try {
    const t0 = S.audio.currentTime;
    [0, 0.18].forEach((offset) => {
      const osc = S.audio.createOscillator(), gain = S.audio.createGain();
      osc.type = "sine";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, t0 + offset);
      gain.gain.exponentialRampToValueAtTime(0.25, t0 + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + offset + 0.14);
      osc.connect(gain).connect(S.audio.destination);
      osc.start(t0 + offset);
      osc.stop(t0 + offset + 0.15);
    });
  } catch (e) { /* audio unavailable */ }
}

export function alertTitle(text) {
  clearInterval(S.titleTimer);
  let on = false, ticks = 0;
  S.titleTimer = setInterval(() => {
    on = !on;
    ticks += 1;
    document.title = on ? "【" + text + "】" + S.baseTitle : S.baseTitle;
    if ((ticks > 10 && document.hasFocus()) || ticks > 120) stopTitleAlert();
  }, 1000);
  document.title = "【" + text + "】" + S.baseTitle;
}

export function stopTitleAlert() {
  clearInterval(S.titleTimer);
  S.titleTimer = null;
  document.title = S.baseTitle;
}

export function initNotify() {
  S.baseTitle = document.title;
  window.addEventListener("focus", () => { if (S.titleTimer) setTimeout(stopTitleAlert, 3000); });
}
