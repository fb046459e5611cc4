/**
 * The console's calls to /api/agent/*: the HttpOnly session cookie plus the X-CSRF-Token header
 * on every change. The CSRF token is kept in localStorage, so the console's tabs share the
 * latest login's token, as they share its cookie.
 */

import { requestJson } from "../shared/http.js";

const CSRF_KEY = "kefu_csrf";
let csrfInTab = "";
let sessionEnded = () => {};

/** What to do when the hub says the session is gone (401) or the CSRF token is refused. */
export function onSessionEnded(handler) {
  sessionEnded = handler;
}

export function storedCsrf() {
  try { return localStorage.getItem(CSRF_KEY) || ""; } catch (e) { return ""; }
}

export function hasCsrf() {
  return !!(storedCsrf() || csrfInTab);
}

export function storeCsrf(token) {
  csrfInTab = token || "";
  try {
    if (token) localStorage.setItem(CSRF_KEY, token);
    else localStorage.removeItem(CSRF_KEY);
  } catch (e) { /* storage disabled: the token still works in this tab */ }
}

export async function api(method, path, body) {
  const headers = {};
  const csrf = storedCsrf() || csrfInTab;
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  try {
    return await requestJson(path, { method, body, headers, credentials: "same-origin" });
  } catch (err) {
    if (err.status === 401 && path !== "/api/agent/login") sessionEnded("登录已过期，请重新登录");
    if (err.status === 403 && err.code === "csrf_failed") sessionEnded("安全校验失败，请重新登录");
    throw err;
  }
}

/** Path of one conversation's endpoint: conversationPath(id, "/claim"). */
export function conversationPath(id, rest) {
  return "/api/agent/conversations/" + encodeURIComponent(id) + (rest || "");
}
