/** Canned replies (标准话术): the picker in the composer (/ or Ctrl+K) and the list supervisors edit. */

import { el } from "../shared/dom.js";
import { onlyRequestErrors } from "../shared/http.js";
import { api } from "./api.js";
import { toast } from "./notify.js";
import { $, S, isMine, isSupervisor } from "./state.js";

const picker = { slash: false, index: 0, matches: [], loading: null };

export function openCanned(query, slash) {
  picker.slash = slash;
  picker.index = 0;
  $("canned-pop").hidden = false;
  $("canned-filter").value = query;
  filterCanned();
  $("canned-filter").focus();
  // a supervisor may have edited the list since login: refresh it while the picker is open
  picker.loading = loadCanned().then(() => {
    picker.loading = null;
    if (!$("canned-pop").hidden) filterCanned();
  });
}

function closeCanned(restoreFocus) {
  $("canned-pop").hidden = true;
  if (restoreFocus !== false) $("composer-input").focus();
}

function filterCanned() {
  const q = $("canned-filter").value.trim().toLowerCase();
  picker.matches = S.canned.filter((c) => !q || (c.title + " " + c.text).toLowerCase().indexOf(q) >= 0);
  if (picker.index >= picker.matches.length) picker.index = 0;
  const ul = $("canned-options");
  ul.textContent = "";
  if (!picker.matches.length) {
    ul.appendChild(el("li", "none", S.canned.length ? "没有匹配的话术" : "暂无标准话术"));
    return;
  }
  picker.matches.forEach((c, i) => {
    const li = el("li", i === picker.index ? "active" : "");
    li.setAttribute("role", "option");
    li.setAttribute("data-role", "canned-option");
    li.appendChild(el("b", null, c.title));
    li.appendChild(el("span", null, c.text));
    li.addEventListener("mousedown", (e) => { e.preventDefault(); insertCanned(c); });
    ul.appendChild(li);
  });
}

function insertCanned(c) {
  const input = $("composer-input");
  let v = input.value;
  if (picker.slash && v.charAt(0) === "/") v = v.slice(1);
  input.value = v ? v.replace(/\s*$/, "") + (v.trim() ? "\n" : "") + c.text : c.text;
  closeCanned();
  input.setSelectionRange(input.value.length, input.value.length);
}

export function loadCanned() {
  return api("GET", "/api/agent/canned").then((b) => {
    S.canned = b.items;
    renderCannedList();
  }).catch(onlyRequestErrors);
}

export function renderCannedList() {
  const box = $("canned-list");
  box.textContent = "";
  if (!S.canned.length) box.appendChild(el("div", "muted", "暂无标准话术"));
  S.canned.forEach((c) => {
    const card = el("div", "canned-card");
    card.setAttribute("data-role", "canned-card");
    card.appendChild(el("b", null, c.title));
    card.appendChild(el("p", null, c.text));
    if (isSupervisor()) {
      const acts = el("div", "acts");
      const edit = el("button", "btn small", "编辑");
      edit.addEventListener("click", () => editCanned(c));
      const del = el("button", "btn small danger", "删除");
      del.addEventListener("click", () => {
        if (!confirm("确定删除话术“" + c.title + "”？")) return;
        api("DELETE", "/api/agent/canned/" + c.id).then(() => { toast("已删除", "ok"); loadCanned(); })
          .catch((err) => { onlyRequestErrors(err); toast("删除失败：" + err.message, "error"); });
      });
      acts.append(edit, del);
      card.appendChild(acts);
    }
    box.appendChild(card);
  });
}

function editCanned(c) {
  S.editingCanned = c ? c.id : null;
  $("canned-title").value = c ? c.title : "";
  $("canned-text").value = c ? c.text : "";
  $("canned-save").textContent = c ? "保存修改" : "新增话术";
  $("canned-cancel").hidden = !c;
  $("canned-error").textContent = "";
  if (c) $("canned-title").focus();
}

export function initCanned() {
  $("canned-filter").addEventListener("input", () => { picker.index = 0; filterCanned(); });
  $("canned-filter").addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const n = picker.matches.length;
      if (!n) return;
      picker.index = (picker.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      filterCanned();
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (picker.matches[picker.index]) insertCanned(picker.matches[picker.index]);
      else if (picker.loading) {
        // typed faster than the refreshed list arrived: pick once it is there
        picker.loading.then(() => {
          if (!$("canned-pop").hidden && picker.matches[picker.index]) insertCanned(picker.matches[picker.index]);
        });
      }
    } else if (e.key === "Escape") {
      e.preventDefault();
      closeCanned();
    }
  });
  $("canned-filter").addEventListener("blur", () => { setTimeout(() => closeCanned(false), 120); });
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && (e.key === "k" || e.key === "K") && S.view === "chats" && S.current &&
        isMine(S.current)) {
      e.preventDefault();
      openCanned("", false);
    }
  });
  $("canned-cancel").addEventListener("click", () => editCanned(null));
  $("canned-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { title: $("canned-title").value.trim(), text: $("canned-text").value.trim() };
    if (!body.title || !body.text) { $("canned-error").textContent = "标题和内容都不能为空"; return; }
    const editing = S.editingCanned != null;
    const req = editing ? api("PUT", "/api/agent/canned/" + S.editingCanned, body) : api("POST", "/api/agent/canned", body);
    req.then(() => { toast(editing ? "话术已更新" : "话术已新增", "ok"); editCanned(null); loadCanned(); })
      .catch((err) => { onlyRequestErrors(err); $("canned-error").textContent = err.message; });
  });
}
