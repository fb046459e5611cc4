/**
 * Knowledge base (知识库), supervisors only: the bot's FAQ answers and fixed phrases, an editor
 * with each answer's history (who, when, before/after, roll back), and the progress of the
 * retrain that publishes a saved change (stages, elapsed time, log tail, why it failed).
 * Every text goes into the page with textContent.
 */

import { el } from "../shared/dom.js";
import { when } from "../shared/format.js";
import { onlyRequestErrors } from "../shared/http.js";
import { api } from "./api.js";
import { duration, entryBadge, entryTitle, filterEntries, stageSteps, trainingHeadline, versionAction }
  from "./kb-present.js";
import { toast } from "./notify.js";
import { $, S } from "./state.js";

// awaiting: a saved version no run has taken up yet (the run starts in the background, maybe on
// another hub process), so the page keeps asking until one does, for up to a minute
const KB = { items: [], selected: null, status: null, timer: null, history: [], awaiting: null };

export function loadKnowledge() {
  return api("GET", "/api/kb/entries").then((b) => {
    KB.items = b.items;
    renderList();
    renderStatus(b.status);
    if (KB.selected) {
      const fresh = KB.items.find((e) => e.key === KB.selected.key);
      if (fresh && fresh.version !== KB.selected.version) select(fresh);
    }
  }).catch(onlyRequestErrors);
}

function renderList() {
  const list = $("kb-list");
  list.textContent = "";
  const rows = filterEntries(KB.items, $("kb-kind").value, $("kb-search").value);
  $("kb-count").textContent = rows.length + " 条";
  rows.forEach((e) => {
    const item = el("button", { class: "kb-item" + (KB.selected && KB.selected.key === e.key ? " selected" : ""),
      "data-role": "kb-entry", "data-key": e.key, type: "button" });
    const top = el("div", "kb-item-top");
    top.appendChild(el("b", null, entryTitle(e)));
    const [cls, text] = entryBadge(e);
    top.appendChild(el("span", "kb-badge " + cls, text));
    item.appendChild(top);
    if (e.example) item.appendChild(el("div", "kb-example", "例：" + e.example));
    item.appendChild(el("div", "kb-snippet", e.text));
    item.addEventListener("click", () => select(e));
    list.appendChild(item);
  });
}

function select(entry) {
  KB.selected = entry;
  $("kb-editor-empty").hidden = true;
  $("kb-editor").hidden = false;
  $("kb-editor-title").textContent = entryTitle(entry);
  $("kb-editor-file").textContent = entry.file + (entry.example ? " · 例：" + entry.example : "");
  $("kb-text").value = entry.text;
  $("kb-error").textContent = "";
  renderList();
  loadHistory(entry.key);
}

function loadHistory(key) {
  return api("GET", "/api/kb/versions?key=" + encodeURIComponent(key)).then((b) => {
    if (!KB.selected || KB.selected.key !== key) return;
    KB.history = b.items;
    renderHistory();
  }).catch(onlyRequestErrors);
}

function renderHistory() {
  const tbody = document.querySelector("#kb-history tbody");
  tbody.textContent = "";
  $("kb-history-empty").hidden = KB.history.length > 0;
  KB.history.forEach((v) => {
    const tr = el("tr", { "data-role": "kb-version", "data-id": String(v.id) });
    tr.appendChild(el("td", null, "#" + v.id));
    tr.appendChild(el("td", null, when(v.created_at)));
    tr.appendChild(el("td", null, v.agent_name || "—"));
    tr.appendChild(el("td", null, versionAction(v) + (v.live ? "" : " · 待上线")));
    tr.appendChild(el("td", "text kb-before", v.before));
    tr.appendChild(el("td", "text kb-after", v.after));
    const td = el("td");
    const undo = el("button", { class: "btn ghost small", type: "button", "data-role": "kb-rollback" }, "回滚");
    undo.title = "撤销这次修改：恢复为修改前的内容并重新发布";
    undo.addEventListener("click", () => rollback(v));
    td.appendChild(undo);
    tr.appendChild(td);
    tbody.appendChild(tr);
  });
}

