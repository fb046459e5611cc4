/**
 * Agent console (ES modules, no build step). Talks to the hub's /api/agent/* endpoints with the
 * HttpOnly session cookie + X-CSRF-Token header and listens on /ws/agent for live updates. All
 * customer-provided text is inserted with textContent.
 *
 * Module map: api.js (HTTP + CSRF), live.js (socket and its events), inbox.js (queue and my
 * chats), chat.js (the open chat), canned.js, tickets.js, dashboard.js (live figures),
 * figures.js and quality.js (quality figures by day and agent, charts, CSV), history.js (历史
 * and 质检; history_view.js pure), present.js and labels.js (what is shown, pure), notify.js
 * (toasts, sound, title), alerts.js (silent-agent alerts, waiting timers, browser
 * notifications), waits.js (their pure rules), assist.js (suggested replies), review.js (学习,
 * supervisors) and teaching.js (their pure part), knowledge.js (知识库; pure parts in
 * kb-present.js), state.js.
 */

import { initial } from "../shared/format.js";
import { onlyRequestErrors } from "../shared/http.js";
import { askNotificationPermission, initAlerts, loadSilence } from "./alerts.js";
import { api, hasCsrf, onSessionEnded, storeCsrf } from "./api.js";
import { initCanned, loadCanned, renderCannedList } from "./canned.js";
import { initChat } from "./chat.js";
import { loadStats } from "./dashboard.js";
import { initHistory, showHistory } from "./history.js";
import { initFigures, showFigures } from "./figures.js";
import { initInbox, refreshMine, refreshQueue } from "./inbox.js";
import { hideKnowledge, initKnowledge, showKnowledge } from "./knowledge.js";
import { label } from "./labels.js";
import { connectLive, disconnectLive } from "./live.js";
import { initNotify, toast, unlockAudio } from "./notify.js";
import { initReview, loadReview } from "./review.js";
import { $, S, isSupervisor } from "./state.js";
import { initTickets, loadTickets } from "./tickets.js";

const VIEW_TITLES = { chats: "会话", tickets: "留言工单", canned: "标准话术", stats: "数据看板", history: "历史会话与质检", review: "学习", kb: "知识库" };

function showLogin(msg) {
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = msg || "";
  setTimeout(() => $("login-user").focus(), 0);
}

function onLoggedOut(msg) {
  if (!S.me) return;
  S.me = null;
  storeCsrf("");
  disconnectLive();
  showLogin(msg);
}

function startApp(agent) {
  S.me = agent;
  $("login").hidden = true;
  $("app").hidden = false;
  $("me-name").textContent = agent.display_name || agent.username;
  $("me-role").textContent = label("role", agent.role);
  $("me-avatar").textContent = initial(agent.display_name || agent.username);
  document.querySelectorAll(".sup-only").forEach((n) => { n.hidden = !isSupervisor(); });
  $("canned-note").textContent = isSupervisor() ? "主管可新增、修改、删除话术" : "话术由主管维护；在回复框输入 / 或按 Ctrl+K 快速插入";
  setPresenceUi(agent.presence);
  if (agent.presence === "offline") setPresence("online");
  refreshQueue();
  refreshMine();
  loadCanned();
  loadTickets();
  loadSilence();
  connectLive(onLoggedOut);
  switchView(S.view);
}

function setPresenceUi(p) {
  $("presence").value = p;
  $("presence-dot").className = "pdot " + p;
}

function setPresence(p) {
  return api("POST", "/api/agent/presence", { status: p }).then(() => {
    setPresenceUi(p);
    if (S.me) S.me.presence = p;
  }).catch((err) => {
    onlyRequestErrors(err);
    toast("切换状态失败：" + err.message, "error");
    setPresenceUi((S.me && S.me.presence) || "offline");
  });
}

function switchView(v) {
  if ((v === "stats" || v === "review" || v === "kb") && !isSupervisor()) v = "chats";
  S.view = v;
  document.querySelectorAll(".rail-btn").forEach((b) => b.classList.toggle("active", b.dataset.view === v));
  ["chats", "tickets", "canned", "stats", "history", "review", "kb"].forEach((name) => { $("view-" + name).hidden = name !== v; });
  $("view-title").textContent = VIEW_TITLES[v];
  clearInterval(S.statsTimer);
  if (v === "stats") { loadStats(); showFigures(); S.statsTimer = setInterval(loadStats, 5000); }
  if (v === "tickets") loadTickets();
  if (v === "canned") renderCannedList();
  if (v === "history") showHistory();
  if (v === "review") loadReview();
  if (v === "kb") showKnowledge(); else hideKnowledge();
}

function init() {
  initNotify();
  initInbox();
  initChat();
  initCanned();
  initTickets();
  initHistory(switchView);
  initAlerts();
  initFigures();
  initReview();
  initKnowledge();
  onSessionEnded(onLoggedOut);

  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    unlockAudio();
    askNotificationPermission();
    const btn = $("login-submit");
    btn.disabled = true;
    $("login-error").textContent = "";
    api("POST", "/api/agent/login", { username: $("login-user").value.trim(), password: $("login-pass").value })
      .then((body) => {
        storeCsrf(body.csrf_token);
        $("login-pass").value = "";
        startApp(body.agent);
      })
      .catch((err) => {
        onlyRequestErrors(err);
        $("login-error").textContent = err.status === 401 || err.status === 403 ? "账号或密码错误" : err.message;
      })
      .finally(() => { btn.disabled = false; });
  });
  $("logout").addEventListener("click", () => {
    api("POST", "/api/agent/logout", {}).catch(onlyRequestErrors).finally(() => onLoggedOut(""));
  });
  $("presence").addEventListener("change", (e) => setPresence(e.target.value));
  document.querySelectorAll(".rail-btn").forEach((b) => {
    b.addEventListener("click", () => switchView(b.dataset.view));
  });

  api("GET", "/api/agent/me").then((b) => {
    if (b.csrf_token) storeCsrf(b.csrf_token);
    if (!hasCsrf()) {
      // signed in (cookie) but no CSRF token: changes would be refused
      showLogin("请重新登录");
      return;
    }
    startApp(b.agent);
  }, (err) => {
    onlyRequestErrors(err);
    showLogin("");
  });
}

init();
