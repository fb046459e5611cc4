/** Supervisors: the silent-agent limits per team (skill group), or alerts off for a team. */

import { el } from "../shared/dom.js";
import { onlyRequestErrors } from "../shared/http.js";
import { api } from "./api.js";
import { loadSilence } from "./alerts.js";
import { label } from "./labels.js";
import { toast } from "./notify.js";
import { $, S, isSupervisor } from "./state.js";

function numberInput(value, name) {
  const input = el("input", { type: "number", min: "1", max: "86400", step: "1", "aria-label": name });
  input.value = String(Math.round(value));
  return input;
}

export function renderTeams() {
  const tbody = document.querySelector("#teams-table tbody");
  if (!tbody || !isSupervisor()) return;
  tbody.textContent = "";
  (S.teams || []).forEach((t) => {
    const tr = el("tr");
    tr.setAttribute("data-role", "team-row");
    tr.setAttribute("data-skill", t.skill);
    tr.appendChild(el("td", null, label("skill", t.skill)));
    const on = el("input", { type: "checkbox", "aria-label": "开启提醒" });
    on.checked = !!t.silence_alerts;
    const first = numberInput(t.agent_after, "客服提醒（秒）");
    const second = numberInput(t.supervisor_after, "主管提醒（秒）");
    [on, first, second].forEach((input) => {
      const td = el("td");
      td.appendChild(input);
      tr.appendChild(td);
    });
    const td = el("td");
    const save = el("button", "btn small", "保存");
    save.setAttribute("data-role", "team-save");
    save.addEventListener("click", () => {
      api("PUT", "/api/supervisor/teams/" + encodeURIComponent(t.skill), {
        silence_alerts: on.checked, agent_after: Number(first.value), supervisor_after: Number(second.value),
      }).then(() => { toast(label("skill", t.skill) + " 的提醒设置已保存", "ok"); return loadSilence(); })
        .catch((err) => { onlyRequestErrors(err); toast("保存失败：" + err.message, "error"); });
    });
    td.appendChild(save);
    tr.appendChild(td);
    tbody.appendChild(tr);
  });
}
