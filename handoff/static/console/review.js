/**
 * 学习 (supervisors): customer messages the bot did not understand, grouped by wording. A
 * supervisor labels a group with an intent or FAQ of the bot, proposes a new FAQ with its answer,
 * or ignores it; the hub writes the labels to data/nlu/reviewed.yml for the next training.
 */

import { el } from "../shared/dom.js";
import { when } from "../shared/format.js";
import { onlyRequestErrors } from "../shared/http.js";
import { api } from "./api.js";
import { toast } from "./notify.js";
import { $ } from "./state.js";
import { IGNORE, NEW_FAQ, kindsText, labelRequest, labelledText } from "./teaching.js";

let labels = [];

export function loadReview() {
  $("review-total").textContent = "加载中…";
  return Promise.all([api("GET", "/api/supervisor/review/labels"), api("GET", "/api/supervisor/review")])
    .then(([l, page]) => {
      labels = l.labels;
      renderReview(page);
    }, (err) => {
      onlyRequestErrors(err);
      $("review-total").textContent = "";
      toast("加载失败：" + err.message, "error");
    });
}

function renderReview(page) {
  const box = $("review-list");
  box.textContent = "";
  $("review-total").textContent = page.total ? "共 " + page.total + " 条待标注，" + page.groups.length + " 组" : "";
  $("review-empty").hidden = page.groups.length > 0;
  page.groups.forEach((g) => box.appendChild(groupCard(g)));
}

function labelSelect(g) {
  const sel = el("select", { "data-role": "review-choice", "aria-label": "标注为" });
  sel.appendChild(el("option", { value: "" }, "选择意图或问答…"));
  const intents = el("optgroup", { label: "意图" });
  const faqs = el("optgroup", { label: "知识库问答" });
  labels.forEach((l) => {
    const o = el("option", { value: l.label }, l.name === l.label ? l.label : l.name + "（" + l.label + "）");
    (l.faq ? faqs : intents).appendChild(o);
  });
  sel.append(intents, faqs);
  sel.appendChild(el("option", { value: NEW_FAQ }, "＋ 新建问答…"));
  sel.appendChild(el("option", { value: IGNORE }, "忽略（不作为训练数据）"));
  if (g.guess && labels.some((l) => l.label === g.guess)) sel.value = g.guess;
  return sel;
}

function groupCard(g) {
  const card = el("div", { class: "review-card", "data-role": "review-group", "data-key": g.key });
  const head = el("div", "review-head");
  head.appendChild(el("span", "review-count", g.count + " 条"));
  head.appendChild(el("span", "tag reason", kindsText(g.kinds)));
  if (g.guess_name) head.appendChild(el("span", "tag", "模型猜测：" + g.guess_name));
  head.appendChild(el("span", "muted review-when", "最近 " + when(new Date(g.last_at * 1000).toISOString())));
  card.appendChild(head);
  const ul = el("ul", "review-examples");
  g.examples.forEach((t) => ul.appendChild(el("li", { "data-role": "review-example" }, t)));
  card.appendChild(ul);

  const form = el("div", "review-form");
  const sel = labelSelect(g);
  const key = el("input", { "data-role": "review-key", placeholder: "问答编号，如 digital_rmb", maxlength: "41", hidden: true });
  const answer = el("textarea", { "data-role": "review-answer", rows: "2", maxlength: "1000", placeholder: "标准答案（客户会看到）", hidden: true });
  const err = el("span", "form-error");
  const btn = el("button", { class: "btn primary small", type: "button", "data-role": "review-submit" }, "标注");
  sel.addEventListener("change", () => {
    key.hidden = answer.hidden = sel.value !== NEW_FAQ;
    err.textContent = "";
  });
  btn.addEventListener("click", () => {
    const req = labelRequest(g, sel.value, key.value, answer.value);
    if (req.error) { err.textContent = req.error; return; }
    btn.disabled = true;
    api("POST", "/api/supervisor/review/label", req.body).then((res) => {
      toast(labelledText(res), "ok");
      loadReview();
    }, (e) => {
      onlyRequestErrors(e);
      err.textContent = e.message;
      btn.disabled = false;
    });
  });
  form.append(sel, key, answer, btn, err);
  card.appendChild(form);
  return card;
}

export function initReview() {
  $("review-refresh").addEventListener("click", loadReview);
}
