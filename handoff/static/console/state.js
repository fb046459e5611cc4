/** The console's state, shared by its modules, and small questions about it. */

export const S = {
  me: null,
  agents: [],        // every agent (id, display_name, presence, load …) from the latest queue snapshot
  queue: [], queueAt: Date.now(), knownQueue: null,
  mine: [], unread: {},
  current: null, currentId: null, justClaimed: null,
  canned: [], tickets: [], ticketId: null,
  waiting: {}, alerts: [], teams: [],  // silent-agent timers and alerts (alerts.js)
  view: "chats", tab: "queue",
  composeMode: "reply",
  pollTimer: null, statsTimer: null,
  lastTypingSent: 0,
  baseTitle: "", titleTimer: null,
  audio: null, editingCanned: null,
};

export function $(id) {
  return document.getElementById(id);
}

export function isSupervisor() {
  return !!S.me && S.me.role === "supervisor";
}

/** A chat this agent serves now: they may reply, transfer, close. */
export function isMine(c) {
  return c.mode === "agent" && !!S.me && c.assigned_agent_id === S.me.id;
}

/** The name over an agent's message or note: "我"-side display name, a colleague's, else "客服". */
export function agentName(agentId) {
  if (S.me && agentId === S.me.id) return S.me.display_name || "我";
  const colleague = S.agents.find((a) => a.id === agentId);
  return (colleague && colleague.display_name) || "客服";
}
