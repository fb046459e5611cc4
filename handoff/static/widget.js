/*
 * 在线客服 widget — one-tag embed for any shop page:
 *   <script src="https://HUB/widget.js" data-hub="https://HUB" data-identity="..."></script>
 *
 * Everything lives in a shadow root so the host page's CSS cannot break the widget and ours
 * cannot leak out. All message text is inserted with textContent (never innerHTML).
 * Transport: websocket with automatic reconnect; while it is down, messages are sent over
 * HTTP (idempotent by client_msg_id) and new messages are polled, so nothing is lost.
 */
(function () {
  "use strict";
  if (window.__kefuWidget) return;

  var script = document.currentScript ||
    document.querySelector('script[src*="widget.js"][data-hub], script[src*="widget.js"]');
  var dataset = (script && script.dataset) || {};
  var HUB = (dataset.hub || (script && script.src ? new URL(script.src, location.href).origin : location.origin))
    .replace(/\/+$/, "");
  var IDENTITY = dataset.identity || "";
  var TITLE = dataset.title || "在线客服";
  var STORE_KEY = "kefu_widget:" + HUB;
  var POLL_MS = 3000;
  var WS_ACK_MS = 4000;

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box}",
    ".kf{font-family:-apple-system,BlinkMacSystemFont,'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC','Noto Sans SC',sans-serif;font-size:14px;line-height:1.5;color:#1f2329;-webkit-font-smoothing:antialiased}",
    ".launcher{position:fixed;right:24px;bottom:24px;width:60px;height:60px;border-radius:50%;border:0;cursor:pointer;background:linear-gradient(135deg,#1677ff,#0958d9);box-shadow:0 6px 20px rgba(22,119,255,.45);display:flex;align-items:center;justify-content:center;z-index:2147483000;transition:transform .15s}",
    ".launcher:hover{transform:scale(1.06)}",
    ".launcher svg{width:28px;height:28px;fill:#fff}",
    ".launcher .badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#f5222d;color:#fff;font-size:12px;font-weight:600;line-height:20px;text-align:center;border:2px solid #fff}",
    ".launcher .badge[hidden]{display:none}",
    ".panel{position:fixed;right:24px;bottom:96px;width:380px;height:600px;max-height:calc(100vh - 120px);background:#fff;border-radius:14px;box-shadow:0 12px 48px rgba(0,0,0,.22);display:flex;flex-direction:column;overflow:hidden;z-index:2147483001;opacity:0;transform:translateY(12px);pointer-events:none;transition:opacity .18s,transform .18s}",
    ".panel.open{opacity:1;transform:none;pointer-events:auto}",
    ".head{background:linear-gradient(135deg,#1677ff,#0958d9);color:#fff;padding:14px 16px;display:flex;align-items:center;gap:10px;flex:none}",
    ".head .avatar{width:36px;height:36px;border-radius:50%;background:rgba(255,255,255,.22);display:flex;align-items:center;justify-content:center;font-weight:600}",
    ".head .titles{flex:1;min-width:0}",
    ".head .t1{font-size:16px;font-weight:600}",
    ".head .t2{font-size:12px;opacity:.85;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}",
    ".head .dot{display:inline-block;width:7px;height:7px;border-radius:50%;background:#52c41a;margin-right:5px;vertical-align:1px}",
    ".head .dot.off{background:#faad14}",
    ".head button{background:transparent;border:0;color:#fff;cursor:pointer;width:32px;height:32px;border-radius:8px;font-size:20px;line-height:1}",
    ".head button:hover{background:rgba(255,255,255,.18)}",
    ".banner{flex:none;padding:9px 14px;background:#fff7e6;color:#ad6800;font-size:13px;border-bottom:1px solid #ffe7ba}",
    ".banner[hidden],.net[hidden]{display:none}",
    ".net{flex:none;padding:5px 14px;background:#fff1f0;color:#cf1322;font-size:12px;text-align:center}",
    ".list{flex:1;overflow-y:auto;padding:16px 14px 8px;background:#f5f6f8;scroll-behavior:smooth}",
    ".row{display:flex;margin:0 0 12px;align-items:flex-end;gap:8px}",
    ".row.me{justify-content:flex-end}",
    ".row .av{flex:none;width:30px;height:30px;border-radius:50%;display:flex;align-items:center;justify-content:center;font-size:12px;font-weight:600;color:#fff;background:#8c8c8c}",
    ".row.bot .av{background:#722ed1}",
    ".row.agent .av{background:#13a8a8}",
    ".col{max-width:78%;display:flex;flex-direction:column}",
    ".row.me .col{align-items:flex-end}",
    ".who{font-size:11px;color:#8c8c8c;margin:0 4px 2px}",
    ".bubble{padding:9px 12px;border-radius:14px;white-space:pre-wrap;word-break:break-word;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.06)}",
    ".row.bot .bubble,.row.agent .bubble{border-bottom-left-radius:4px}",
    ".row.me .bubble{background:#1677ff;color:#fff;border-bottom-right-radius:4px}",
    ".row.me.pending .bubble{opacity:.6}",
    ".row.me.failed .bubble{background:#ff7875}",
    ".meta{font-size:11px;color:#aaa;margin:2px 4px 0}",
    ".meta button{border:0;background:none;color:#cf1322;cursor:pointer;font-size:11px;padding:0}",
    ".sys{text-align:center;margin:6px 0 12px}",
    ".sys span{display:inline-block;background:#e8ebf0;color:#595959;font-size:12px;padding:4px 10px;border-radius:10px;white-space:pre-wrap}",
    ".sys.join span{background:#e6fffb;color:#08979c}",
    ".qr{display:flex;flex-wrap:wrap;gap:6px;margin:-4px 0 12px 38px}",
    ".qr button{border:1px solid #1677ff;color:#1677ff;background:#fff;border-radius:16px;padding:5px 12px;font:inherit;font-size:13px;cursor:pointer}",
    ".qr button:hover{background:#e6f4ff}",
    ".qr button:disabled{opacity:.45;cursor:default}",
    ".typing{display:flex;align-items:center;gap:8px;margin:0 0 12px}",
    ".typing[hidden]{display:none}",
    ".typing .bubble{display:flex;gap:4px;padding:12px 14px}",
    ".typing i{width:6px;height:6px;border-radius:50%;background:#a0a0a0;animation:kfb 1.2s infinite}",
    ".typing i:nth-child(2){animation-delay:.2s}.typing i:nth-child(3){animation-delay:.4s}",
    ".typing .lbl{font-size:12px;color:#8c8c8c}",
    "@keyframes kfb{0%,60%,100%{transform:translateY(0);opacity:.5}30%{transform:translateY(-4px);opacity:1}}",
    ".card{background:#fff;border-radius:12px;padding:14px;margin:4px 0 14px;box-shadow:0 1px 3px rgba(0,0,0,.08)}",
    ".card h4{margin:0 0 8px;font-size:14px;font-weight:600}",
    ".card p{margin:0 0 8px;color:#595959;font-size:13px}",
    ".stars{display:flex;gap:6px;margin:4px 0 10px}",
    ".stars button{border:0;background:none;cursor:pointer;font-size:28px;line-height:1;color:#d9d9d9;padding:0;transition:transform .1s}",
    ".stars button.on{color:#fadb14}",
    ".stars button:hover{transform:scale(1.12)}",
    ".stars-lbl{font-size:12px;color:#8c8c8c;min-height:18px}",
    ".card textarea,.card input{width:100%;border:1px solid #d9d9d9;border-radius:8px;padding:8px 10px;font:inherit;font-size:13px;margin:0 0 8px;resize:vertical;outline:none}",
    ".card textarea:focus,.card input:focus{border-color:#1677ff;box-shadow:0 0 0 2px rgba(22,119,255,.15)}",
    ".card .btn{background:#1677ff;color:#fff;border:0;border-radius:8px;padding:8px 16px;font:inherit;cursor:pointer}",
    ".card .btn:disabled{background:#91caff;cursor:default}",
    ".card .err{color:#cf1322;font-size:12px;margin:0 0 8px}",
    ".card .err:empty{display:none}",
    ".card.done{text-align:center;color:#389e0d}",
    ".foot{flex:none;border-top:1px solid #eee;padding:10px 12px;display:flex;gap:8px;align-items:flex-end;background:#fff}",
    ".foot textarea{flex:1;border:1px solid #d9d9d9;border-radius:10px;padding:8px 10px;font:inherit;resize:none;height:40px;max-height:110px;outline:none}",
    ".foot textarea:focus{border-color:#1677ff;box-shadow:0 0 0 2px rgba(22,119,255,.15)}",
    ".foot .send{flex:none;height:40px;padding:0 16px;border:0;border-radius:10px;background:#1677ff;color:#fff;font:inherit;font-weight:600;cursor:pointer}",
    ".foot .send:disabled{background:#bfbfbf;cursor:default}",
    ".powered{flex:none;text-align:center;font-size:11px;color:#bfbfbf;padding:0 0 6px;background:#fff}",
    "@media (max-width:480px){.panel{right:0;bottom:0;left:0;top:0;width:100%;height:100%;max-height:none;border-radius:0}.panel.open~.launcher{display:none}.launcher{right:16px;bottom:16px}}"
  ].join("\n");

  var CHAT_ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3C6.5 3 2 6.9 2 11.7c0 2.6 1.3 4.9 3.4 6.5L4.6 22l4.2-2.2c1 .3 2.1.4 3.2.4 5.5 0 10-3.9 10-8.6S17.5 3 12 3zm-4.5 10a1.3 1.3 0 110-2.6 1.3 1.3 0 010 2.6zm4.5 0a1.3 1.3 0 110-2.6 1.3 1.3 0 010 2.6zm4.5 0a1.3 1.3 0 110-2.6 1.3 1.3 0 010 2.6z"/></svg>';
  var CLOSE_ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M18.3 5.7a1 1 0 00-1.4 0L12 10.6 7.1 5.7a1 1 0 10-1.4 1.4l4.9 4.9-4.9 4.9a1 1 0 101.4 1.4l4.9-4.9 4.9 4.9a1 1 0 001.4-1.4L13.4 12l4.9-4.9a1 1 0 000-1.4z"/></svg>';
  var STAR_LABELS = ["", "非常不满意", "不满意", "一般", "满意", "非常满意"];

  /* ---------- small pure helpers ---------- */

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "class") node.className = attrs[k];
        else if (k === "hidden") node.hidden = !!attrs[k];
        else node.setAttribute(k, attrs[k]);
      });
    }
    if (text != null) node.textContent = String(text);
    return node;
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  function formatEta(seconds) {
    if (seconds == null || isNaN(seconds)) return "";
    var s = Math.max(0, Math.round(seconds));
    if (s < 60) return "不到 1 分钟";
    return "约 " + Math.ceil(s / 60) + " 分钟";
  }

  function formatTime(iso) {
    var d = iso ? new Date(iso) : new Date();
    if (isNaN(d.getTime())) return "";
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  function errorMessage(body, fallback) {
    return (body && body.error && body.error.message) || fallback;
  }

  function loadStore() {
    try { return JSON.parse(localStorage.getItem(STORE_KEY) || "null"); } catch (e) { return null; }
  }

  function saveStore(data) {
    try { localStorage.setItem(STORE_KEY, JSON.stringify(data)); } catch (e) { /* private mode */ }
  }

  /** A random id for this browser, kept across conversations: the hub allows one waiting place
   * in the human queue per browser (and counts new conversations per browser). */
  function visitorId() {
    var key = STORE_KEY + ":visitor", v = null;
    try { v = localStorage.getItem(key); } catch (e) { /* private mode */ }
    if (!v || !/^[A-Za-z0-9_-]{8,64}$/.test(v)) {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      v = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      try { localStorage.setItem(key, v); } catch (e) { /* private mode: a new id per conversation */ }
    }
    return v;
  }

  /* ---------- state ---------- */

  var state = {
    conversationId: null,
    token: null,
    mode: "bot",
    lastSeq: 0,
    seen: {},          // message id -> true
    pending: {},       // client_msg_id -> {row, text, title, timer}
    open: false,
    unread: 0,
    ws: null,
    wsOpen: false,
    wsRetry: 0,
    pollTimer: null,
    agentName: null,
    csatShown: false,
    csatDone: false,
    offlineShown: false,
    lastTypingSent: 0,
    starting: null,
    loaded: false,
    announced: null,
    serverJoinSeen: false,
    joinNode: null,
    offline: false
  };

  /* ---------- DOM ---------- */

  var host = el("div", { id: "kefu-widget-host" });
  var root = host.attachShadow({ mode: "open" });
  var style = el("style");
  style.textContent = CSS;
  root.appendChild(style);
  var wrap = el("div", { class: "kf" });
  root.appendChild(wrap);

  var panel = el("section", { class: "panel", role: "dialog", "aria-label": TITLE, "data-role": "panel" });
  var head = el("div", { class: "head" });
  var headAvatar = el("div", { class: "avatar" }, "客");
  var titles = el("div", { class: "titles" });
  var t1 = el("div", { class: "t1", "data-role": "title" }, TITLE);
  var t2 = el("div", { class: "t2", "data-role": "subtitle" });
  var statusDot = el("span", { class: "dot" });
  var statusText = el("span", null, "智能客服 · 7×24 小时在线");
  t2.appendChild(statusDot);
  t2.appendChild(statusText);
  titles.appendChild(t1);
  titles.appendChild(t2);
  var closeBtn = el("button", { type: "button", "aria-label": "关闭", title: "关闭", "data-role": "close" });
  closeBtn.innerHTML = CLOSE_ICON; // static markup, no user text
  closeBtn.firstChild.setAttribute("width", "20");
  closeBtn.firstChild.setAttribute("height", "20");
  closeBtn.firstChild.style.fill = "#fff";
  head.appendChild(headAvatar);
  head.appendChild(titles);
  head.appendChild(closeBtn);

  var banner = el("div", { class: "banner", "data-role": "queue", hidden: true });
  var net = el("div", { class: "net", "data-role": "net", hidden: true }, "网络连接中断，正在重连…");
  var list = el("div", { class: "list", "data-role": "messages", "aria-live": "polite" });
  var typingRow = el("div", { class: "typing", "data-role": "typing", hidden: true });
  var typingBubble = el("div", { class: "bubble" });
  typingBubble.appendChild(el("i"));
  typingBubble.appendChild(el("i"));
  typingBubble.appendChild(el("i"));
  var typingLabel = el("span", { class: "lbl" });
  typingRow.appendChild(typingBubble);
  typingRow.appendChild(typingLabel);
  list.appendChild(typingRow);

  var foot = el("div", { class: "foot" });
  var input = el("textarea", { rows: "1", placeholder: "请输入您的问题，按 Enter 发送", "aria-label": "输入消息", "data-role": "input", maxlength: "2000" });
  var sendBtn = el("button", { type: "button", class: "send", "data-role": "send" }, "发送");
  foot.appendChild(input);
  foot.appendChild(sendBtn);
  var powered = el("div", { class: "powered" }, "智能客服 7×24 小时在线 · 需要时可转人工客服");

  panel.appendChild(head);
  panel.appendChild(banner);
  panel.appendChild(net);
  panel.appendChild(list);
  panel.appendChild(foot);
  panel.appendChild(powered);

  var launcher = el("button", { type: "button", class: "launcher", "aria-label": "打开在线客服", title: TITLE, "data-role": "launcher" });
  launcher.innerHTML = CHAT_ICON; // static markup, no user text
  var badge = el("span", { class: "badge", "data-role": "unread", hidden: true });
  launcher.appendChild(badge);

  wrap.appendChild(panel);
  wrap.appendChild(launcher);

  /* ---------- rendering ---------- */

  function scrollToEnd() {
    list.scrollTop = list.scrollHeight;
  }

  function appendNode(node) {
    list.insertBefore(node, typingRow);
    scrollToEnd();
  }

  function authorLabel(msg) {
    if (msg.author === "bot") return "智能助手";
    if (msg.author === "agent") return msg.agent_name || msg.display_name || state.agentName || "人工客服";
    return "";
  }

  function clearQuickReplies() {
    var olds = list.querySelectorAll(".qr button");
    for (var i = 0; i < olds.length; i++) olds[i].disabled = true;
  }

  function renderQuickReplies(buttons) {
    var box = el("div", { class: "qr", "data-role": "quick-replies" });
    buttons.forEach(function (b) {
      var btn = el("button", { type: "button" }, b.title || b.payload);
      btn.addEventListener("click", function () {
        clearQuickReplies();
        sendMessage(b.payload || b.title, b.title || b.payload);
      });
      box.appendChild(btn);
    });
    appendNode(box);
  }

  function renderSystem(text, extraClass) {
    var row = el("div", { class: "sys" + (extraClass ? " " + extraClass : ""), "data-role": "system" });
    row.appendChild(el("span", null, text));
    appendNode(row);
    return row;
  }

  function renderCustomer(text, cmid) {
    var row = el("div", { class: "row me", "data-role": "msg-customer" });
    if (cmid) row.setAttribute("data-cmid", cmid);
    var col = el("div", { class: "col" });
    col.appendChild(el("div", { class: "bubble" }, text));
    col.appendChild(el("div", { class: "meta" }, formatTime()));
    row.appendChild(col);
    appendNode(row);
    return row;
  }

  function renderMessage(msg) {
    if (!msg || msg.internal) return;
    if (msg.id != null) {
      if (state.seen[msg.id]) return;
      state.seen[msg.id] = true;
    }
    if (msg.seq != null && msg.seq > state.lastSeq) state.lastSeq = msg.seq;
    var text = msg.author === "customer" && msg.title ? msg.title : msg.text;

    if (msg.author === "customer") {
      var p = msg.client_msg_id && state.pending[msg.client_msg_id];
      if (p) {
        confirmPending(msg.client_msg_id, msg);
        return;
      }
      var existing = msg.client_msg_id && list.querySelector('[data-cmid="' + cssEscape(msg.client_msg_id) + '"]');
      if (existing) return;
      var row0 = renderCustomer(text || "", msg.client_msg_id);
      row0.querySelector(".meta").textContent = formatTime(msg.created_at);
      return;
    }
    hideTyping();
    if (msg.author === "system") {
      if (text && /已接入/.test(text)) onServerJoinNotice();
      if (text) renderSystem(text, /已接入/.test(text) ? "join" : "");
    } else {
      var who = msg.author === "agent" ? "agent" : "bot";
      var row = el("div", { class: "row " + who, "data-role": "msg-" + who });
      var av = el("div", { class: "av" }, who === "bot" ? "AI" : initialOf(authorLabel(msg)));
      var col = el("div", { class: "col" });
      col.appendChild(el("div", { class: "who" }, authorLabel(msg)));
      if (text) col.appendChild(el("div", { class: "bubble" }, text));
      col.appendChild(el("div", { class: "meta" }, formatTime(msg.created_at)));
      row.appendChild(av);
      row.appendChild(col);
      appendNode(row);
    }
    if (msg.buttons && msg.buttons.length) {
      clearQuickReplies();
      renderQuickReplies(msg.buttons);
    }
    if (!state.open && !state.quiet) {
      state.unread += 1;
      badge.textContent = state.unread > 99 ? "99+" : String(state.unread);
      badge.hidden = false;
    }
  }

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, "\\$&");
  }

  var typingTimer = null;
  function showTyping(label) {
    typingLabel.textContent = label || "";
    typingRow.hidden = false;
    scrollToEnd();
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 6000);
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    typingRow.hidden = true;
  }

  function setHeader() {
    if (state.mode === "agent" && state.agentName) {
      headAvatar.textContent = initialOf(state.agentName);
      statusText.textContent = agentTitle(state.agentName) + " 为您服务";
      statusDot.className = "dot";
    } else if (state.mode === "queued" && state.offline) {
      headAvatar.textContent = "客";
      statusText.textContent = "人工客服暂不在线，您可以留言";
      statusDot.className = "dot off";
    } else if (state.mode === "queued") {
      headAvatar.textContent = "客";
      statusText.textContent = "正在为您转接人工客服";
      statusDot.className = "dot off";
    } else {
      headAvatar.textContent = "客";
      statusText.textContent = "智能客服 · 7×24 小时在线";
      statusDot.className = "dot";
    }
  }

  function setQueue(position, eta) {
    if (state.mode !== "queued" || position == null || state.offline) {
      banner.hidden = true;
      return;
    }
    var text = position <= 1 ? "正在为您接入人工客服，您是下一位" : "正在排队，您前面还有 " + (position - 1) + " 位";
    var etaText = formatEta(eta);
    banner.textContent = text + "（第 " + position + " 位）" + (etaText ? "，预计等待" + etaText : "");
    banner.hidden = false;
  }

  /** Same rule as the hub: "客服 小李" / "主管 王敏" stay as they are, a bare "小李" becomes "客服 小李". */
  function agentTitle(name) {
    name = String(name || "").trim();
    if (!name) return "人工客服";
    return /^客服/.test(name) || /\s/.test(name) ? name : "客服 " + name;
  }

  function initialOf(name) {
    var parts = String(name || "").trim().split(/\s+/);
    return (parts[parts.length - 1] || "客").slice(0, 1);
  }

  /** Local join notice, unless the hub already stored one (that one survives reloads). */
  function announceAgent() {
    if (state.announced === state.agentName || state.serverJoinSeen) return;
    state.announced = state.agentName;
    state.joinNode = renderSystem(agentTitle(state.agentName) + " 已接入，将为您服务", "join");
  }

  function onServerJoinNotice() {
    state.serverJoinSeen = true;
    if (state.joinNode) {
      state.joinNode.remove();
      state.joinNode = null;
    }
  }

  function setMode(mode) {
    if (!mode) return;
    var prev = state.mode;
    state.mode = mode;
    if (mode !== "queued") banner.hidden = true;
    if (mode !== "agent" && prev === "agent") {
      state.announced = null;
      state.serverJoinSeen = false;
      state.joinNode = null;
    }
    if (mode === "queued" && prev !== "queued") state.serverJoinSeen = false;
    if (mode !== "queued") state.offline = false;
    if (mode === "bot" && prev === "agent") state.agentName = null;
    if (mode === "queued" || mode === "agent") {
      state.csatShown = false;
      state.csatDone = false;
    }
    setHeader();
  }

  /* ---------- CSAT + leave a message ---------- */

  function showCsat() {
    if (state.csatShown || state.csatDone) return;
    state.csatShown = true;
    var card = el("div", { class: "card", "data-role": "csat" });
    card.appendChild(el("h4", null, "请为本次服务打分"));
    card.appendChild(el("p", null, "您的评价将帮助我们改进服务"));
    var stars = el("div", { class: "stars", role: "radiogroup", "aria-label": "满意度评分" });
    var label = el("div", { class: "stars-lbl" });
    var score = 0;
    var btns = [];
    function paint(n) {
      btns.forEach(function (b, i) { b.className = i < n ? "on" : ""; });
      label.textContent = STAR_LABELS[n] || "";
    }
    for (var i = 1; i <= 5; i++) {
      (function (n) {
        var b = el("button", { type: "button", "aria-label": n + " 星", "data-score": String(n), role: "radio" }, "★");
        b.addEventListener("mouseenter", function () { paint(n); });
        b.addEventListener("mouseleave", function () { paint(score); });
        b.addEventListener("click", function () { score = n; paint(n); submit.disabled = false; });
        btns.push(b);
        stars.appendChild(b);
      })(i);
    }
    var comment = el("textarea", { rows: "2", placeholder: "还有什么想告诉我们的？（选填）", maxlength: "500" });
    var err = el("div", { class: "err" });
    var submit = el("button", { type: "button", class: "btn" }, "提交评价");
    submit.disabled = true;
    submit.addEventListener("click", function () {
      if (!score) return;
      submit.disabled = true;
      err.textContent = "";
      api("POST", "/api/conversations/" + state.conversationId + "/csat", { score: score, comment: comment.value.trim() })
        .then(function () {
          state.csatDone = true;
          persist();
          var done = el("div", { class: "card done", "data-role": "csat-done" }, "感谢您的评价（" + score + " 星）！祝您生活愉快。");
          card.replaceWith(done);
        })
        .catch(function (e) {
          err.textContent = e.message || "提交失败，请稍后重试";
          submit.disabled = false;
        });
    });
    card.appendChild(stars);
    card.appendChild(label);
    card.appendChild(comment);
    card.appendChild(err);
    card.appendChild(submit);
    appendNode(card);
  }

  function showLeaveMessage() {
    if (state.offlineShown) return;
    state.offlineShown = true;
    var card = el("div", { class: "card", "data-role": "leave-message" });
    card.appendChild(el("h4", null, "人工客服暂时不在线"));
    card.appendChild(el("p", null, "请留下您的问题和联系方式，客服上线后会尽快联系您。"));
    var text = el("textarea", { rows: "3", placeholder: "请描述您的问题（必填）", maxlength: "2000", name: "text" });
    var contact = el("input", { type: "text", placeholder: "手机号或邮箱（必填）", maxlength: "100", name: "contact" });
    var err = el("div", { class: "err" });
    var submit = el("button", { type: "button", class: "btn" }, "提交留言");
    submit.addEventListener("click", function () {
      var t = text.value.trim();
      var c = contact.value.trim();
      if (!t) { err.textContent = "请填写留言内容"; return; }
      if (!/^(1\d{10}|[^@\s]+@[^@\s]+\.[^@\s]+)$/.test(c)) { err.textContent = "请填写有效的手机号或邮箱"; return; }
      err.textContent = "";
      submit.disabled = true;
      api("POST", "/api/conversations/" + state.conversationId + "/leave_message", { text: t, contact: c })
        .then(function (body) {
          var done = el("div", { class: "card done", "data-role": "leave-message-done" },
            "留言已提交" + (body && body.ticket_id != null ? "（工单号 " + body.ticket_id + "）" : "") + "，我们会尽快联系您。");
          card.replaceWith(done);
        })
        .catch(function (e) {
          err.textContent = e.message || "提交失败，请稍后重试";
          submit.disabled = false;
        });
    });
    card.appendChild(text);
    card.appendChild(contact);
    card.appendChild(err);
    card.appendChild(submit);
    appendNode(card);
  }

  /* ---------- network ---------- */

  function api(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    return fetch(HUB + path, {
      method: method,
      headers: headers,
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit"
    }).catch(function () {
      var err = new Error("网络连接失败");
      err.status = 0;
      throw err;
    }).then(function (res) {
      return res.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        if (!res.ok) {
          var err = new Error(errorMessage(data, "请求失败（" + res.status + "）"));
          err.status = res.status;
          err.code = data && data.error && data.error.code;
          err.data = data;
          throw err;
        }
        return data;
      });
    });
  }

  function persist() {
    saveStore({
      conversation_id: state.conversationId,
      token: state.token,
      identity: IDENTITY,
      csat_done: state.csatDone
    });
  }

  function applySnapshot(conv) {
    var prevMode = state.mode;
    var firstLoad = !state.loaded;
    state.loaded = true;
    setMode(conv.mode);
    if (conv.agent && conv.agent.display_name) state.agentName = conv.agent.display_name;
    setHeader();
    state.quiet = firstLoad; // history is not "unread"
    (conv.messages || []).forEach(renderMessage);
    state.quiet = false;
    // a join seen by polling (socket down) still gets its notice, once
    if (!firstLoad && conv.mode === "agent" && prevMode !== "agent" && state.agentName) announceAgent();
    if (conv.queue) setQueue(conv.queue.position, conv.queue.eta_seconds);
    if (conv.csat_pending || conv.csat_requested) showCsat();
  }

  function createConversation() {
    var body = { channel: "web", visitor: visitorId() };
    if (IDENTITY) body.identity = IDENTITY;
    return api("POST", "/api/conversations", body).then(function (data) {
      state.conversationId = data.conversation_id;
      state.token = data.token;
      state.csatDone = false;
      persist();
      setMode(data.mode || "bot");
      return api("GET", "/api/conversations/" + state.conversationId);
    }).then(function (conv) {
      applySnapshot(conv);
      if (!conv.messages || !conv.messages.length) {
        renderSystem("您好，欢迎光临！我是智能客服，请问有什么可以帮您？\n可以问我：退款多久到账、七天无理由退货、运费、发票……");
      }
      connectWs();
    });
  }

  function resumeConversation(saved) {
    state.conversationId = saved.conversation_id;
    state.token = saved.token;
    state.csatDone = !!saved.csat_done;
    return api("GET", "/api/conversations/" + state.conversationId).then(function (conv) {
      applySnapshot(conv);
      connectWs();
      return readOn({ has_more: conv.has_more });
    });
  }

  /** Resume the stored conversation or start a new one; concurrent callers share one start. */
  function ensureStarted() {
    if (state.conversationId && state.token) return Promise.resolve();
    if (state.starting) return state.starting;
    var saved = loadStore();
    var p;
    if (saved && saved.conversation_id && saved.token && (saved.identity || "") === IDENTITY) {
      p = resumeConversation(saved).catch(function (e) {
        if (e.status === 401 || e.status === 403 || e.status === 404) {
          state.conversationId = null;
          state.token = null;
          saveStore(null);
          return createConversation();
        }
        throw e;
      });
    } else {
      p = createConversation();
    }
    state.starting = p.then(function () { state.starting = null; }, function (e) {
      state.starting = null;
      state.conversationId = null;
      var notice = "暂时无法连接客服系统：" + (e.message || "网络错误") + "，请稍后重试。";
      var lastSys = list.querySelectorAll(".sys");
      if (!lastSys.length || lastSys[lastSys.length - 1].textContent !== notice) renderSystem(notice);
      throw e;
    });
    return state.starting;
  }

  function wsUrl() {
    var u = new URL(HUB + "/ws/customer");
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    u.searchParams.set("conversation_id", state.conversationId);
    u.searchParams.set("token", state.token);
    return u.toString();
  }

  function connectWs() {
    if (!state.conversationId || state.ws) return;
    var ws;
    try { ws = new WebSocket(wsUrl()); } catch (e) { scheduleReconnect(); return; }
    state.ws = ws;
    ws.onopen = function () {
      state.wsOpen = true;
      net.hidden = true;
      stopPolling();
      catchUp();
    };
    ws.onmessage = function (ev) {
      state.wsRetry = 0; // the hub answered: only a socket that works resets the backoff
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      handleEvent(data);
    };
    ws.onclose = function (ev) {
      var wasOpen = state.wsOpen;
      state.ws = null;
      state.wsOpen = false;
      if (ev.code === 4401 || ev.code === 4403 || ev.code === 1008) {
        // token refused: the conversation is gone; start over on the next open
        saveStore(null);
        return;
      }
      if (wasOpen) net.hidden = false;
      startPolling();
      scheduleReconnect();
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  function scheduleReconnect() {
    // exponential, with jitter so widgets cut off together do not all come back in the same second
    var delay = Math.min(15000, 1000 * Math.pow(2, state.wsRetry)) * (0.75 + Math.random() * 0.5);
    state.wsRetry += 1;
    setTimeout(connectWs, delay);
  }

  /** Messages after the newest one shown, page by page (a page holds 500). */
  function readOn(page) {
    ((page && page.messages) || []).forEach(renderMessage);
    if (!page || !page.has_more || !state.conversationId) return Promise.resolve();
    return api("GET", "/api/conversations/" + state.conversationId + "/messages?after=" + state.lastSeq)
      .then(readOn);
  }

  function catchUp() {
    if (!state.conversationId) return Promise.resolve();
    return api("GET", "/api/conversations/" + state.conversationId + "?after=" + state.lastSeq).then(function (conv) {
      applySnapshot(conv);
      return readOn({ has_more: conv.has_more });
    }).then(function () {
      net.hidden = true;
    }).catch(function () { if (!state.wsOpen) net.hidden = false; });
  }

  function startPolling() {
    if (state.pollTimer) return;
    state.pollTimer = setInterval(catchUp, POLL_MS);
  }

  function stopPolling() {
    clearInterval(state.pollTimer);
    state.pollTimer = null;
  }

  function handleEvent(ev) {
    switch (ev.type) {
      case "message":
        renderMessage(ev.message);
        break;
      case "mode":
        setMode(ev.mode);
        if (ev.mode !== "queued") banner.hidden = true;
        break;
      case "queue":
        if (state.mode !== "queued") setMode("queued");
        setQueue(ev.position, ev.eta_seconds);
        break;
      case "agent_joined":
        state.offline = false;
        state.agentName = ev.display_name || "人工客服";
        setMode("agent");
        announceAgent();
        break;
      case "typing":
        if (ev.author === "agent") showTyping((state.agentName ? agentTitle(state.agentName) : "客服") + " 正在输入…");
        break;
      case "ack":
        if (ev.client_msg_id) confirmPending(ev.client_msg_id, ev.message);
        break;
      case "csat_request":
        showCsat();
        break;
      case "offline":
        // nobody can take the chat now: no queue promise, offer the message form instead
        state.offline = true;
        banner.hidden = true;
        setHeader();
        if (ev.can_leave_message !== false) showLeaveMessage();
        break;
      default:
        break;
    }
  }

  /* ---------- sending ---------- */

  function confirmPending(cmid, stored) {
    var p = state.pending[cmid];
    if (!p) return;
    clearTimeout(p.timer);
    delete state.pending[cmid];
    p.row.classList.remove("pending", "failed");
    p.row.querySelector(".meta").textContent = formatTime(stored && stored.created_at);
    if (stored && stored.id != null) state.seen[stored.id] = true;
    if (stored && stored.seq > state.lastSeq) state.lastSeq = stored.seq;
  }

  function markFailed(cmid, reason) {
    var p = state.pending[cmid];
    if (!p) return;
    p.row.classList.add("failed");
    var meta = p.row.querySelector(".meta");
    meta.textContent = (reason || "发送失败") + " ";
    var retry = el("button", { type: "button" }, "重试");
    retry.addEventListener("click", function () {
      p.row.classList.remove("failed");
      meta.textContent = "发送中…";
      postMessage(cmid);
    });
    meta.appendChild(retry);
    hideTyping();
  }

  function postMessage(cmid) {
    var p = state.pending[cmid];
    if (!p) return Promise.resolve();
    var body = { text: p.text, client_msg_id: cmid };
    if (p.title && p.title !== p.text) body.title = p.title;
    if (state.mode === "bot") showTyping("");
    return api("POST", "/api/conversations/" + state.conversationId + "/messages", body)
      .then(function (data) {
        confirmPending(cmid, data && data.message);
        ((data && data.replies) || []).forEach(renderMessage);
        if (state.mode === "bot") hideTyping();
      })
      .catch(function (e) {
        if (e.code === "reply_pending") { // stored; the reply arrives on the socket or the next catch-up
          confirmPending(cmid, e.data && e.data.message);
          return;
        }
        if (e.status && e.status < 500 && e.status !== 408 && e.status !== 429) {
          markFailed(cmid, e.message);
        } else {
          markFailed(cmid, "网络异常，未发送");
        }
      });
  }

  function sendMessage(text, title) {
    text = (text || "").trim();
    if (!text) return;
    ensureStarted().then(function () {
      var cmid = newId();
      var row = renderCustomer(title || text, cmid);
      row.classList.add("pending");
      row.querySelector(".meta").textContent = "发送中…";
      state.pending[cmid] = { row: row, text: text, title: title || text, timer: null };
      // Buttons (title differs from payload) and bot-mode messages go over HTTP: the
      // response carries the bot's replies. Otherwise prefer the websocket and fall back to
      // HTTP with the same client_msg_id (stored once) if it is not acknowledged in time.
      if (state.wsOpen && state.mode !== "bot" && !(title && title !== text)) {
        try {
          state.ws.send(JSON.stringify({ type: "message", text: text, client_msg_id: cmid }));
          state.pending[cmid].timer = setTimeout(function () { postMessage(cmid); }, WS_ACK_MS);
          return;
        } catch (e) { /* fall through to HTTP */ }
      }
      postMessage(cmid);
    }).catch(function () { /* already reported */ });
  }

  function sendTyping() {
    if (!state.conversationId || state.mode === "bot") return;
    var now = Date.now();
    if (now - state.lastTypingSent < 2500) return;
    state.lastTypingSent = now;
    if (state.wsOpen) {
      try { state.ws.send(JSON.stringify({ type: "typing" })); return; } catch (e) { /* http */ }
    }
    api("POST", "/api/conversations/" + state.conversationId + "/typing").catch(function () {});
  }

  /* ---------- UI events ---------- */

  function openPanel() {
    state.open = true;
    panel.classList.add("open");
    launcher.setAttribute("aria-label", "收起在线客服");
    state.unread = 0;
    badge.hidden = true;
    ensureStarted().catch(function () {});
    setTimeout(function () { input.focus(); scrollToEnd(); }, 50);
  }

  function closePanel() {
    state.open = false;
    panel.classList.remove("open");
    launcher.setAttribute("aria-label", "打开在线客服");
  }

  launcher.addEventListener("click", function () { state.open ? closePanel() : openPanel(); });
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { closePanel(); launcher.focus(); }
  });
  closeBtn.addEventListener("click", closePanel);
  sendBtn.addEventListener("click", function () {
    var v = input.value;
    input.value = "";
    autoGrow();
    sendMessage(v);
    input.focus();
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendBtn.click();
    }
  });
  function autoGrow() {
    input.style.height = "40px";
    input.style.height = Math.min(110, input.scrollHeight + 2) + "px";
  }
  input.addEventListener("input", function () { autoGrow(); sendTyping(); });

  function mount() {
    document.body.appendChild(host);
    // A stored conversation is resumed at once (history + live updates after a reload).
    var saved = loadStore();
    if (saved && saved.conversation_id && (saved.identity || "") === IDENTITY) {
      ensureStarted().catch(function () {});
    }
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  window.__kefuWidget = {
    open: openPanel,
    close: closePanel,
    send: function (text) { sendMessage(text); },
    state: function () {
      return { conversation_id: state.conversationId, mode: state.mode, ws_open: state.wsOpen };
    }
  };
})();
