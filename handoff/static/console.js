/*
 * Agent console (plain JS, no build step). Talks to the hub's /api/agent/* endpoints with the
 * HttpOnly session cookie + X-CSRF-Token header, and listens on /ws/agent for live updates;
 * when the socket is down it polls so the queue never goes stale. All customer-provided text
 * is inserted with textContent.
 */
(function () {
  "use strict";

  var LABELS = {
    reason: {
      requested: "客户要求人工", not_understood: "机器人无法理解", verification_failed: "身份验证未通过",
      offline_message: "非工作时间留言", human_request: "客户要求人工", asked_human: "客户要求人工", human_agent: "客户要求人工", request: "客户要求人工",
      angry: "客户情绪激动", anger: "客户情绪激动", emotion: "客户情绪激动",
      fallback: "机器人无法理解", nlu_fallback: "机器人无法理解", not_understood: "机器人无法理解",
      urgent: "紧急问题", tier1: "紧急问题", account_stolen: "账号被盗", stolen_account: "账号被盗", scam_report: "疑似诈骗",
      double_charge: "重复扣款", double_payment: "重复扣款", payment_failed: "支付失败", payment_issue: "支付问题",
      complaint: "投诉", bot_unavailable: "机器人不可用", vip: "VIP 客户", transfer: "转接", offline: "非工作时间"
    },
    priority: { urgent: "紧急", high: "高", normal: "普通", low: "低" },
    skill: { general: "综合", orders: "订单", refunds: "退款", payments: "支付", presales: "售前", aftersales: "售后", after_sales: "售后", payment: "支付",
      account: "账户安全", complaint: "投诉", vip: "VIP", logistics: "物流", refund: "退款" },
    channel: { web: "网页", wechat: "微信" },
    mode: { bot: "机器人", queued: "排队中", agent: "人工服务中", closed: "已结束" },
    presence: { online: "在线", away: "离开", offline: "离线" },
    role: { agent: "客服", supervisor: "主管" },
    ticket: { open: "待处理", pending: "处理中", solved: "已解决" },
    emotion: { angry: "愤怒", anger: "愤怒", negative: "不满", upset: "不满", anxious: "焦急", neutral: "平静", positive: "满意" },
    order: { pending_payment: "待付款", paid: "已付款", shipped: "已发货", in_transit: "运输中", delivered: "已签收",
      completed: "已完成", cancelled: "已取消", canceled: "已取消", refunding: "退款中", refunded: "已退款",
      presale: "预售", returned: "已退货" }
  };

  /* ---------- pure helpers ---------- */

  function label(kind, code) {
    if (code == null || code === "") return "";
    return (LABELS[kind] && LABELS[kind][code]) || String(code);
  }

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = String(text);
    return n;
  }

  function toDate(v) {
    if (v == null || v === "") return null;
    if (typeof v === "number") return new Date(v < 1e12 ? v * 1000 : v);
    var d = new Date(v);
    return isNaN(d.getTime()) ? null : d;
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function fmtTime(v) {
    var d = toDate(v);
    if (!d) return "";
    var now = new Date();
    var hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    if (d.toDateString() === now.toDateString()) return hm;
    return (d.getMonth() + 1) + "月" + d.getDate() + "日 " + hm;
  }

  function fmtDuration(sec) {
    if (sec == null || isNaN(sec)) return "—";
    sec = Math.max(0, Math.round(sec));
    if (sec < 60) return sec + " 秒";
    var m = Math.floor(sec / 60), s = sec % 60;
    if (m < 60) return m + ":" + pad(s);
    return Math.floor(m / 60) + " 小时 " + (m % 60) + " 分";
  }

  function fmtMoney(v) {
    if (v == null || v === "") return "";
    var n = Number(v);
    return isNaN(n) ? String(v) : "¥" + n.toFixed(2);
  }

  function itemsOf(body, key) {
    if (Array.isArray(body)) return body;
    if (!body) return [];
    return body.items || body[key] || [];
  }

  function convId(c) { return c.conversation_id || c.id; }

  /** Avatar letter: "客服 小李" -> "小", "张伟" -> "张". */
  function initial(name) {
    var parts = String(name || "").trim().split(/\s+/);
    return (parts[parts.length - 1] || "?").slice(0, 1);
  }

  /* ---------- state ---------- */

  var S = {
    me: null,
    csrf: "",
    queue: [], queueAt: Date.now(), knownQueue: null,
    mine: [], unread: {},
    current: null, currentId: null,
    canned: [], tickets: [],
    view: "chats", tab: "queue",
    composeMode: "reply",
    ws: null, wsOpen: false, wsRetry: 0,
    pollTimer: null, statsTimer: null,
    lastTypingSent: 0, typingTimer: null,
    baseTitle: document.title, titleTimer: null,
    audio: null, editingCanned: null
  };

  /* ---------- HTTP ---------- */

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    // shared by the console's tabs: the latest login's session cookie and CSRF token go together
    var csrf = storedCsrf() || S.csrf;
    if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
    return fetch(path, {
      method: method, headers: headers, credentials: "same-origin",
      body: body !== undefined ? JSON.stringify(body) : undefined
    }).then(function (res) {
      return res.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        if (!res.ok) {
          var err = new Error((data && data.error && data.error.message) || ("请求失败（" + res.status + "）"));
          err.status = res.status;
          err.code = data && data.error && data.error.code;
          if (res.status === 401 && path !== "/api/agent/login" && S.me) onLoggedOut("登录已过期，请重新登录");
          if (res.status === 403 && err.code === "csrf_failed" && S.me) onLoggedOut("安全校验失败，请重新登录");
          throw err;
        }
        return data;
      });
    });
  }

  function storedCsrf() {
    try { return localStorage.getItem("kefu_csrf") || ""; } catch (e) { return ""; }
  }

  function storeCsrf(token) {
    S.csrf = token || "";
    try {
      if (token) localStorage.setItem("kefu_csrf", token);
      else localStorage.removeItem("kefu_csrf");
    } catch (e) { /* storage disabled: S.csrf still works in this tab */ }
  }

  /* ---------- toasts, sound, title ---------- */

  function toast(text, kind) {
    var t = el("div", "toast" + (kind ? " " + kind : ""), text);
    t.setAttribute("data-role", "toast");
    $("toasts").appendChild(t);
    setTimeout(function () { t.remove(); }, kind === "error" ? 6000 : 3500);
    return t;
  }

  function queueToastText(n) { return "有 " + n + " 位新客户在排队"; }

  function pruneQueueToasts() {
    // a "new in queue" toast must not outlive its chats: recount it, or drop it once all were claimed or left
    var waiting = {};
    S.queue.forEach(function (q) { waiting[convId(q)] = true; });
    document.querySelectorAll("#toasts [data-queue-ids]").forEach(function (t) {
      var left = t.getAttribute("data-queue-ids").split(" ").filter(function (id) { return waiting[id]; });
      if (!left.length) { t.remove(); return; }
      t.setAttribute("data-queue-ids", left.join(" "));
      t.textContent = queueToastText(left.length);
    });
  }

  function unlockAudio() {
    try {
      if (!S.audio) S.audio = new (window.AudioContext || window.webkitAudioContext)();
      if (S.audio.state === "suspended") S.audio.resume();
    } catch (e) { S.audio = null; }
  }

  /** Two short sine beeps; WebAudio needs no sound file and no network. */
  function beep() {
    if (!S.audio) return;
    try {
      var t0 = S.audio.currentTime;
      [0, 0.18].forEach(function (offset) {
        var osc = S.audio.createOscillator(), gain = S.audio.createGain();
        osc.type = "sine";
        osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.0001, t0 + offset);
        gain.gain.exponentialRampToValueAtTime(0.25, t0 + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + offset + 0.14);
        osc.connect(gain).connect(S.audio.destination);
        osc.start(t0 + offset);
        osc.stop(t0 + offset + 0.15);
      });
    } catch (e) { /* audio unavailable */ }
  }

  function alertTitle(text) {
    clearInterval(S.titleTimer);
    var on = false, ticks = 0;
    S.titleTimer = setInterval(function () {
      on = !on;
      ticks += 1;
      document.title = on ? "【" + text + "】" + S.baseTitle : S.baseTitle;
      if ((ticks > 10 && document.hasFocus()) || ticks > 120) stopTitleAlert();
    }, 1000);
    document.title = "【" + text + "】" + S.baseTitle;
  }

  function stopTitleAlert() {
    clearInterval(S.titleTimer);
    S.titleTimer = null;
    document.title = S.baseTitle;
  }
  window.addEventListener("focus", function () { if (S.titleTimer) setTimeout(stopTitleAlert, 3000); });

  /* ---------- login ---------- */

  function showLogin(msg) {
    $("app").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = msg || "";
    setTimeout(function () { $("login-user").focus(); }, 0);
  }

  function onLoggedOut(msg) {
    S.me = null;
    storeCsrf("");
    if (S.ws) { try { S.ws.onclose = null; S.ws.close(); } catch (e) { /* closed */ } }
    S.ws = null;
    clearInterval(S.pollTimer);
    S.pollTimer = null;
    showLogin(msg);
  }

  $("login-form").addEventListener("submit", function (e) {
    e.preventDefault();
    unlockAudio();
    var btn = $("login-submit");
    btn.disabled = true;
    $("login-error").textContent = "";
    api("POST", "/api/agent/login", { username: $("login-user").value.trim(), password: $("login-pass").value })
      .then(function (body) {
        storeCsrf(body.csrf_token || "");
        $("login-pass").value = "";
        startApp(body.agent || body);
      })
      .catch(function (err) {
        $("login-error").textContent = err.status === 401 || err.status === 403 ? "账号或密码错误" : err.message;
      })
      .finally(function () { btn.disabled = false; });
  });

  $("logout").addEventListener("click", function () {
    api("POST", "/api/agent/logout", {}).catch(function () {}).finally(function () { onLoggedOut(""); });
  });

  function isSupervisor() { return S.me && S.me.role === "supervisor"; }

  function startApp(agent) {
    S.me = agent;
    $("login").hidden = true;
    $("app").hidden = false;
    $("me-name").textContent = agent.display_name || agent.username;
    $("me-role").textContent = label("role", agent.role);
    $("me-avatar").textContent = initial(agent.display_name || agent.username);
    document.querySelectorAll(".sup-only").forEach(function (n) { n.hidden = !isSupervisor(); });
    $("canned-note").textContent = isSupervisor() ? "主管可新增、修改、删除话术" : "话术由主管维护；在回复框输入 / 或按 Ctrl+K 快速插入";
    setPresenceUi(agent.presence || "offline");
    if ((agent.presence || "offline") === "offline") setPresence("online");
    refreshQueue();
    refreshMine();
    loadCanned();
    loadTickets();
    connectWs();
    switchView(S.view);
  }

  /* ---------- presence ---------- */

  function setPresenceUi(p) {
    $("presence").value = p;
    $("presence-dot").className = "pdot " + p;
  }

  function setPresence(p) {
    return api("POST", "/api/agent/presence", { status: p }).then(function () {
      setPresenceUi(p);
      if (S.me) S.me.presence = p;
    }).catch(function (err) {
      toast("切换状态失败：" + err.message, "error");
      setPresenceUi((S.me && S.me.presence) || "offline");
    });
  }
  $("presence").addEventListener("change", function () { setPresence(this.value); });

  /* ---------- views ---------- */

  var VIEW_TITLES = { chats: "会话", tickets: "留言工单", canned: "标准话术", stats: "数据看板" };

  function switchView(v) {
    if (v === "stats" && !isSupervisor()) v = "chats";
    S.view = v;
    document.querySelectorAll(".rail-btn").forEach(function (b) { b.classList.toggle("active", b.dataset.view === v); });
    ["chats", "tickets", "canned", "stats"].forEach(function (name) { $("view-" + name).hidden = name !== v; });
    $("view-title").textContent = VIEW_TITLES[v];
    clearInterval(S.statsTimer);
    if (v === "stats") { loadStats(); S.statsTimer = setInterval(loadStats, 5000); }
    if (v === "tickets") loadTickets();
    if (v === "canned") renderCannedList();
  }
  document.querySelectorAll(".rail-btn").forEach(function (b) {
    b.addEventListener("click", function () { switchView(b.dataset.view); });
  });

  function switchTab(tab) {
    S.tab = tab;
    document.querySelectorAll(".tab").forEach(function (t) { t.classList.toggle("active", t.dataset.tab === tab); });
    $("queue-list").hidden = tab !== "queue";
    $("mine-list").hidden = tab !== "mine";
  }
  document.querySelectorAll(".tab").forEach(function (t) {
    t.addEventListener("click", function () { switchTab(t.dataset.tab); });
  });

  /* ---------- queue ---------- */

  function tagsFor(c) {
    var tags = [];
    if (c.priority) tags.push(["tag p-" + c.priority, label("priority", c.priority) + "优先级"]);
    if (c.vip_level) tags.push(["tag vip", "VIP" + c.vip_level]);
    if (c.reason) tags.push(["tag reason", label("reason", c.reason)]);
    if (c.emotion && c.emotion !== "neutral") tags.push(["tag angry", "情绪：" + label("emotion", c.emotion)]);
    if (c.channel) tags.push(["tag channel", label("channel", c.channel)]);
    if (c.skill) tags.push(["tag", label("skill", c.skill) + "组"]);
    return tags.map(function (t) { return el("span", t[0], t[1]); });
  }

  function setQueue(items) {
    var ids = items.map(convId);
    if (S.knownQueue) {
      var fresh = ids.filter(function (id) { return !S.knownQueue[id]; });
      if (fresh.length && S.me && S.me.presence !== "offline") {
        beep();
        alertTitle("新会话");
        toast(queueToastText(fresh.length)).setAttribute("data-queue-ids", fresh.join(" "));
      }
    }
    S.knownQueue = {};
    ids.forEach(function (id) { S.knownQueue[id] = true; });
    S.queue = items;
    S.queueAt = Date.now();
    renderQueue();
  }

  function renderQueue() {
    pruneQueueToasts();
    var box = $("queue-list");
    box.textContent = "";
    $("count-queue").textContent = S.queue.length;
    updateChatBadge();
    if (!S.queue.length) {
      box.appendChild(el("div", "inbox-empty", "暂无排队客户"));
      return;
    }
    S.queue.forEach(function (q) {
      var id = convId(q);
      var item = el("div", "item" + (S.currentId === id ? " selected" : ""));
      item.setAttribute("data-role", "queue-item");
      item.setAttribute("data-id", id);
      var top = el("div", "item-top");
      top.appendChild(el("span", "item-name", q.customer_name || (q.customer && q.customer.name) || "访客 " + id.slice(0, 6)));
      var wait = el("span", "item-wait");
      wait.setAttribute("data-waited", q.waited_seconds || 0);
      top.appendChild(wait);
      item.appendChild(top);
      var tags = el("div", "item-tags");
      tagsFor(q).forEach(function (t) { tags.appendChild(t); });
      item.appendChild(tags);
      if (q.summary) item.appendChild(el("div", "item-summary", q.summary));
      var foot = el("div", "item-foot");
      foot.appendChild(el("span", "spacer"));
      var claim = el("button", "btn primary small", "接入");
      claim.setAttribute("data-role", "claim");
      claim.addEventListener("click", function (e) { e.stopPropagation(); claimConversation(id); });
      foot.appendChild(claim);
      item.appendChild(foot);
      item.addEventListener("click", function () { openConversation(id); });
      box.appendChild(item);
    });
    tickWaits();
  }

  function tickWaits() {
    var extra = (Date.now() - S.queueAt) / 1000;
    document.querySelectorAll("#queue-list .item-wait").forEach(function (w) {
      var sec = Number(w.getAttribute("data-waited")) + extra;
      w.textContent = "已等待 " + fmtDuration(sec);
      w.classList.toggle("long", sec >= 120);
    });
  }
  setInterval(tickWaits, 1000);

  function refreshQueue() {
    return api("GET", "/api/agent/queue").then(function (b) { setQueue(itemsOf(b, "queue")); }).catch(function () {});
  }

  function claimConversation(id) {
    S.justClaimed = id;
    return api("POST", "/api/agent/conversations/" + encodeURIComponent(id) + "/claim", {})
      .then(function () {
        S.queue = S.queue.filter(function (q) { return convId(q) !== id; });
        renderQueue();
        stopTitleAlert();
        toast("已接入会话", "ok");
        switchTab("mine");
        return refreshMine().then(function () { return openConversation(id); });
      })
      .catch(function (err) {
        if (err.status === 409) {
          toast("已被其他客服接入", "error");
          S.queue = S.queue.filter(function (q) { return convId(q) !== id; });
          renderQueue();
          if (S.currentId === id) openConversation(id);
        } else {
          toast("接入失败：" + err.message, "error");
        }
      });
  }

  /* ---------- my conversations ---------- */

  function refreshMine() {
    return api("GET", "/api/agent/conversations?scope=mine").then(function (b) {
      S.mine = itemsOf(b, "conversations").filter(function (c) { return c.mode !== "closed" && c.mode !== "bot"; });
      renderMine();
    }).catch(function () {});
  }

  function renderMine() {
    var box = $("mine-list");
    box.textContent = "";
    $("count-mine").textContent = S.mine.length;
    updateChatBadge();
    if (!S.mine.length) {
      box.appendChild(el("div", "inbox-empty", "当前没有进行中的会话"));
      return;
    }
    S.mine.forEach(function (c) {
      var id = convId(c);
      var item = el("div", "item" + (S.currentId === id ? " selected" : ""));
      item.setAttribute("data-role", "mine-item");
      item.setAttribute("data-id", id);
      var top = el("div", "item-top");
      top.appendChild(el("span", "item-name", c.customer_name || (c.customer && c.customer.name) || "访客 " + id.slice(0, 6)));
      var last = c.last_message || null;
      top.appendChild(el("span", "item-wait", fmtTime((last && last.created_at) || c.updated_at)));
      item.appendChild(top);
      var tags = el("div", "item-tags");
      tagsFor(c).forEach(function (t) { tags.appendChild(t); });
      item.appendChild(tags);
      var foot = el("div", "item-foot");
      var preview = last ? (last.author === "customer" ? "" : "我：") + (last.title || last.text || "") : (c.summary || "");
      var p = el("div", "item-summary", preview);
      p.style.flex = "1";
      foot.appendChild(p);
      var n = S.unread[id] || 0;
      if (n) {
        var u = el("span", "unread", n > 99 ? "99+" : n);
        u.setAttribute("data-role", "unread");
        foot.appendChild(u);
      }
      item.appendChild(foot);
      item.addEventListener("click", function () { openConversation(id); });
      box.appendChild(item);
    });
  }

  function updateChatBadge() {
    var total = 0;
    Object.keys(S.unread).forEach(function (k) { total += S.unread[k]; });
    var b = $("badge-chats");
    var n = total + S.queue.length;
    b.hidden = !n;
    b.textContent = n > 99 ? "99+" : n;
  }

  /* ---------- chat view ---------- */

  function openConversation(id) {
    S.currentId = id;
    delete S.unread[id];
    renderQueue();
    renderMine();
    return api("GET", "/api/agent/conversations/" + encodeURIComponent(id)).then(function (conv) {
      if (S.currentId !== id) return;
      S.current = conv;
      renderConversation();
    }).catch(function (err) {
      toast("打开会话失败：" + err.message, "error");
    });
  }

  function handoffOf(c) {
    var h = c.handoff || {};
    return {
      reason: h.reason || c.reason, priority: h.priority || c.priority, skill: h.skill || c.skill,
      summary: h.summary || c.summary, emotion: h.emotion || c.emotion
    };
  }

  function isMine(c) {
    var aid = c.assigned_agent_id != null ? c.assigned_agent_id : (c.agent && c.agent.id);
    return c.mode === "agent" && S.me && aid === S.me.id;
  }

  function renderConversation() {
    var c = S.current;
    $("chat-empty").hidden = true;
    $("chat-inner").hidden = false;
    var cust = c.customer || null;
    $("chat-name").textContent = (cust && cust.name) || c.customer_name || "访客 " + convId(c).slice(0, 6);
    var tags = $("chat-tags");
    tags.textContent = "";
    var h = handoffOf(c);
    tags.appendChild(el("span", "tag mode", label("mode", c.mode)));
    tagsFor({ priority: h.priority, reason: h.reason, emotion: h.emotion, channel: c.channel, skill: h.skill,
      vip_level: (cust && cust.vip_level) || c.vip_level }).forEach(function (t) { tags.appendChild(t); });

    var mine = isMine(c);
    $("btn-claim").hidden = c.mode !== "queued";
    $("btn-transfer").hidden = !mine;
    $("btn-return").hidden = !mine;
    $("btn-close").hidden = !mine;
    $("composer").classList.toggle("disabled", !mine);
    $("composer-input").disabled = !mine;
    $("btn-send").disabled = !mine;
    $("composer-input").placeholder = mine ? (S.composeMode === "note" ? "写一条内部备注（客户看不到）…" : "输入回复内容…")
      : (c.mode === "queued" ? "接入后即可回复" : c.mode === "bot" || c.mode === "closed" ? "人工服务已结束，会话已交回机器人"
        : "该会话由其他客服处理");
    $("peer-typing").hidden = true;

    renderTranscript();
    renderSide();
  }

  function transcriptItems(c) {
    var all = (c.messages || []).slice();
    var seen = {};
    all.forEach(function (m) { seen[m.id] = true; });
    (c.notes || []).forEach(function (n) {
      if (seen[n.id]) return;
      all.push(Object.assign({ internal: true, author: "agent" }, n));
    });
    all.sort(function (a, b) {
      if (a.seq != null && b.seq != null) return a.seq - b.seq;
      return (toDate(a.created_at) || 0) - (toDate(b.created_at) || 0);
    });
    return all;
  }

  function renderTranscript() {
    var box = $("transcript");
    box.textContent = "";
    var handedOff = false;
    transcriptItems(S.current).forEach(function (m) {
      var h = handoffOf(S.current);
      if (!handedOff && h.reason && (m.author === "agent" || m.author === "system")) {
        // where the bot part ends and the human part begins
        var d = el("div", "divider", "转人工" + " · " + label("reason", h.reason));
        d.setAttribute("data-role", "handoff-divider");
        box.appendChild(d);
        handedOff = true;
      }
      box.appendChild(messageNode(m));
    });
    box.scrollTop = box.scrollHeight;
  }

  function agentName(m) {
    if (m.agent_name) return m.agent_name;
    if (S.me && m.agent_id === S.me.id) return S.me.display_name || "我";
    return "客服";
  }

  function messageNode(m) {
    if (m.author === "system" && !m.internal) {
      var s = el("div", "sysline");
      s.setAttribute("data-role", "msg-system");
      s.appendChild(el("span", null, m.text));
      return s;
    }
    var kind = m.internal ? "note" : m.author;
    var row = el("div", "m " + kind);
    row.setAttribute("data-role", "msg-" + kind);
    if (m.id) row.setAttribute("data-id", m.id);
    var av = el("div", "av", kind === "customer" ? "客" : kind === "bot" ? "AI" : kind === "note" ? "注" : initial(agentName(m)));
    var body = el("div", "body");
    var who = el("div", "who", kind === "customer" ? ((S.current.customer && S.current.customer.name) || "客户")
      : kind === "bot" ? "机器人" : kind === "note" ? (m.author === "system" ? "系统提示（客户不可见）" : "内部备注 · " + agentName(m) + "（客户不可见）") : agentName(m));
    who.appendChild(el("time", null, fmtTime(m.created_at)));
    body.appendChild(who);
    var text = m.author === "customer" && m.title ? m.title : m.text;
    body.appendChild(el("div", "txt", text));
    if (m.buttons && m.buttons.length) {
      var btns = el("div", "btns");
      m.buttons.forEach(function (b) { btns.appendChild(el("span", null, b.title || b.payload)); });
      body.appendChild(btns);
    }
    row.appendChild(av);
    row.appendChild(body);
    return row;
  }

  function appendToTranscript(m) {
    if (!S.current) return;
    var msgs = S.current.messages || (S.current.messages = []);
    if (m.id && msgs.some(function (x) { return x.id === m.id; })) return;
    msgs.push(m);
    renderTranscript();
  }

  function renderSide() {
    var c = S.current, side = $("side");
    side.textContent = "";
    var cust = c.customer;
    side.appendChild(el("h3", null, "客户信息"));
    var head = el("div", "cust");
    head.appendChild(el("div", "big-av", ((cust && cust.name) || "访").slice(0, 1)));
    var nm = el("div");
    nm.appendChild(el("div", "cust-name", (cust && cust.name) || "未登录访客"));
    if (cust && cust.vip_level) nm.appendChild(el("span", "tag vip", "VIP" + cust.vip_level));
    head.appendChild(nm);
    side.appendChild(head);
    var kv = el("dl", "kv");
    function row(k, v) {
      if (v == null || v === "") return;
      kv.appendChild(el("dt", null, k));
      var dd = el("dd", null, v);
      kv.appendChild(dd);
      return dd;
    }
    if (cust) {
      row("客户编号", cust.id);
      var phone = row("手机号", cust.phone_masked);
      if (phone) phone.setAttribute("data-role", "phone-masked");
      row("会员等级", cust.vip_level ? "VIP" + cust.vip_level : "普通会员");
    } else {
      row("身份", "未验证（网站访客）");
    }
    row("渠道", label("channel", c.channel));
    row("会话编号", convId(c));
    side.appendChild(kv);

    var h = handoffOf(c);
    if (h.reason || h.summary) {
      side.appendChild(el("h3", null, "转人工信息"));
      var hk = el("dl", "kv");
      kv = hk;
      row("原因", label("reason", h.reason));
      row("优先级", label("priority", h.priority));
      row("技能组", label("skill", h.skill));
      row("情绪", h.emotion ? label("emotion", h.emotion) : "");
      side.appendChild(hk);
      if (h.summary) {
        var sb = el("div", "summary-box", h.summary);
        sb.style.marginTop = "8px";
        side.appendChild(sb);
      }
    }

    side.appendChild(el("h3", null, "最近订单"));
    var orders = c.orders || [];
    if (!orders.length) side.appendChild(el("div", "muted", cust ? "暂无订单" : "访客未登录，无法查看订单"));
    orders.forEach(function (o) {
      var card = el("div", "order");
      card.setAttribute("data-role", "order");
      var top = el("div", "order-top");
      top.appendChild(el("span", "order-id", o.order_id || o.id));
      top.appendChild(el("span", "order-status", label("order", o.status)));
      card.appendChild(top);
      var items = o.items_summary || o.title || o.product || (Array.isArray(o.items) ? o.items.map(function (i) { return i.name || i.title || i; }).join("、") : "");
      if (items) card.appendChild(el("div", null, items));
      var meta = [fmtMoney(o.amount != null ? o.amount : o.total), fmtTime(o.created_at), o.presale || o.is_presale ? "预售" : ""]
        .filter(Boolean).join(" · ");
      if (meta) card.appendChild(el("div", "order-meta", meta));
      side.appendChild(card);
    });
  }

  /* ---------- composer ---------- */

  function setComposeMode(mode) {
    S.composeMode = mode;
    document.querySelectorAll(".ctab").forEach(function (b) { b.classList.toggle("active", b.dataset.mode === mode); });
    $("composer").classList.toggle("note", mode === "note");
    $("btn-send").textContent = mode === "note" ? "添加备注" : "发送";
    if (S.current) renderConversation();
    $("composer-input").focus();
  }
  document.querySelectorAll(".ctab").forEach(function (b) {
    b.addEventListener("click", function () { setComposeMode(b.dataset.mode); });
  });

  function sendReply() {
    var input = $("composer-input");
    var text = input.value.trim();
    if (!text || !S.current) return;
    var id = convId(S.current);
    var internal = S.composeMode === "note";
    $("btn-send").disabled = true;
    $("composer-error").textContent = "";
    api("POST", "/api/agent/conversations/" + encodeURIComponent(id) + "/messages", { text: text, internal: internal })
      .then(function (body) {
        input.value = "";
        var m = (body && body.message) || body;
        if (m && m.id && S.currentId === id) appendToTranscript(m);
      })
      .catch(function (err) { $("composer-error").textContent = "发送失败：" + err.message; })
      .finally(function () { $("btn-send").disabled = !(S.current && isMine(S.current)); input.focus(); });
  }

  $("btn-send").addEventListener("click", sendReply);
  $("composer-input").addEventListener("keydown", function (e) {
    if (!$("canned-pop").hidden) return;
    if ((e.ctrlKey || e.metaKey) && (e.key === "k" || e.key === "K")) {
      e.preventDefault();
      openCanned("", false);
      return;
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendReply();
    }
  });
  $("composer-input").addEventListener("input", function () {
    var v = this.value;
    if (v === "/") { openCanned("", true); return; }
    sendAgentTyping();
  });

  function sendAgentTyping() {
    if (!S.current || S.composeMode === "note") return;
    var now = Date.now();
    if (now - S.lastTypingSent < 2500) return;
    S.lastTypingSent = now;
    var id = convId(S.current);
    if (S.wsOpen) {
      try { S.ws.send(JSON.stringify({ type: "typing", conversation_id: id })); return; } catch (e) { /* http */ }
    }
    api("POST", "/api/agent/conversations/" + encodeURIComponent(id) + "/typing", {}).catch(function () {});
  }

  /* ---------- canned replies picker ---------- */

  var picker = { slash: false, index: 0, matches: [], loading: null };

  function openCanned(query, slash) {
    picker.slash = slash;
    picker.index = 0;
    $("canned-pop").hidden = false;
    $("canned-filter").value = query;
    filterCanned();
    $("canned-filter").focus();
    // a supervisor may have edited the list since login: refresh it while the picker is open
    picker.loading = loadCanned().then(function () {
      picker.loading = null;
      if (!$("canned-pop").hidden) filterCanned();
    });
  }

  function closeCanned(restoreFocus) {
    $("canned-pop").hidden = true;
    if (restoreFocus !== false) $("composer-input").focus();
  }

  function filterCanned() {
    var q = $("canned-filter").value.trim().toLowerCase();
    picker.matches = S.canned.filter(function (c) {
      return !q || (c.title + " " + c.text).toLowerCase().indexOf(q) >= 0;
    });
    if (picker.index >= picker.matches.length) picker.index = 0;
    var ul = $("canned-options");
    ul.textContent = "";
    if (!picker.matches.length) {
      ul.appendChild(el("li", "none", S.canned.length ? "没有匹配的话术" : "暂无标准话术"));
      return;
    }
    picker.matches.forEach(function (c, i) {
      var li = el("li", i === picker.index ? "active" : "");
      li.setAttribute("role", "option");
      li.setAttribute("data-role", "canned-option");
      li.appendChild(el("b", null, c.title));
      li.appendChild(el("span", null, c.text));
      li.addEventListener("mousedown", function (e) { e.preventDefault(); insertCanned(c); });
      ul.appendChild(li);
    });
  }

  function insertCanned(c) {
    var input = $("composer-input");
    var v = input.value;
    if (picker.slash && v.charAt(0) === "/") v = v.slice(1);
    input.value = v ? v.replace(/\s*$/, "") + (v.trim() ? "\n" : "") + c.text : c.text;
    closeCanned();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  $("canned-filter").addEventListener("input", function () { picker.index = 0; filterCanned(); });
  $("canned-filter").addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      var n = picker.matches.length;
      if (!n) return;
      picker.index = (picker.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      filterCanned();
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (picker.matches[picker.index]) insertCanned(picker.matches[picker.index]);
      else if (picker.loading) {
        // typed faster than the refreshed list arrived: pick once it is there
        picker.loading.then(function () {
          if (!$("canned-pop").hidden && picker.matches[picker.index]) insertCanned(picker.matches[picker.index]);
        });
      }
    } else if (e.key === "Escape") {
      e.preventDefault();
      closeCanned();
    }
  });
  $("canned-filter").addEventListener("blur", function () { setTimeout(function () { closeCanned(false); }, 120); });
  document.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && (e.key === "k" || e.key === "K") && S.view === "chats" && S.current && isMine(S.current)) {
      e.preventDefault();
      openCanned("", false);
    }
  });

  function loadCanned() {
    return api("GET", "/api/agent/canned").then(function (b) {
      S.canned = itemsOf(b, "canned");
      renderCannedList();
    }).catch(function () {});
  }

  function renderCannedList() {
    var box = $("canned-list");
    box.textContent = "";
    if (!S.canned.length) box.appendChild(el("div", "muted", "暂无标准话术"));
    S.canned.forEach(function (c) {
      var card = el("div", "canned-card");
      card.setAttribute("data-role", "canned-card");
      card.appendChild(el("b", null, c.title));
      card.appendChild(el("p", null, c.text));
      if (isSupervisor()) {
        var acts = el("div", "acts");
        var edit = el("button", "btn small", "编辑");
        edit.addEventListener("click", function () { editCanned(c); });
        var del = el("button", "btn small danger", "删除");
        del.addEventListener("click", function () {
          if (!confirm("确定删除话术“" + c.title + "”？")) return;
          api("DELETE", "/api/agent/canned/" + c.id).then(function () { toast("已删除", "ok"); loadCanned(); })
            .catch(function (err) { toast("删除失败：" + err.message, "error"); });
        });
        acts.appendChild(edit);
        acts.appendChild(del);
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
  $("canned-cancel").addEventListener("click", function () { editCanned(null); });
  $("canned-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var body = { title: $("canned-title").value.trim(), text: $("canned-text").value.trim() };
    if (!body.title || !body.text) { $("canned-error").textContent = "标题和内容都不能为空"; return; }
    var req = S.editingCanned != null ? api("PUT", "/api/agent/canned/" + S.editingCanned, body) : api("POST", "/api/agent/canned", body);
    req.then(function () { toast(S.editingCanned != null ? "话术已更新" : "话术已新增", "ok"); editCanned(null); loadCanned(); })
      .catch(function (err) { $("canned-error").textContent = err.message; });
  });

  /* ---------- chat actions ---------- */

  $("btn-claim").addEventListener("click", function () { if (S.current) claimConversation(convId(S.current)); });

  $("btn-close").addEventListener("click", function () {
    if (!S.current) return;
    var id = convId(S.current);
    api("POST", "/api/agent/conversations/" + encodeURIComponent(id) + "/close", {})
      .then(function () { toast("会话已结束，已邀请客户评价", "ok"); afterLeave(id); })
      .catch(function (err) { toast("结束失败：" + err.message, "error"); });
  });

  $("btn-return").addEventListener("click", function () {
    if (!S.current) return;
    var id = convId(S.current);
    api("POST", "/api/agent/conversations/" + encodeURIComponent(id) + "/return_to_bot", {})
      .then(function () { toast("已转回机器人", "ok"); afterLeave(id); })
      .catch(function (err) { toast("操作失败：" + err.message, "error"); });
  });

  function afterLeave(id) {
    S.mine = S.mine.filter(function (c) { return convId(c) !== id; });
    delete S.unread[id];
    renderMine();
    openConversation(id);
    refreshMine();
  }

  $("btn-transfer").addEventListener("click", function () {
    var skills = $("transfer-skill"), agents = $("transfer-agent");
    skills.textContent = "";
    ["general", "orders", "refunds", "payments", "account"].forEach(function (s) {
      var o = el("option", null, label("skill", s) + "组");
      o.value = s;
      skills.appendChild(o);
    });
    agents.textContent = "";
    $("transfer-error").textContent = "";
    loadAgents().then(function (list) {
      list.filter(function (a) { return !S.me || a.id !== S.me.id; }).forEach(function (a) {
        var o = el("option", null, (a.display_name || a.username) + "（" + label("presence", a.presence) + "）");
        o.value = a.id;
        agents.appendChild(o);
      });
      if (!agents.options.length) agents.appendChild(el("option", null, "暂无其他客服"));
    });
    $("transfer-dialog").showModal();
  });

  function loadAgents() {
    return api("GET", "/api/agent/agents").then(function (b) { return itemsOf(b, "agents"); })
      .catch(function () {
        return api("GET", "/api/supervisor/stats").then(function (b) { return (b && b.agents) || []; }).catch(function () { return []; });
      });
  }

  $("transfer-form").addEventListener("submit", function (e) {
    var dlg = $("transfer-dialog");
    if (e.submitter && e.submitter.value !== "ok") return;
    e.preventDefault();
    if (!S.current) { dlg.close(); return; }
    var type = document.querySelector('input[name="ttype"]:checked').value;
    var body = type === "agent" ? { agent_id: Number($("transfer-agent").value) } : { skill: $("transfer-skill").value };
    if (type === "agent" && !body.agent_id) { $("transfer-error").textContent = "请选择客服"; return; }
    var id = convId(S.current);
    api("POST", "/api/agent/conversations/" + encodeURIComponent(id) + "/transfer", body)
      .then(function () { dlg.close(); toast("已转接", "ok"); afterLeave(id); })
      .catch(function (err) { $("transfer-error").textContent = err.message; });
  });

  /* ---------- tickets ---------- */

  function loadTickets() {
    var st = $("ticket-filter").value;
    return api("GET", "/api/agent/tickets" + (st ? "?status=" + st : "")).then(function (b) {
      S.tickets = itemsOf(b, "tickets");
      renderTickets();
    }).catch(function () {});
  }
  $("ticket-filter").addEventListener("change", loadTickets);

  function renderTickets() {
    var tbody = document.querySelector("#tickets-table tbody");
    tbody.textContent = "";
    var st = $("ticket-filter").value;
    var rows = S.tickets.filter(function (t) { return !st || t.status === st; });
    $("tickets-empty").hidden = rows.length > 0;
    var open = S.tickets.filter(function (t) { return t.status === "open"; }).length;
    $("badge-tickets").hidden = !open;
    $("badge-tickets").textContent = open;
    rows.forEach(function (t) {
      var tr = el("tr");
      tr.setAttribute("data-role", "ticket-row");
      tr.appendChild(el("td", null, "#" + t.id));
      tr.appendChild(el("td", null, fmtTime(t.created_at)));
      var who = el("td", null, t.contact || "—");
      if (t.customer_id) who.appendChild(el("div", "muted", "客户 " + t.customer_id));
      tr.appendChild(who);
      tr.appendChild(el("td", "text", t.text));
      var due = toDate(t.due_at);
      var dueTd = el("td", due && due < new Date() && t.status !== "solved" ? "overdue" : "", due ? fmtTime(t.due_at) : "—");
      tr.appendChild(dueTd);
      var td = el("td");
      var sel = el("select");
      sel.setAttribute("aria-label", "工单状态");
      ["open", "pending", "solved"].forEach(function (s) {
        var o = el("option", null, label("ticket", s));
        o.value = s;
        sel.appendChild(o);
      });
      sel.value = t.status;
      sel.addEventListener("change", function () {
        var prev = t.status;
        api("PATCH", "/api/agent/tickets/" + t.id, { status: sel.value })
          .then(function () { t.status = sel.value; toast("工单 #" + t.id + " 已更新为" + label("ticket", sel.value), "ok"); renderTickets(); })
          .catch(function (err) { sel.value = prev; toast("更新失败：" + err.message, "error"); });
      });
      td.appendChild(sel);
      tr.appendChild(td);
      tbody.appendChild(tr);
    });
  }

  /* ---------- supervisor stats ---------- */

  function pick(obj) {
    for (var i = 1; i < arguments.length; i++) {
      var path = arguments[i].split("."), v = obj;
      for (var j = 0; j < path.length && v != null; j++) v = v[path[j]];
      if (v != null) return v;
    }
    return null;
  }

  function loadStats() {
    return api("GET", "/api/supervisor/stats").then(renderStats).catch(function (err) {
      $("stats-updated").textContent = "加载失败：" + err.message;
    });
  }

  function renderStats(s) {
    $("stats-updated").textContent = "更新于 " + fmtTime(new Date()) + " · 每 5 秒刷新";
    var frAvg = pick(s, "first_response_seconds.avg", "first_response_avg_seconds", "first_response.avg");
    var frP90 = pick(s, "first_response_seconds.p90", "first_response_p90_seconds", "first_response.p90");
    var csat = pick(s, "csat.avg", "csat_avg", "csat.average");
    var csatN = pick(s, "csat_count", "csat.count");
    var longest = pick(s, "longest_wait_seconds", "longest_wait");
    var agents = s.agents || [];
    var online = agents.filter(function (a) { return (a.presence || a.status) === "online"; }).length;
    var reasons = pick(s, "handoffs_by_reason", "handoffs_today.by_reason", "today_handoffs_by_reason") || {};
    if (Array.isArray(reasons)) {
      var obj = {};
      reasons.forEach(function (r) { obj[r.reason] = r.count; });
      reasons = obj;
    }
    var totalHandoffs = pick(s, "handoffs_today");
    if (typeof totalHandoffs !== "number") {
      totalHandoffs = Object.keys(reasons).reduce(function (a, k) { return a + reasons[k]; }, 0);
    }
    var kpis = [
      ["排队人数", pick(s, "queue_length", "queue.length") || 0, "", (pick(s, "queue_length") || 0) > 5],
      ["最长等待", fmtDuration(longest || 0), "", (longest || 0) > 180],
      ["在线客服", online + " / " + agents.length, "在线 / 全部", false],
      ["今日转人工", totalHandoffs, "", false],
      ["首次响应", frAvg == null ? "—" : fmtDuration(frAvg), frP90 == null ? "平均" : "平均 · P90 " + fmtDuration(frP90), frAvg != null && frAvg > 30],
      ["满意度", csat == null ? "—" : Number(csat).toFixed(2), csatN != null ? csatN + " 次评价 · 满分 5" : "满分 5", false]
    ];
    var box = $("kpis");
    box.textContent = "";
    kpis.forEach(function (k) {
      var d = el("div", "kpi" + (k[3] ? " alert" : ""));
      d.setAttribute("data-role", "kpi");
      d.appendChild(el("div", "k", k[0]));
      d.appendChild(el("div", "v", k[1]));
      if (k[2]) d.appendChild(el("div", "s", k[2]));
      box.appendChild(d);
    });
    var tbody = document.querySelector("#agents-table tbody");
    tbody.textContent = "";
    agents.forEach(function (a) {
      var tr = el("tr");
      tr.appendChild(el("td", null, a.display_name || a.username));
      var p = a.presence || a.status || "offline";
      var td = el("td");
      td.appendChild(el("i", "pdot " + p));
      td.appendChild(document.createTextNode(" " + label("presence", p)));
      tr.appendChild(td);
      var load = a.load != null ? a.load : (a.active_chats != null ? a.active_chats : a.active || 0);
      var max = a.max_chats || 5;
      tr.appendChild(el("td", null, load + " / " + max));
      var lt = el("td");
      var bar = el("span", "load" + (load >= max ? " full" : ""));
      var fill = el("i");
      fill.style.width = Math.min(100, Math.round((load / max) * 100)) + "%";
      bar.appendChild(fill);
      lt.appendChild(bar);
      tr.appendChild(lt);
      tbody.appendChild(tr);
    });
    var chart = $("reasons-chart");
    chart.textContent = "";
    var keys = Object.keys(reasons).sort(function (a, b) { return reasons[b] - reasons[a]; });
    var maxN = keys.length ? reasons[keys[0]] : 0;
    if (!keys.length) chart.appendChild(el("div", "muted", "今日暂无转人工"));
    keys.forEach(function (k) {
      var r = el("div", "bar-row");
      r.appendChild(el("span", null, label("reason", k)));
      var track = el("div", "bar-track");
      var fill = el("div", "bar-fill");
      fill.style.width = (maxN ? Math.max(4, Math.round(reasons[k] / maxN * 100)) : 0) + "%";
      track.appendChild(fill);
      r.appendChild(track);
      r.appendChild(el("b", null, reasons[k]));
      chart.appendChild(r);
    });
  }

  /* ---------- realtime ---------- */

  function setConn(state) {
    var c = $("conn");
    c.className = "conn " + state;
    c.querySelector("span").textContent = state === "ok" ? "实时连接" : state === "down" ? "连接中断，自动重连中" : "连接中…";
  }

  function connectWs() {
    if (S.ws || !S.me) return;
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/agent";
    var ws;
    try { ws = new WebSocket(url); } catch (e) { scheduleReconnect(); return; }
    S.ws = ws;
    ws.onopen = function () {
      S.wsOpen = true;
      setConn("ok");
      clearInterval(S.pollTimer);
      S.pollTimer = null;
      refreshQueue();
      refreshMine();
      if (S.currentId) openConversation(S.currentId);
    };
    ws.onmessage = function (ev) {
      S.wsRetry = 0; // the hub answered: only a socket that works resets the backoff
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      handleEvent(data);
    };
    ws.onclose = function () {
      S.ws = null;
      S.wsOpen = false;
      if (!S.me) return;
      setConn("down");
      if (!S.pollTimer) {
        S.pollTimer = setInterval(function () {
          refreshQueue();
          refreshMine();
          if (S.currentId) openConversation(S.currentId);
        }, 5000);
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    var delay = Math.min(15000, 1000 * Math.pow(2, S.wsRetry));
    S.wsRetry += 1;
    setTimeout(connectWs, delay);
  }

  var peerTypingTimer = null;

  function handleEvent(ev) {
    var cid = ev.conversation_id || (ev.message && ev.message.conversation_id);
    switch (ev.type) {
      case "error":  // the session ended (logout elsewhere, password reset): back to the login form
        if (ev.error && ev.error.code === "session_revoked" && S.me) onLoggedOut("登录已失效，请重新登录");
        break;
      case "resync":  // the hub's event bus was down: reload what may have been missed
        refreshQueue();
        refreshMine();
        if (S.currentId) openConversation(S.currentId);
        break;
      case "queue":
        setQueue(ev.items || []);
        break;
      case "message":
        if (cid && cid === S.currentId) {
          appendToTranscript(ev.message);
          if (ev.message.author === "customer") $("peer-typing").hidden = true;
        } else if (cid && ev.message && ev.message.author === "customer") {
          var known = S.mine.some(function (c) { return convId(c) === cid; });
          if (known) {
            S.unread[cid] = (S.unread[cid] || 0) + 1;
            if (!document.hasFocus()) alertTitle("新消息");
          }
        }
        S.mine.forEach(function (c) { if (convId(c) === cid && ev.message) c.last_message = ev.message; });
        renderMine();
        break;
      case "mode":
        if (cid === S.currentId) openConversation(cid);
        refreshMine();
        break;
      case "typing":
        if (cid === S.currentId && ev.author !== "agent") {
          $("peer-typing").hidden = false;
          clearTimeout(peerTypingTimer);
          peerTypingTimer = setTimeout(function () { $("peer-typing").hidden = true; }, 5000);
        }
        break;
      case "assigned":
        if (cid !== S.justClaimed) {
          // assigned by routing or transferred by a colleague, not our own claim
          beep();
          alertTitle("新会话");
          toast("有新会话分配给您", "ok");
        }
        refreshMine();
        refreshQueue();
        break;
      case "ticket":
        loadTickets();
        break;
      case "canned":
        loadCanned();
        break;
      case "presence":
        // another tab of this agent switched presence, or a colleague did: keep switch and dashboard true
        if (S.me && ev.agent_id === S.me.id && ev.presence) {
          S.me.presence = ev.presence;
          setPresenceUi(ev.presence);
        }
        if (S.view === "stats") loadStats();
        break;
      default:
        break;
    }
  }

  /* ---------- boot ---------- */

  switchTab("queue");
  api("GET", "/api/agent/me").then(function (b) {
    if (b && b.csrf_token) storeCsrf(b.csrf_token);
    if (!storedCsrf() && !S.csrf) {
      // signed in (cookie) but this browser lost the CSRF token: changes would be refused
      showLogin("请重新登录");
      return;
    }
    startApp((b && b.agent) || b);
  }).catch(function () { showLogin(""); });
})();
