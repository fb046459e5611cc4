/** The two forms inside the chat: the rating (CSAT) after an agent closes, and the message form
 * when nobody can answer now. */

import { el } from "../shared/dom.js";
import { onlyRequestErrors } from "../shared/http.js";
import { NPS_QUESTION, STAR_LABELS, ratingBody, validContact } from "./text.js";
import { appendNode } from "./view.js";

export function showCsat(w) {
  const { state } = w;
  if (state.csatShown || state.csatDone) return;
  state.csatShown = true;
  const card = el("div", { class: "card", "data-role": "csat" });
  card.appendChild(el("h4", null, "请为本次服务打分"));
  card.appendChild(el("p", null, "您的评价将帮助我们改进服务"));
  const stars = el("div", { class: "stars", role: "radiogroup", "aria-label": "满意度评分" });
  const label = el("div", { class: "stars-lbl" });
  const comment = el("textarea", { rows: "2", placeholder: "还有什么想告诉我们的？（选填）", maxlength: "500" });
  const err = el("div", { class: "err" });
  const submit = el("button", { type: "button", class: "btn" }, "提交评价");
  submit.disabled = true;
  let score = 0;
  const btns = [];
  const paint = (n) => {
    btns.forEach((b, i) => { b.className = i < n ? "on" : ""; });
    label.textContent = STAR_LABELS[n] || "";
  };
  for (let n = 1; n <= 5; n++) {
    const b = el("button", { type: "button", "aria-label": n + " 星", "data-score": String(n), role: "radio" }, "★");
    b.addEventListener("mouseenter", () => paint(n));
    b.addEventListener("mouseleave", () => paint(score));
    b.addEventListener("click", () => { score = n; paint(n); submit.disabled = false; });
    btns.push(b);
    stars.appendChild(b);
  }
  // optional: would they recommend the shop (NPS), picked again to unpick
  let nps = null;
  const npsQ = el("div", { class: "nps-q" }, NPS_QUESTION);
  const npsRow = el("div", { class: "nps", role: "radiogroup", "aria-label": "推荐意愿", "data-role": "nps" });
  const npsBtns = [];
  for (let n = 0; n <= 10; n++) {
    const b = el("button", { type: "button", role: "radio", "data-nps": String(n), "aria-label": "推荐意愿 " + n }, String(n));
    b.addEventListener("click", () => {
      nps = nps === n ? null : n;
      npsBtns.forEach((x, i) => { x.className = i === nps ? "on" : ""; x.setAttribute("aria-checked", String(i === nps)); });
    });
    npsBtns.push(b);
    npsRow.appendChild(b);
  }
  const npsEnds = el("div", { class: "nps-ends" });
  npsEnds.append(el("span", null, "不可能"), el("span", null, "非常可能"));
  submit.addEventListener("click", () => {
    if (!score) return;
    submit.disabled = true;
    err.textContent = "";
    w.api("POST", "/api/conversations/" + state.conversationId + "/csat", ratingBody(score, comment.value, nps))
      .then(() => {
        state.csatDone = true;
        w.actions.persist();
        card.replaceWith(el("div", { class: "card done", "data-role": "csat-done" },
          "感谢您的评价（" + score + " 星）！祝您生活愉快。"));
      })
      .catch((e) => {
        onlyRequestErrors(e);
        err.textContent = e.message || "提交失败，请稍后重试";
        submit.disabled = false;
      });
  });
  card.append(stars, label, npsQ, npsRow, npsEnds, comment, err, submit);
  appendNode(w.ui, card);
}

export function showLeaveMessage(w) {
  const { state } = w;
  if (state.offlineShown) return;
  state.offlineShown = true;
  const card = el("div", { class: "card", "data-role": "leave-message" });
  card.appendChild(el("h4", null, "人工客服暂时不在线"));
  card.appendChild(el("p", null, "请留下您的问题和联系方式，客服上线后会尽快联系您。"));
  const text = el("textarea", { rows: "3", placeholder: "请描述您的问题（必填）", maxlength: "2000", name: "text" });
  const contact = el("input", { type: "text", placeholder: "手机号或邮箱（必填）", maxlength: "100", name: "contact" });
  const err = el("div", { class: "err" });
  const submit = el("button", { type: "button", class: "btn" }, "提交留言");
  submit.addEventListener("click", () => {
    const t = text.value.trim();
    const c = contact.value.trim();
    if (!t) { err.textContent = "请填写留言内容"; return; }
    if (!validContact(c)) { err.textContent = "请填写有效的手机号或邮箱"; return; }
    err.textContent = "";
    submit.disabled = true;
    w.api("POST", "/api/conversations/" + state.conversationId + "/leave_message", { text: t, contact: c })
      .then((body) => {
        card.replaceWith(el("div", { class: "card done", "data-role": "leave-message-done" },
          "留言已提交" + (body && body.ticket_id != null ? "（工单号 " + body.ticket_id + "）" : "") + "，我们会尽快联系您。"));
      })
      .catch((e) => {
        onlyRequestErrors(e);
        err.textContent = e.message || "提交失败，请稍后重试";
        submit.disabled = false;
      });
  });
  card.append(text, contact, err, submit);
  appendNode(w.ui, card);
}