function save() {
  const entry = KB.selected;
  if (!entry) return;
  const btn = $("kb-save");
  btn.disabled = true;
  $("kb-error").textContent = "";
  api("PUT", "/api/kb/entries", { key: entry.key, text: $("kb-text").value, base_version: entry.version })
    .then((b) => {
      toast("已保存，正在重新训练并测试，通过后自动上线", "ok");
      KB.selected = { ...entry, text: b.version.after, version: b.version.id, live: false };
      expectRun(b.version.id);
      renderStatus(b.status);
      return loadKnowledge().then(() => loadHistory(entry.key));
    })
    .catch((err) => {
      onlyRequestErrors(err);
      $("kb-error").textContent = err.message;
    })
    .finally(() => { btn.disabled = false; });
}

function rollback(v) {
  api("POST", "/api/kb/versions/" + v.id + "/rollback", {})
    .then((b) => {
      toast("已回滚 #" + v.id + "，正在重新发布", "ok");
      expectRun(b.version.id);
      renderStatus(b.status);
      return loadKnowledge().then(() => {
        const fresh = KB.items.find((e) => e.key === v.key);
        if (fresh) select(fresh);
      });
    })
    .catch((err) => { onlyRequestErrors(err); toast("回滚失败：" + err.message, "error"); });
}

function retry() {
  api("POST", "/api/kb/training", {})
    .then((b) => { expectRun(0); renderStatus(b); toast("已重新开始发布", "ok"); })
    .catch((err) => { onlyRequestErrors(err); toast(err.message, "error"); });
}

function renderStatus(status) {
  KB.status = status;
  const t = status && status.training;
  $("kb-headline").textContent = trainingHeadline(t);
  $("kb-headline").className = "kb-headline " + (t ? t.state : "");
  const steps = $("kb-steps");
  steps.textContent = "";
  stageSteps(t).forEach((s) => steps.appendChild(el("li", "kb-step " + s.state, s.text)));
  $("kb-pending").textContent = status && status.pending ? status.pending + " 条修改待上线" : "";
  $("kb-disabled").hidden = !status || status.retrain_enabled;
  $("kb-log").textContent = (t && t.log_tail) || "";
  $("kb-log").hidden = !(t && t.log_tail);
  $("kb-log").scrollTop = $("kb-log").scrollHeight;
  const err = $("kb-train-error");
  err.textContent = t && t.state === "failed" ? (t.error || "发布失败") + "（线上仍是原模型）" : "";
  err.hidden = !(t && t.state === "failed");
  $("kb-retry").hidden = !(status && status.retrain_enabled && !status.running && (status.pending || (t && t.state === "failed")));
  $("kb-elapsed").textContent = t && t.state === "running" ? "已用时 " + duration(t.elapsed_seconds) : "";
  clearTimeout(KB.timer);
  if (KB.awaiting && (Date.now() > KB.awaiting.until || !status.retrain_enabled
      || (t && t.id > KB.awaiting.after && t.up_to_version >= KB.awaiting.version))) KB.awaiting = null;
  if (status && (status.running || KB.awaiting) && S.view === "kb") KB.timer = setTimeout(pollStatus, 2000);
}

/** Keep polling until a run newer than the current one covers `version` (0: any new run). */
function expectRun(version) {
  const t = KB.status && KB.status.training;
  KB.awaiting = { version, after: t ? t.id : 0, until: Date.now() + 60000 };
}

function pollStatus() {
  api("GET", "/api/kb/training").then((s) => {
    const was = (KB.status && KB.status.running) || !!KB.awaiting;
    renderStatus(s);
    if (was && !s.running && !KB.awaiting) {
      const t = s.training;
      toast(t && t.state === "done" ? "新模型已上线" : "发布未通过，线上仍是原模型", t && t.state === "done" ? "ok" : "error");
      loadKnowledge().then(() => { if (KB.selected) loadHistory(KB.selected.key); });
    }
  }).catch((err) => { onlyRequestErrors(err); KB.timer = setTimeout(pollStatus, 5000); });
}

export function showKnowledge() {
  loadKnowledge();
}

export function hideKnowledge() {
  clearTimeout(KB.timer);
}

export function initKnowledge() {
  $("kb-kind").addEventListener("change", renderList);
  $("kb-search").addEventListener("input", renderList);
  $("kb-save").addEventListener("click", save);
  $("kb-reset").addEventListener("click", () => { if (KB.selected) $("kb-text").value = KB.selected.text; });
  $("kb-retry").addEventListener("click", retry);
}
