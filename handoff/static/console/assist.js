/**
 * Agent assist: standard replies (FAQ answers and canned replies) for the customer's last
 * message, ranked by the hub with the bot's NLU. A click puts the text into the composer for
 * editing; nothing is sent. With the bot's NLU down the hub still ranks canned replies by
 * wording, and a failed request just hides the strip (no toast per message).
 */

import { el } from "../shared/dom.js";
import { onlyRequestErrors } from "../shared/http.js";
import { api, conversationPath } from "./api.js";
import { $, S, isMine } from "./state.js";
import { insertText, suggestionView } from "./teaching.js";

let asked = 0; // the newest request: an older answer arriving late is dropped

function hide() {
  $("assist").hidden = true;
  $("assist-list").textContent = "";
}

/** Ask again for the open chat (opened, or a new customer message arrived). */
export function refreshSuggestions() {
  const c = S.current;
  if (!c || !isMine(c)) { hide(); return Promise.resolve(); }
  const id = c.conversation_id;
  const mine = ++asked;
  return api("GET", conversationPath(id, "/suggestions")).then((body) => {
    if (mine !== asked || S.currentId !== id) return;
    render(body);
  }, (err) => {
    onlyRequestErrors(err);
    if (mine === asked) hide();
  });
}

function render(body) {
  const list = $("assist-list");
  list.textContent = "";
  const items = body.suggestions || [];
  if (!items.length) { hide(); return; }
  items.forEach((s) => {
    const v = suggestionView(s);
    const chip = el("button", { class: "assist-chip " + s.kind, type: "button", "data-role": "suggestion",
      "data-kind": s.kind, title: s.text });
    chip.appendChild(el("em", null, v.badge));
    chip.appendChild(el("b", null, v.title));
    chip.appendChild(el("span", null, v.preview));
    chip.addEventListener("click", () => {
      const input = $("composer-input");
      input.value = insertText(input.value, s.text);
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    });
    list.appendChild(chip);
  });
  $("assist-note").textContent = body.nlu === "ok" ? "按客户最后一条消息推荐，点击插入回复框" : "机器人理解服务暂不可用，仅按字面匹配话术";
  $("assist").hidden = false;
}
