/**
 * JSON over fetch, for the widget and the console. A refused request rejects with a
 * RequestError carrying the HTTP status (0: no answer), the hub's error code and the body;
 * its message is the hub's own message when there is one.
 */

export class RequestError extends Error {
  constructor(message, status, code, data) {
    super(message);
    this.name = "RequestError";
    this.status = status;
    this.code = code || null;
    this.data = data == null ? null : data;
  }
}

export const NETWORK_ERROR = "网络连接失败";

/** The hub's error message from an error body (`{"error": {"code", "message"}}`), else the fallback. */
export function errorMessage(body, fallback) {
  return (body && body.error && body.error.message) || fallback;
}

function parse(raw) {
  try { return raw ? JSON.parse(raw) : null; } catch (e) { return null; }
}

/**
 * One JSON request. `options`: method, body (sent as JSON when not undefined), headers,
 * credentials ("same-origin" by default), fetch (a stand-in for tests).
 */
export async function requestJson(url, options = {}) {
  const method = options.method || "GET";
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  const init = { method, headers, credentials: options.credentials || "same-origin" };
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  const doFetch = options.fetch || globalThis.fetch;
  let res;
  try {
    res = await doFetch(url, init);
  } catch (e) {
    throw new RequestError(NETWORK_ERROR, 0, null, null);
  }
  const data = parse(await res.text());
  if (!res.ok) {
    const code = data && data.error && data.error.code;
    throw new RequestError(errorMessage(data, "请求失败（" + res.status + "）"), res.status, code, data);
  }
  return data;
}

/**
 * Lets a `.catch` handle refused or unanswered requests only: anything else is a bug and is
 * thrown on, so it surfaces instead of hiding behind "请稍后重试". `.catch(onlyRequestErrors)`
 * is silence for a call whose data the next refresh or event brings anyway.
 */
export function onlyRequestErrors(err) {
  if (!(err instanceof RequestError)) throw err;
}
