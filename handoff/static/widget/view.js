/**
 * The widget's DOM: built once inside a shadow root, so the host page's CSS cannot break it and
 * ours cannot leak out. All message text goes in with textContent (`el`), never innerHTML.
 */

import { el } from "../shared/dom.js";
import { CHAT_ICON, CLOSE_ICON, CSS } from "./style.js";
import { headerStatus, queueBanner } from "./text.js";

export function buildView(title) {
  const host = el("div", { id: "kefu-widget-host" });
  const root = host.attachShadow({ mode: "open" });
  const style = el("style");
  style.textContent = CSS;
  root.appendChild(style);
  const wrap = el("div", { class: "kf" });
  root.appendChild(wrap);

  const panel = el("section", { class: "panel", role: "dialog", "aria-label": title, "data-role": "panel" });
  const head = el("div", { class: "head" });
  const headAvatar = el("div", { class: "avatar" }, "客");
  const titles = el("div", { class: "titles" });
  const t1 = el("div", { class: "t1", "data-role": "title" }, title);
  const t2 = el("div", { class: "t2", "data-role": "subtitle" });
  const statusDot = el("span", { class: "dot" });
  const statusText = el("span", null, "智能客服 · 7×24 小时在线");
  t2.append(statusDot, statusText);
  titles.append(t1, t2);
  const closeBtn = el("button", { type: "button", "aria-label": "关闭", title: "关闭", "data-role": "close" });
  closeBtn.innerHTML = CLOSE_ICON; // static markup, no user text
  closeBtn.firstChild.setAttribute("width", "20");
  closeBtn.firstChild.setAttribute("height", "20");
  closeBtn.firstChild.style.fill = "#fff";
  head.append(headAvatar, titles, closeBtn);

  const banner = el("div", { class: "banner", "data-role": "queue", hidden: true });
  const net = el("div", { class: "net", "data-role": "net", hidden: true }, "网络连接中断，正在重连…");
  const list = el("div", { class: "list", "data-role": "messages", "aria-live": "polite" });
  const typingRow = el("div", { class: "typing", "data-role": "typing", hidden: true });
  const typingBubble = el("div", { class: "bubble" });
  typingBubble.append(el("i"), el("i"), el("i"));
  const typingLabel = el("span", { class: "lbl" });
  typingRow.append(typingBubble, typingLabel);
  list.appendChild(typingRow);

  const foot = el("div", { class: "foot" });
  const input = el("textarea", { rows: "1", placeholder: "请输入您的问题，按 Enter 发送", "aria-label": "输入消息",
    "data-role": "input", maxlength: "2000" });
  const sendBtn = el("button", { type: "button", class: "send", "data-role": "send" }, "发送");
  foot.append(input, sendBtn);
  const powered = el("div", { class: "powered" }, "智能客服 7×24 小时在线 · 需要时可转人工客服");
  panel.append(head, banner, net, list, foot, powered);

  const launcher = el("button", { type: "button", class: "launcher", "aria-label": "打开在线客服", title,
    "data-role": "launcher" });
  launcher.innerHTML = CHAT_ICON; // static markup, no user text
  const badge = el("span", { class: "badge", "data-role": "unread", hidden: true });
  launcher.appendChild(badge);
  wrap.append(panel, launcher);

  return { host, panel, headAvatar, statusDot, statusText, closeBtn, banner, net, list, typingRow, typingLabel,
    input, sendBtn, launcher, badge, typingTimer: null };
}

export function scrollToEnd(ui) {
  ui.list.scrollTop = ui.list.scrollHeight;
}

/** A node at the end of the message list (the typing dots stay last). */
export function appendNode(ui, node) {
  ui.list.insertBefore(node, ui.typingRow);
  scrollToEnd(ui);
}

export function renderSystem(ui, text, extraClass) {
  const row = el("div", { class: "sys" + (extraClass ? " " + extraClass : ""), "data-role": "system" });
  row.appendChild(el("span", null, text));
  appendNode(ui, row);
  return row;
}

export function showTyping(ui, label) {
  ui.typingLabel.textContent = label || "";
  ui.typingRow.hidden = false;
  scrollToEnd(ui);
  clearTimeout(ui.typingTimer);
  ui.typingTimer = setTimeout(() => hideTyping(ui), 6000);
}

export function hideTyping(ui) {
  clearTimeout(ui.typingTimer);
  ui.typingRow.hidden = true;
}

export function setHeader(ui, state) {
  const h = headerStatus(state.mode, state.offline, state.agentName, state.agentTitle);
  ui.headAvatar.textContent = h.avatar;
  ui.statusText.textContent = h.text;
  ui.statusDot.className = h.waiting ? "dot off" : "dot";
}

/** The queue banner, shown only while queued with somebody to wait for. */
export function setQueueBanner(ui, state, position, waitText) {
  if (state.mode !== "queued" || position == null || state.offline) {
    ui.banner.hidden = true;
    return;
  }
  ui.banner.textContent = queueBanner(position, waitText);
  ui.banner.hidden = false;
}
