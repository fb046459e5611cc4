/**
 * What agent assist and the review page (学习) show, pure (tested with node --test): no DOM,
 * no network.
 */

/** The composer's text after inserting a suggestion: appended on a new line, never sent. */
export function insertText(current, text) {
  const kept = String(current || "").replace(/\s+$/, "");
  return kept ? kept + "\n" + text : text;
}

/** One suggestion chip: its badge, title and a one-line preview of the reply. */
export function suggestionView(s, previewChars = 46) {
  const text = String(s.text || "").replace(/\s+/g, " ").trim();
  const chars = Array.from(text);
  return {
    badge: s.kind === "faq" ? "知识库" : "话术",
    title: String(s.title || ""),
    preview: chars.length > previewChars ? chars.slice(0, previewChars).join("") + "…" : text,
    match: Math.round(Math.max(0, Math.min(1, Number(s.score) || 0)) * 100) + "%",
  };
}

export const KIND_LABELS = {
  fallback: "未识别", out_of_scope: "超出范围", low_confidence: "置信度低", not_understood: "无法理解转人工",
};

/** "未识别 ×3 · 超出范围 ×1", most frequent first. */
export function kindsText(kinds) {
  return Object.entries(kinds || {}).sort((a, b) => b[1] - a[1])
    .map(([k, n]) => (KIND_LABELS[k] || k) + " ×" + n).join(" · ");
}

export const FAQ_KEY = /^[a-z][a-z0-9_]{1,40}$/;
export const NEW_FAQ = "__new_faq__";
export const IGNORE = "ignore";

/**
 * The body of a label request from the review card's controls, or {error} in Chinese.
 * `choice` is a label from the list, NEW_FAQ (then key and answer) or IGNORE.
 */
export function labelRequest(group, choice, key, answer) {
  const ids = (group && group.item_ids) || [];
  if (!ids.length) return { error: "这一组没有消息" };
  if (!choice) return { error: "请选择意图或问答" };
  if (choice !== NEW_FAQ) return { body: { item_ids: ids, label: choice } };
  const k = String(key || "").trim();
  const a = String(answer || "").trim();
  if (!FAQ_KEY.test(k)) return { error: "问答编号须为小写字母开头，只含小写字母、数字和下划线（2–41 位）" };
  if (!a) return { error: "请填写答案" };
  if (Array.from(a).length > 1000) return { error: "答案最多 1000 字" };
  return { body: { item_ids: ids, new_faq: { key: k, answer: a } } };
}

/** What a supervisor is told after labelling. */
export function labelledText(result) {
  if (!result.file) return "已忽略 " + result.labelled + " 条消息";
  let text = "已标注 " + result.labelled + " 条，" + result.file + " 现有 " + result.examples + " 条训练样例";
  if (result.held_out) text += "（" + result.held_out + " 条与测试集相同，未写入）";
  return text;
}
