/** What the widget keeps in the browser: the open conversation (per hub) and the visitor id. */

export function conversationStore(hub) {
  const key = "kefu_widget:" + hub;
  return {
    load() {
      try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
    },
    save(data) {
      try { localStorage.setItem(key, JSON.stringify(data)); } catch (e) { /* private mode */ }
    },
    /** A random id for this browser, kept across conversations: the hub allows one waiting
     * place in the human queue per browser (and counts new conversations per browser). */
    visitorId() {
      const vkey = key + ":visitor";
      let v = null;
      try { v = localStorage.getItem(vkey); } catch (e) { /* private mode */ }
      if (!v || !/^[A-Za-z0-9_-]{8,64}$/.test(v)) {
        const bytes = new Uint8Array(16);
        crypto.getRandomValues(bytes);
        v = Array.prototype.map.call(bytes, (b) => ("0" + b.toString(16)).slice(-2)).join("");
        try { localStorage.setItem(vkey, v); } catch (e) { /* private mode: a new id per conversation */ }
      }
      return v;
    },
  };
}

export function newMessageId() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
}
