/**
 * What the knowledge base page (知识库) shows, computed from the hub's answers: pure functions,
 * no DOM (tests/js/knowledge.test.mjs).
 */

export const STAGES = [
  ["writing", "写入数据"],
  ["training", "重新训练"],
  ["gating", "对话测试"],
  ["loading", "模型上线"],
];

const STATE_TEXT = { running: "进行中", done: "已上线", failed: "未上线" };

/** The steps of a retrain run: each done, active, failed or still to come. */
export function stageSteps(training) {
  if (!training) return STAGES.map(([name, text]) => ({ name, text, state: "todo" }));
  const at = STAGES.findIndex(([name]) => name === training.stage);
  const reached = training.stage === "done" ? STAGES.length : Math.max(at, 0);
  return STAGES.map(([name, text], i) => {
    let state = "todo";
    if (i < reached) state = "done";
    else if (i === reached) state = training.state === "failed" ? "failed" : training.state === "running" ? "active" : "todo";
    return { name, text, state };
  });
}

/** "1分05秒", "42秒". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  const m = Math.floor(s / 60);
  return m ? m + "分" + String(s % 60).padStart(2, "0") + "秒" : s + "秒";
}

/** One line over the progress panel. */
export function trainingHeadline(training) {
  if (!training) return "尚未发布过修改";
  const what = STATE_TEXT[training.state] || training.state;
  const parts = ["#" + training.id + " " + what, "用时 " + duration(training.elapsed_seconds)];
  if (training.train_seconds != null) parts.push("训练 " + duration(training.train_seconds));
  if (training.gate && training.gate.selected != null) {
    parts.push("对话测试 " + training.gate.passed + "/" + training.gate.selected);
  }
  return parts.join(" · ");
}

/** An entry's name as a supervisor reads it: the FAQ key or the phrase's response name. */
export function entryTitle(entry) {
  const key = String(entry.key || "");
  if (key.indexOf("utter_faq/") === 0) return "FAQ · " + key.slice("utter_faq/".length);
  return "话术 · " + key.replace(/^utter_/, "");
}

export function entryBadge(entry) {
  return entry.live ? ["live", "已上线"] : ["pending", "待上线"];
}

/** Entries of a kind ("" for all) whose key, example or text contains the query. */
export function filterEntries(items, kind, query) {
  const q = String(query || "").trim().toLowerCase();
  return items.filter((e) => (!kind || e.kind === kind)
    && (!q || [e.key, e.example || "", e.text].join("\n").toLowerCase().indexOf(q) >= 0));
}

/** A history row's action in words. */
export function versionAction(v) {
  return v.action === "rollback" ? "回滚 #" + v.rollback_of : "修改";
}
