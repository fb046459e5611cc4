"""Every JSON shape the hub sends: REST bodies and websocket events, built here and nowhere else.

The widget and the console read exactly these fields, and ``handoff.openapi`` takes its
component schemas from ``SCHEMAS`` below; tests/hub/test_shapes.py holds each builder to its
schema (the keys it writes are the properties the schema documents), so the description
cannot drift from what is sent.
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from typing import Any

from handoff.state import MODES


class Author:
    """Who wrote a message (``hub_messages.author``)."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"
    ALL = (CUSTOMER, BOT, AGENT, SYSTEM)


ROLES = ("agent", "supervisor")
PRESENCES = ("online", "away", "offline")
PRIORITIES = ("urgent", "high", "normal")
TICKET_STATUSES = ("open", "pending", "solved")


def _iso(epoch: float) -> str:
    return (datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"))


def _skills(raw: str | None) -> list[str]:
    return [s for s in (raw or "").split(",") if s]


# -- messages ------------------------------------------------------------------------------


def message_out(row: dict[str, Any]) -> dict[str, Any]:
    """A stored message in its API shape (agents see this; customers ``customer_view`` of it)."""
    return {
        "id": row["id"],
        "seq": row["seq"],
        "conversation_id": row["conversation_id"],
        "author": row["author"],
        "text": row["text"],
        "title": row.get("title"),
        "buttons": json.loads(row["buttons"]) if row.get("buttons") else [],
        "internal": bool(row.get("internal")),
        "created_at": _iso(row["created_at"]),
        "client_msg_id": row.get("client_msg_id"),
        "agent_id": row.get("agent_id"),
        "channel": row.get("channel"),
    }


CUSTOMER_FIELDS = ("id", "seq", "author", "text", "title", "buttons", "created_at", "client_msg_id")


def customer_view(msg: dict[str, Any]) -> dict[str, Any]:
    """A message as the customer may see it (no agent ids, never internal notes)."""
    return {k: msg.get(k) for k in CUSTOMER_FIELDS}


def scope_fields(conv: dict[str, Any]) -> dict[str, Any]:
    """What a console needs to decide whether an event about this conversation is for its agent."""
    return {"skill": conv.get("skill"), "conversation_mode": conv.get("mode")}


# -- conversations -------------------------------------------------------------------------


def new_conversation(conv: dict[str, Any], token: str) -> dict[str, Any]:
    return {"conversation_id": conv["id"], "token": token, "mode": conv["mode"],
            "customer_id": conv["customer_id"]}


def wait_text(seconds: float) -> str:
    """How long a customer is told to wait. The only place this is worded: the widget's queue
    banner shows the ``wait_text`` sent with each place, WeChat gets it in the queued notice."""
    return "不到 1 分钟" if seconds < 60 else f"约 {math.ceil(seconds / 60)} 分钟"


def agent_title(display_name: str) -> str:
    """How the customer sees an agent: display names usually carry their title already
    ("客服 小李", "主管 王敏"), so only a bare name ("小李") gets "客服" in front. The only place
    this is decided: the widget shows the ``title`` sent with the agent."""
    name = display_name.strip()
    if not name:
        return "人工客服"
    return name if name.startswith("客服") or " " in name else f"客服 {name}"


def customer_agent(display_name: str) -> dict[str, str]:
    """The serving agent as the customer gets it."""
    return {"display_name": display_name, "title": agent_title(display_name)}


def queue_place(position: int, eta_seconds: int) -> dict[str, Any]:
    return {"position": position, "eta_seconds": eta_seconds, "wait_text": wait_text(eta_seconds)}


def conversation_state(conv: dict[str, Any], place: dict[str, int] | None,
                       agent: dict[str, Any] | None) -> dict[str, Any]:
    """What the widget needs to show a conversation as it is now (without its messages)."""
    return {"conversation_id": conv["id"], "mode": conv["mode"], "queue": place,
            "agent": customer_agent(agent["display_name"]) if agent else None,
            "csat_pending": bool(conv["csat_pending"])}


def message_page(rows: list[dict[str, Any]], page: int, customer: bool) -> dict[str, Any]:
    """One page of a transcript; ``has_more``: read on with ``after`` = the last seq."""
    out = [message_out(r) for r in rows[:page]]
    return {"messages": [customer_view(m) for m in out] if customer else out, "has_more": len(rows) > page}


def send_result(message: dict[str, Any], replies: list[dict[str, Any]]) -> dict[str, Any]:
    return {"message": message, "replies": replies}


def conversation_summary(conv: dict[str, Any]) -> dict[str, Any]:
    return {
        "conversation_id": conv["id"],
        "mode": conv["mode"],
        "channel": conv["channel"],
        "customer_id": conv["customer_id"],
        "customer_name": conv["customer_name"],
        "assigned_agent_id": conv["assigned_agent_id"],
        "reason": conv["reason"],
        "priority": conv["priority"],
        "skill": conv["skill"],
        "summary": conv["summary"],
        "emotion": conv["emotion"],
        "vip_level": conv["vip_level"],
        "queued_at": conv["queued_at"],
        "updated_at": conv["updated_at"],
        "recent_complaint_at": conv.get("recent_complaint_at"),
    }


def agent_conversation(conv: dict[str, Any], rows: list[dict[str, Any]], assigned: dict[str, Any] | None,
                       profile: dict[str, Any] | None, orders: list[dict[str, Any]]) -> dict[str, Any]:
    """The console's full view of one conversation: transcript, notes, handoff, customer panel."""
    messages = [message_out(r) for r in rows]
    if profile is None and conv["customer_id"]:
        profile = {"id": conv["customer_id"], "name": conv["customer_name"], "phone_masked": None,
                   "vip_level": conv["vip_level"]}
    return {
        **conversation_summary(conv),
        "handoff": {k: conv[k] for k in ("reason", "priority", "skill", "summary", "emotion")}
        if conv["reason"] else None,
        "agent": {"id": assigned["id"], "display_name": assigned["display_name"]} if assigned else None,
        "messages": [m for m in messages if not m["internal"]],
        "notes": [m for m in messages if m["internal"]],
        "customer": profile,
        "orders": orders,
    }


# -- agents and the queue ---------------------------------------------------------------------


def agent_public(agent: dict[str, Any], load: int | None = None) -> dict[str, Any]:
    """An agent as the API shows it (never the password hash); with ``load`` when known."""
    out = {
        "id": agent["id"],
        "username": agent["username"],
        "display_name": agent["display_name"],
        "role": agent["role"],
        "skills": _skills(agent.get("skills")),
        "presence": agent["presence"],
        "max_chats": agent["max_chats"],
    }
    if load is not None:
        out["load"] = int(load)
    return out


def login_result(agent: dict[str, Any], csrf: str, token: str | None) -> dict[str, Any]:
    """``POST /api/agent/login``: the token only for an API client that asked (``bearer``)."""
    body: dict[str, Any] = {"agent": agent_public(agent), "csrf_token": csrf}
    if token is not None:
        body["token"] = token
    return body


def me(agent: dict[str, Any], load: int, csrf: str) -> dict[str, Any]:
    """``GET /api/agent/me``: the agent with their load, and the session's CSRF token."""
    return {"agent": agent_public(agent, load), "csrf_token": csrf}


def agents_view(loads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every agent's presence and load (offline ones too), so consoles see who can take chats."""
    return [
        {"id": a["id"], "display_name": a["display_name"], "role": a["role"],
         "presence": a["presence"], "load": int(a["load"]), "max_chats": a["max_chats"],
         "skills": _skills(a["skills"])}
        for a in loads
    ]


def online_count(agents: list[dict[str, Any]]) -> int:
    return sum(1 for a in agents if a["presence"] == "online")


def queue_item(item: dict[str, Any], now: float) -> dict[str, Any]:
    return {
        "conversation_id": item["id"],
        "priority": item["priority"],
        "reason": item["reason"],
        "skill": item["skill"],
        "summary": item["summary"],
        "vip_level": item["vip_level"],
        "waited_seconds": round(now - float(item["queued_at"] or now), 1),
        "channel": item["channel"],
        "emotion": item["emotion"],
        "customer_name": item.get("customer_name"),
        "recent_complaint_at": item.get("recent_complaint_at"),
    }


def queue_list(items: list[dict[str, Any]], loads: list[dict[str, Any]]) -> dict[str, Any]:
    """``GET /api/agent/queue``: ``items`` already narrowed to the agent and placed."""
    agents = agents_view(loads)
    return {"items": items, "agents": agents, "online": online_count(agents)}


def stats(queue_figures: dict[str, Any], handoff_figures: dict[str, Any], csat: dict[str, Any],
          loads: list[dict[str, Any]]) -> dict[str, Any]:
    """The supervisor's figures (``handoff.metrics`` computes them)."""
    agents = agents_view(loads)
    return {**queue_figures, **handoff_figures, "csat": csat, "agents": agents, "agents_online": online_count(agents)}


def figures(report: dict[str, Any]) -> dict[str, Any]:
    """``GET /api/supervisor/figures``: the range's figures, each day's, each agent's
    (``handoff.quality.report`` counts them; each figure says whether it ``met`` its target)."""
    keys = ("from", "to", "timezone", "targets", "figures", "totals", "days", "agents")
    return {k: report[k] for k in keys}


def targets(items: list[dict[str, Any]]) -> dict[str, Any]:
    """``/api/supervisor/targets``: every target with its seeds' default."""
    return {"targets": items}


def canned_out(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "title": row["title"], "text": row["text"]}


def ticket_out(row: dict[str, Any], with_transcript: bool = True) -> dict[str, Any]:
    out = {
        "id": row["id"],
        "conversation_id": row["conversation_id"],
        "customer_id": row["customer_id"],
        "contact": row["contact"],
        "text": row["text"],
        "status": row["status"],
        "agent_id": row.get("agent_id"),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "due_at": row["due_at"],
        "overdue": row["status"] != "solved" and row["due_at"] < time.time(),
        "channel": row.get("channel"),
        "assignee_id": row.get("assignee_id"),
        "outcome": row.get("outcome"),
        "answered_at": row.get("answered_at"),
    }
    if with_transcript:
        out["transcript"] = json.loads(row["transcript"] or "[]")
    return out


TICKET_ENTRY_KINDS = ("reply", "note", "status", "assign", "due")
REPLY_DELIVERIES = ("pending", "shown", "sent", "window_closed", "failed")


def ticket_entry(row: dict[str, Any]) -> dict[str, Any]:
    """One entry of a ticket's thread: who did what, when (and how a reply went out)."""
    return {"id": row["id"], "kind": row["kind"], "agent_id": row.get("agent_id"), "text": row.get("text"),
            "value": row.get("value"), "delivery": row.get("delivery"),
            "delivery_detail": row.get("delivery_detail"), "created_at": row["created_at"]}


def wechat_window(last_message_at: float | None, now: float, hours: float = 48.0) -> dict[str, Any]:
    """WeChat's customer-service window: open for 48 h after the customer's last message."""
    closes = last_message_at + hours * 3600 if last_message_at is not None else None
    return {"open": closes is not None and now < closes, "last_message_at": last_message_at, "closes_at": closes}


def ticket_detail(row: dict[str, Any], thread: list[dict[str, Any]],
                  window: dict[str, Any] | None) -> dict[str, Any]:
    """``GET /api/agent/tickets/{id}``: the ticket with its thread; ``wechat_window`` for WeChat tickets."""
    return {"ticket": ticket_out(row), "thread": [ticket_entry(e) for e in thread], "wechat_window": window}


def reply_result(row: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    return {"ticket": ticket_out(row), "entry": ticket_entry(entry)}


# -- silent agents --------------------------------------------------------------------------------


SILENCE_LEVELS = ("agent", "supervisor")


def silence_alert(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "conversation_id": row["conversation_id"], "level": row["level"],
            "since": row["since"], "agent_id": row.get("agent_id"), "skill": row.get("skill"),
            "created_at": row["created_at"]}


def silence_event(row: dict[str, Any]) -> dict[str, Any]:
    """A customer waits too long on an agent: to that agent and the supervisors (``scope``)."""
    return {"type": "silence", "alert": silence_alert(row), "conversation_id": row["conversation_id"],
            "assigned_agent_id": row.get("agent_id")}


def silence_resolved_event(row: dict[str, Any], resolution: str) -> dict[str, Any]:
    return {"type": "silence_resolved", "alert_id": row["id"], "conversation_id": row["conversation_id"],
            "resolution": resolution, "assigned_agent_id": row.get("agent_id")}


def silence_state(waiting: list[dict[str, Any]], alerts: list[dict[str, Any]],
                  limits: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``GET /api/agent/silence``: who waits on which agent since when, the open alerts, the limits."""
    return {"waiting": waiting, "alerts": [silence_alert(a) for a in alerts], "teams": list(limits.values())}


def team_limits(skill: str, enabled: bool, agent_after: float, supervisor_after: float,
                custom: bool) -> dict[str, Any]:
    return {"skill": skill, "silence_alerts": enabled, "agent_after": agent_after,
            "supervisor_after": supervisor_after, "custom": custom}


# -- websocket events: to the customer ---------------------------------------------------------



# -- agent assist and the review page -----------------------------------------------------------


def suggestion(kind: str, key: str, title: str, text: str, score: float) -> dict[str, Any]:
    """One standard reply offered for the customer's last message (``kind``: faq | canned)."""
    return {"kind": kind, "key": key, "title": title, "text": text, "score": round(float(score), 3)}


def suggestions_out(message: dict[str, Any] | None, nlu: str, intent: dict[str, Any] | None,
                    items: list[dict[str, Any]]) -> dict[str, Any]:
    """``GET …/suggestions``: ``nlu`` ok | unavailable (Rasa down: canned replies by wording only)
    | none (no customer message yet)."""
    return {"message_id": message["id"] if message else None, "text": message["text"] if message else None,
            "nlu": nlu, "intent": intent, "suggestions": items}


def review_page(groups: list[dict[str, Any]], knowledge: Any) -> dict[str, Any]:
    """``GET /api/supervisor/review``: open groups, largest first."""
    return {"groups": [{**g, "guess_name": knowledge.name(g["guess"]) if g["guess"] else None} for g in groups],
            "total": sum(g["count"] for g in groups)}


def review_labels(knowledge: Any, proposed: dict[str, str]) -> dict[str, Any]:
    """The labels a supervisor may choose: the model's intents and FAQ keys, and new FAQ keys
    proposed here that the model has not learnt yet."""
    items = [{"label": lab, "name": knowledge.name(lab), "faq": lab.startswith("faq/")} for lab in knowledge.labels]
    known = {i["label"] for i in items}
    items += [{"label": f"faq/{k}", "name": f"faq/{k}（新）", "faq": True} for k in sorted(proposed)
              if f"faq/{k}" not in known]
    return {"labels": items}


def review_label_result(count: int, label: str, rendered: Any, file_name: str) -> dict[str, Any]:
    """``POST /api/supervisor/review/label``: what was labelled and what the file now holds."""
    return {"labelled": count, "label": label,
            "file": f"data/nlu/{file_name}" if rendered is not None else None,
            "examples": rendered.examples if rendered is not None else 0,
            "held_out": len(rendered.held_out) if rendered is not None else 0,
            "duplicates": rendered.duplicates if rendered is not None else 0}


def state_events(state: dict[str, Any], joined: bool, csat: bool) -> list[dict[str, Any]]:
    """The frames that bring a widget up to ``conversation_state``: on connect (with who
    joined) and after a bus outage (with a pending rating request)."""
    events = [mode_event(state["mode"])]
    if state["queue"]:
        events.append(queue_place_event(state["queue"]))
    if joined and state["agent"]:
        events.append(agent_joined_event(state["agent"]["display_name"]))
    if csat and state["csat_pending"]:
        events.append(csat_request_event())
    return events


def customer_message_event(msg: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "message": customer_view(msg)}


def mode_event(mode: str) -> dict[str, Any]:
    return {"type": "mode", "mode": str(mode)}


def queue_place_event(place: dict[str, int]) -> dict[str, Any]:
    return {"type": "queue", **place}


def agent_joined_event(display_name: str) -> dict[str, Any]:
    return {"type": "agent_joined", **customer_agent(display_name)}


def offline_event() -> dict[str, Any]:
    return {"type": "offline", "can_leave_message": True}


def csat_request_event() -> dict[str, Any]:
    return {"type": "csat_request"}


def customer_typing_event() -> dict[str, Any]:
    """The agent types (what the customer's widget shows)."""
    return {"type": "typing", "author": Author.AGENT}


def ack_event(msg: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ack", "client_msg_id": msg["client_msg_id"], "message": msg}


def error_event(error: dict[str, Any]) -> dict[str, Any]:
    return {"type": "error", **error}


# -- websocket events: to the consoles -----------------------------------------------------------


def console_message_event(conv: dict[str, Any], msg: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "conversation_id": conv["id"], "message": msg,
            "assigned_agent_id": conv.get("assigned_agent_id"), **scope_fields(conv)}


def console_typing_event(conv: dict[str, Any]) -> dict[str, Any]:
    """The customer types (what the consoles that may read the chat show)."""
    return {"type": "typing", "conversation_id": conv["id"], "author": Author.CUSTOMER,
            "assigned_agent_id": conv.get("assigned_agent_id"), **scope_fields(conv)}


def console_mode_event(conv: dict[str, Any]) -> dict[str, Any]:
    return {"type": "mode", "conversation_id": conv["id"], "mode": conv["mode"],
            "assigned_agent_id": conv.get("assigned_agent_id")}


def assigned_event(conversation_id: str, agent_id: int) -> dict[str, Any]:
    return {"type": "assigned", "conversation_id": conversation_id, "agent_id": agent_id,
            "assigned_agent_id": agent_id}


def requeued_event(conversation_id: str, agent_id: int | None, reason: str) -> dict[str, Any]:
    return {"type": "requeued", "conversation_id": conversation_id, "agent_id": agent_id,
            "reason": reason, "assigned_agent_id": None}


def presence_event(agent_id: int, presence: str, auto: bool = False) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "presence", "agent_id": agent_id, "presence": presence}
    if auto:
        event["auto"] = True
    return event


def ticket_event(ticket_id: int, status: str, conversation_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "ticket", "ticket_id": ticket_id, "status": status}
    if conversation_id is not None:
        event["conversation_id"] = conversation_id
    return event


def queue_event(ordered: list[dict[str, Any]], loads: list[dict[str, Any]], now: float) -> dict[str, Any]:
    """The queue snapshot consoles get: waiting chats in serving order plus agent presence."""
    agents = agents_view(loads)
    return {"type": "queue", "items": [queue_item(i, now) for i in ordered],
            "agents": agents, "online": online_count(agents)}


def resync_event() -> dict[str, Any]:
    """A console reloads: events may have been lost while the bus was down."""
    return {"type": "resync"}


def session_revoked_event() -> dict[str, Any]:
    return {"type": "session_revoked"}


# -- schemas (OpenAPI components; tests/hub/test_shapes.py holds the builders to them) ------------


# -- knowledge base (handoff/knowledge.py) -------------------------------------------------

KB_KINDS = ("faq", "phrase")
KB_STATES = ("running", "done", "failed")
KB_STAGES = ("writing", "training", "gating", "loading", "done")


def kb_entry(entry: Any, newest: dict[str, Any] | None, live_up_to: int) -> dict[str, Any]:
    """One editable bot response: its newest text and whether the serving model has it yet."""
    return {
        "key": entry.key, "kind": entry.kind, "file": entry.path, "example": entry.example,
        "text": newest["after_text"] if newest else entry.text,
        "version": newest["id"] if newest else 0,
        "live": newest is None or newest["id"] <= live_up_to,
        "updated_at": newest["created_at"] if newest else None,
        "updated_by": newest.get("agent_name") if newest else None,
    }


def kb_version(row: dict[str, Any], live_up_to: int) -> dict[str, Any]:
    return {
        "id": row["id"], "key": row["key"], "kind": row["kind"], "parent_id": row["parent_id"],
        "before": row["before_text"], "after": row["after_text"], "action": row["action"],
        "rollback_of": row.get("rollback_of"), "agent_id": row.get("agent_id"),
        "agent_name": row.get("agent_name"), "created_at": row["created_at"], "live": row["id"] <= live_up_to,
    }


def kb_training(row: dict[str, Any] | None, now: float) -> dict[str, Any] | None:
    """A retrain run as the console's progress panel shows it."""
    if row is None:
        return None
    end = row.get("finished_at") or now
    return {
        "id": row["id"], "state": row["state"], "stage": row["stage"], "up_to_version": row["up_to_version"],
        "keys": json.loads(row["keys"] or "[]"), "started_at": row["started_at"],
        "finished_at": row.get("finished_at"), "elapsed_seconds": round(max(0.0, end - row["started_at"]), 1),
        "train_seconds": row.get("train_seconds"), "gate_seconds": row.get("gate_seconds"),
        "model": row.get("model"), "error": row.get("error"),
        "gate": json.loads(row["gate"]) if row.get("gate") else None, "log_tail": row.get("log_tail") or "",
    }


def kb_status(enabled: bool, busy: bool, current: dict[str, Any] | None,
              recent: list[dict[str, Any]], pending: int) -> dict[str, Any]:
    return {"retrain_enabled": enabled, "running": busy, "training": current, "recent": recent, "pending": pending}


_STR = {"type": "string"}
_INT = {"type": "integer"}
_NSTR = {"type": "string", "nullable": True}
_WAIT_TEXT = {"type": "string", "description": "the wait as the customer is told it, e.g. 约 3 分钟"}
_AGENT_TITLE = {"type": "string", "description": "the agent as the customer sees them, e.g. 客服 小李"}
_NINT = {"type": "integer", "nullable": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


_MODE = {"type": "string", "enum": list(MODES)}
_AGENT_PROPS = {
    "id": _INT, "username": _STR, "display_name": _STR,
    "role": {"type": "string", "enum": list(ROLES)},
    "skills": {"type": "array", "items": _STR},
    "presence": {"type": "string", "enum": list(PRESENCES)},
    "max_chats": _INT, "load": _INT}
_SUMMARY_PROPS = {
    "conversation_id": _STR, "mode": _MODE, "channel": _STR, "customer_id": _NSTR, "customer_name": _NSTR,
    "assigned_agent_id": _NINT, "reason": _NSTR, "priority": _NSTR, "skill": _NSTR, "summary": _NSTR,
    "emotion": _NSTR, "vip_level": _NINT, "queued_at": {"type": "number", "nullable": True},
    "updated_at": {"type": "number"},
    "recent_complaint_at": {"type": "number", "nullable": True,
                            "description": "the customer complained (an angry handoff) then, within 7 days "
                                           "before this chat was queued: the console shows 近期投诉"}}
_NNUM = {"type": "number", "nullable": True}
_FIGURE_BLOCK = {
    "date": {**_STR, "description": "a day of the shop (days only)"},
    "agent_id": {**_INT, "description": "agents only"}, "display_name": {**_STR, "description": "agents only"},
    "conversations": {**_INT, "description": "conversations in which the customer wrote (not for agents)"},
    "handoffs": _INT,
    "final": {"type": "boolean", "description": "false: a customer may still come back or complain "
                                                "again within the windows, so resolution and repeat complaints can change"},
    "figures": {"type": "object", "description": "by figure key (see figures)",
                "additionalProperties": {"$ref": "#/components/schemas/FigureValue"}},
    "handoffs_by_reason": {"type": "object", "description": "share of conversations handed off for each reason",
                           "additionalProperties": {"type": "object", "properties": {
                               "count": _INT, "rate": {"type": "number"}}}},
    "missed": {"type": "array", "items": _STR, "description": "keys of the figures that missed their target"}}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Button": _obj({"title": _STR, "payload": _STR}),
    "Message": _obj({
        "id": _STR, "seq": _INT, "conversation_id": _STR,
        "author": {"type": "string", "enum": list(Author.ALL)},
        "text": _STR, "title": _NSTR,
        "buttons": {"type": "array", "items": _ref("Button")},
        "created_at": {"type": "string", "format": "date-time"},
        "client_msg_id": _NSTR, "internal": {"type": "boolean"}, "agent_id": _NINT,
        "channel": _NSTR}, ["id", "seq", "author", "text", "created_at"]),
    "NewConversation": _obj({"conversation_id": _STR, "token": _STR, "mode": _MODE, "customer_id": _NSTR}),
    "QueuePlace": _obj({"position": _INT, "eta_seconds": _INT, "wait_text": _WAIT_TEXT}),
    "ConversationState": _obj({
        "conversation_id": _STR, "mode": _MODE,
        "queue": {**_ref("QueuePlace"), "nullable": True},
        "agent": {"type": "object", "nullable": True, "properties": {"display_name": _STR, "title": _AGENT_TITLE}},
        "csat_pending": {"type": "boolean"},
        "messages": {"type": "array", "items": _ref("Message")},
        "has_more": {"type": "boolean", "description": "more messages: read on with after"}}),
    "MessagePage": _obj({"messages": {"type": "array", "items": _ref("Message")},
                         "has_more": {"type": "boolean"}}),
    "SendResult": _obj({"message": _ref("Message"), "replies": {"type": "array", "items": _ref("Message")}}),
    "Agent": _obj(_AGENT_PROPS),
    "Login": _obj({"agent": _ref("Agent"), "csrf_token": _STR,
                   "token": {**_STR, "description": "only with bearer: true"}}),
    "Me": _obj({"agent": _ref("Agent"), "csrf_token": _STR}),
    "QueueItem": _obj({
        "conversation_id": _STR, "priority": {"type": "string", "enum": list(PRIORITIES)},
        "reason": _STR, "skill": _STR, "summary": _STR, "vip_level": _NINT,
        "waited_seconds": {"type": "number"}, "channel": _STR, "emotion": _NSTR,
        "customer_name": _NSTR, "recent_complaint_at": _NNUM, "position": _INT, "eta_seconds": _INT, "wait_text": _WAIT_TEXT, "in_my_groups": {"type": "boolean"}}),
    "QueueList": _obj({"items": {"type": "array", "items": _ref("QueueItem")},
                       "agents": {"type": "array", "items": _ref("Agent")}, "online": _INT}),
    "ConversationSummary": _obj(_SUMMARY_PROPS),
    "AgentConversation": _obj({
        **_SUMMARY_PROPS,
        "handoff": {"type": "object", "nullable": True, "properties": {
            "reason": _STR, "priority": _STR, "skill": _STR, "summary": _NSTR, "emotion": _NSTR}},
        "agent": {"type": "object", "nullable": True, "properties": {"id": _INT, "display_name": _STR}},
        "messages": {"type": "array", "items": _ref("Message")},
        "notes": {"type": "array", "items": _ref("Message")},
        "customer": {"type": "object", "nullable": True, "properties": {
            "id": _STR, "name": _NSTR, "phone_masked": _NSTR, "vip_level": _NINT}},
        "orders": {"type": "array", "items": _ref("Order")}}),
    "Order": {"type": "object", "description": "the customer panel's view of a shop order", "properties": {
        "order_id": _STR, "status": {**_STR, "description": "as the shop words it, e.g. 已发货"},
        "order_type": {"type": "string", "enum": ["normal", "presale"]}, "total": {"type": "number"},
        "items": {"type": "array", "items": _STR},
        "created_at": {"type": "string", "format": "date-time", "nullable": True},
        "shipped_at": {"type": "string", "format": "date-time", "nullable": True},
        "delivered_at": {"type": "string", "format": "date-time", "nullable": True},
        "carrier": _NSTR, "tracking_no": _NSTR}},
    "Canned": _obj({"id": _INT, "title": _STR, "text": _STR}),
    "FigureValue": _obj({
        "value": {**_NNUM, "description": "seconds, a share 0–1, a score 1–5 or NPS −100–100; null: no data"},
        "count": {**_INT, "description": "what the value is counted over"},
        "target": _NNUM, "met": {"type": "boolean", "nullable": True,
                                 "description": "false: the target is missed; null: no value or no target"}}),
    "FigureBlock": _obj(_FIGURE_BLOCK),
    "Target": _obj({"key": _STR, "label": _STR, "value": _NNUM, "default": _NNUM, "low": {"type": "number"},
                    "high": {"type": "number"}, "nullable": {"type": "boolean"}}),
    "Targets": _obj({"targets": {"type": "array", "items": _ref("Target")}}),
    "Figures": _obj({
        "from": _STR, "to": _STR, "timezone": _STR,
        "targets": {"type": "array", "items": _ref("Target")},
        "figures": {"type": "array", "items": _obj({
            "key": _STR, "label": _STR, "unit": {"type": "string", "enum": ["seconds", "rate", "score", "nps"]},
            "target": _STR, "at_least": {"type": "boolean"}})},
        "totals": _ref("FigureBlock"),
        "days": {"type": "array", "items": _ref("FigureBlock")},
        "agents": {"type": "array", "items": _ref("FigureBlock")}}),
    "Ticket": _obj({
        "id": _INT, "conversation_id": _NSTR, "customer_id": _NSTR, "contact": _NSTR, "text": _STR,
        "status": {"type": "string", "enum": list(TICKET_STATUSES)}, "agent_id": _NINT,
        "created_at": {"type": "number"}, "updated_at": {"type": "number"},
        "due_at": {"type": "number"}, "overdue": {"type": "boolean"},
        "channel": {**_NSTR, "description": "web or wechat: where a reply goes"},
        "assignee_id": _NINT,
        "outcome": {"type": "string", "nullable": True, "enum": ["answered", "undelivered"],
                    "description": "the contact's outcome: answered once a reply reached or will reach the customer"},
        "answered_at": {"type": "number", "nullable": True},
        "transcript": {"type": "array", "items": {"type": "object"}}}),
    "TicketEntry": _obj({
        "id": _INT, "kind": {"type": "string", "enum": list(TICKET_ENTRY_KINDS)}, "agent_id": _NINT,
        "text": _NSTR, "value": {**_NSTR, "description": "new status, assignee id or due time"},
        "delivery": {"type": "string", "nullable": True, "enum": list(REPLY_DELIVERIES),
                     "description": "replies: pending (web, shown on the customer's next visit), shown, sent "
                                    "(WeChat), window_closed (WeChat's 48 h passed: not sent), failed"},
        "delivery_detail": _NSTR, "created_at": {"type": "number"}}),
    "WeChatWindow": _obj({"open": {"type": "boolean"}, "last_message_at": {"type": "number", "nullable": True},
                          "closes_at": {"type": "number", "nullable": True}}),
    "TicketDetail": _obj({"ticket": _ref("Ticket"), "thread": {"type": "array", "items": _ref("TicketEntry")},
                          "wechat_window": {**_ref("WeChatWindow"), "nullable": True}}),
    "TicketReply": _obj({"ticket": _ref("Ticket"), "entry": _ref("TicketEntry")}),
    "SilenceAlert": _obj({
        "id": _INT, "conversation_id": _STR, "level": {"type": "string", "enum": list(SILENCE_LEVELS)},
        "since": {"type": "number"}, "agent_id": _NINT, "skill": _NSTR, "created_at": {"type": "number"}}),
    "Waiting": _obj({"conversation_id": _STR, "agent_id": _INT, "skill": _NSTR, "customer_name": _NSTR,
                     "since": {"type": "number", "description": "the customer waits on the agent since"}}),
    "TeamLimits": _obj({"skill": _STR, "silence_alerts": {"type": "boolean"}, "agent_after": {"type": "number"},
                        "supervisor_after": {"type": "number"},
                        "custom": {"type": "boolean", "description": "false: the hub's defaults"}}),
    "SilenceState": _obj({"waiting": {"type": "array", "items": _ref("Waiting")},
                          "alerts": {"type": "array", "items": _ref("SilenceAlert")},
                          "teams": {"type": "array", "items": _ref("TeamLimits")}}),
    "Suggestion": _obj({"kind": {"type": "string", "enum": ["faq", "canned"]}, "key": _STR, "title": _STR,
                        "text": _STR, "score": {"type": "number"}}),
    "Suggestions": _obj({
        "message_id": _NSTR, "text": _NSTR,
        "nlu": {"type": "string", "enum": ["ok", "unavailable", "none"]},
        "intent": {"type": "object", "nullable": True, "properties": {
            "name": _STR, "confidence": {"type": "number"}}},
        "suggestions": {"type": "array", "items": _ref("Suggestion")}}),
    "ReviewGroup": _obj({
        "key": _STR, "count": _INT, "item_ids": {"type": "array", "items": _INT},
        "examples": {"type": "array", "items": _STR},
        "kinds": {"type": "object", "additionalProperties": _INT}, "guess": _NSTR, "guess_name": _NSTR,
        "last_at": {"type": "number"}}),
    "ReviewPage": _obj({"groups": {"type": "array", "items": _ref("ReviewGroup")}, "total": _INT}),
    "ReviewLabels": _obj({"labels": {"type": "array", "items": _obj({
        "label": _STR, "name": _STR, "faq": {"type": "boolean"}})}}),
    "ReviewLabelResult": _obj({"labelled": _INT, "label": _STR, "file": _NSTR, "examples": _INT,
                               "held_out": _INT, "duplicates": _INT}),
    "Stats": _obj({
        "queue_length": _INT, "longest_wait_seconds": {"type": "number"},
        "agents": {"type": "array", "items": _ref("Agent")}, "agents_online": _INT,
        "handoffs_today": _INT,
        "handoffs_by_reason": {"type": "object", "additionalProperties": _INT},
        "first_response_seconds": {"type": "object", "properties": {
            "avg": {"type": "number", "nullable": True}, "p90": {"type": "number", "nullable": True}, "count": _INT}},
        "csat": {"type": "object", "properties": {"avg": {"type": "number", "nullable": True}, "count": _INT}}}),
    "KbEntry": _obj({
        "key": _STR, "kind": {"type": "string", "enum": list(KB_KINDS)}, "file": _STR, "example": _NSTR,
        "text": _STR, "version": {**_INT, "description": "newest version id; 0: as in the data files"},
        "live": {"type": "boolean", "description": "the serving model has this text"},
        "updated_at": {"type": "number", "nullable": True}, "updated_by": _NSTR}),
    "KbVersion": _obj({
        "id": _INT, "key": _STR, "kind": {"type": "string", "enum": list(KB_KINDS)}, "parent_id": _INT,
        "before": _STR, "after": _STR, "action": {"type": "string", "enum": ["edit", "rollback"]},
        "rollback_of": _NINT, "agent_id": _NINT, "agent_name": _NSTR, "created_at": {"type": "number"},
        "live": {"type": "boolean"}}),
    "KbTraining": _obj({
        "id": _INT, "state": {"type": "string", "enum": list(KB_STATES)},
        "stage": {"type": "string", "enum": list(KB_STAGES)}, "up_to_version": _INT,
        "keys": {"type": "array", "items": _STR}, "started_at": {"type": "number"},
        "finished_at": {"type": "number", "nullable": True}, "elapsed_seconds": {"type": "number"},
        "train_seconds": {"type": "number", "nullable": True}, "gate_seconds": {"type": "number", "nullable": True},
        "model": _NSTR, "error": _NSTR, "gate": {"type": "object", "nullable": True}, "log_tail": _STR}),
    "KbStatus": _obj({
        "retrain_enabled": {"type": "boolean"}, "running": {"type": "boolean"},
        "training": {**_ref("KbTraining"), "nullable": True},
        "recent": {"type": "array", "items": _ref("KbTraining")},
        "pending": {**_INT, "description": "versions saved but not yet in the serving model"}}),
}

# The websocket events (documented in the OpenAPI description's text, checked by the same test).
CUSTOMER_EVENTS = ("message", "mode", "queue", "agent_joined", "typing", "csat_request", "offline", "ack",
                   "error")
CONSOLE_EVENTS = ("queue", "message", "mode", "typing", "assigned", "requeued", "ticket", "presence", "resync",
                  "silence", "silence_resolved",
                  "error")


# -- history and quality inspection (handoff/history.py) ---------------------------------------

QA_RUBRIC = ("greeting", "correct", "resolved", "attitude")  # 问候与规范用语 · 回答正确 · 问题解决 · 服务态度


def _agent_ref(agent_id: int | None, names: dict[int, str]) -> dict[str, Any] | None:
    return None if agent_id is None else {"id": int(agent_id), "display_name": names.get(int(agent_id), "客服")}


def qa_score_out(row: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    """One supervisor's 质检 score of a conversation."""
    return {"conversation_id": row["conversation_id"], "supervisor": _agent_ref(row["supervisor_id"], names),
            "agent": _agent_ref(row["agent_id"], names), **{k: int(row[k]) for k in QA_RUBRIC},
            "comment": row.get("comment"), "served_at": row["served_at"], "updated_at": row["updated_at"]}


def _qa_summary(scores: list[dict[str, Any]]) -> dict[str, Any]:
    if not scores:
        return {"count": 0, "avg": None}
    total = sum(int(s[k]) for s in scores for k in QA_RUBRIC)
    return {"count": len(scores), "avg": round(total / (len(scores) * len(QA_RUBRIC)), 2)}


def history_item(row: dict[str, Any], names: dict[int, str], scorable: bool) -> dict[str, Any]:
    """A past conversation in a result list: who, when, why handed off, who served, the rating,
    a snippet (the first match of a text search, else what the customer came with)."""
    reasons: list[str] = []
    for h in row.get("handoffs", []):
        if h["reason"] not in reasons:
            reasons.append(h["reason"])
    return {
        "conversation_id": row["id"], "channel": row["channel"], "mode": row["mode"],
        "customer_id": row["customer_id"], "customer_name": row["customer_name"],
        "openid": row["external_id"] if row["channel"] == "wechat" else None,
        "created_at": row["created_at"], "updated_at": row["updated_at"],
        "reasons": reasons, "agents": [_agent_ref(a, names) for a in sorted(row.get("agent_ids", ()))],
        "rating": row["ratings"][-1] if row.get("ratings") else None,
        "snippet": row.get("snippet"), "qa": _qa_summary(row.get("qa", [])), "scorable": scorable,
    }


def history_page(items: list[dict[str, Any]], next_cursor: str | None, since: str, until: str) -> dict[str, Any]:
    """``GET /api/agent/history``: newest activity first; ``next_cursor`` reads the next page;
    ``from``/``to``: the days searched, in the shop's time zone (what the defaults came to)."""
    return {"items": items, "next_cursor": next_cursor, "from": since, "to": until}


def _handoff_out(h: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    return {"id": h["id"], "reason": h["reason"], "priority": h["priority"], "skill": h["skill"],
            "queued_at": h["queued_at"], "assigned_at": h["assigned_at"], "closed_at": h["closed_at"],
            "agent": _agent_ref(h["agent_id"], names)}


def transcript(conv: dict[str, Any], data: dict[str, Any], messages: list[dict[str, Any]], names: dict[int, str],
               qa: list[dict[str, Any]], scorable: bool) -> dict[str, Any]:
    """``GET /api/agent/history/{id}``: the whole conversation, read-only: customer, bot and agent
    messages with internal notes marked (``internal``), handoffs, ratings, 质检 scores, tickets."""
    refs = data["refs"]
    return {
        **conversation_summary(conv),
        "created_at": conv["created_at"],
        "openid": conv["external_id"] if conv["channel"] == "wechat" else None,
        "messages": messages,
        "handoffs": [_handoff_out(h, names) for h in data["handoffs"]],
        "ratings": [{"score": int(r["score"]), "comment": r["comment"], "created_at": r["created_at"],
                     "agent": _agent_ref(r["agent_id"], names)} for r in data["ratings"]],
        "qa": qa,
        "tickets": [ticket_out(t, with_transcript=False) for t in data["tickets"]],
        "order_numbers": [r["value"] for r in refs if r["kind"] == "order"],
        "phone_tails": [r["value"] for r in refs if r["kind"] == "phone_tail"],
        "scorable": scorable,
    }


def customer_history(link: str | None, items: list[dict[str, Any]], tickets: list[dict[str, Any]]) -> dict[str, Any]:
    """The chat sidebar: the customer's earlier conversations and their tickets. ``link`` says how
    they are tied to this customer: customer (signed identity), wechat (openid), browser (the
    widget's visitor id: same browser, identity not verified), or null (nothing to tie by)."""
    return {"link": link, "conversations": items, "tickets": [ticket_out(t, with_transcript=False) for t in tickets]}


def qa_agents(rows: list[dict[str, Any]], since: str, until: str) -> dict[str, Any]:
    """``GET /api/supervisor/qa/agents``: per agent, the count and average of each rubric item."""
    items = []
    for r in rows:
        avgs = {k: round(float(r[k]), 2) for k in QA_RUBRIC}
        items.append({"agent_id": int(r["agent_id"]), "display_name": r["display_name"], "count": int(r["count"]),
                      **avgs, "overall": round(sum(avgs.values()) / len(QA_RUBRIC), 2)})
    return {"from": since, "to": until, "items": items}


_NUM = {"type": "number"}
_NNUM = {"type": "number", "nullable": True}
_AGENT_REF = {"type": "object", "nullable": True, "properties": {"id": _INT, "display_name": _STR}}
_SCORE = {"type": "integer", "minimum": 1, "maximum": 5}
_TICKET_BRIEF = {"type": "object", "properties": {
    k: v for k, v in SCHEMAS["Ticket"]["properties"].items() if k != "transcript"}}

SCHEMAS.update({
    "QaScore": _obj({"conversation_id": _STR, "supervisor": _AGENT_REF, "agent": _AGENT_REF,
                     **{k: _SCORE for k in QA_RUBRIC}, "comment": _NSTR, "served_at": _NUM, "updated_at": _NUM}),
    "HistoryItem": _obj({
        "conversation_id": _STR, "channel": _STR, "mode": _MODE, "customer_id": _NSTR, "customer_name": _NSTR,
        "openid": {**_NSTR, "description": "WeChat openid (WeChat conversations only)"},
        "created_at": _NUM, "updated_at": _NUM, "reasons": {"type": "array", "items": _STR},
        "agents": {"type": "array", "items": _AGENT_REF}, "rating": {**_NINT, "description": "last CSAT score"},
        "snippet": {**_NSTR, "description": "first match of the text search, else the customer's first message; "
                                            "mobile numbers masked"},
        "qa": {"type": "object", "properties": {"count": _INT, "avg": _NNUM}},
        "scorable": {"type": "boolean", "description": "closed with an agent: a supervisor may score it"}}),
    "HistoryPage": _obj({"items": {"type": "array", "items": _ref("HistoryItem")},
                         "next_cursor": {**_NSTR, "description": "pass as cursor for the next page"},
                         "from": {**_STR, "format": "date"}, "to": {**_STR, "format": "date"}}),
    "Transcript": _obj({
        **_SUMMARY_PROPS, "created_at": _NUM, "openid": _NSTR,
        "messages": {"type": "array", "items": _ref("Message")},
        "handoffs": {"type": "array", "items": {"type": "object", "properties": {
            "id": _INT, "reason": _STR, "priority": _STR, "skill": _STR, "queued_at": _NUM,
            "assigned_at": _NNUM, "closed_at": _NNUM, "agent": _AGENT_REF}}},
        "ratings": {"type": "array", "items": {"type": "object", "properties": {
            "score": _INT, "comment": _NSTR, "created_at": _NUM, "agent": _AGENT_REF}}},
        "qa": {"type": "array", "items": _ref("QaScore")},
        "tickets": {"type": "array", "items": _TICKET_BRIEF},
        "order_numbers": {"type": "array", "items": _STR},
        "phone_tails": {"type": "array", "items": _STR},
        "scorable": {"type": "boolean"}}),
    "CustomerHistory": _obj({
        "link": {"type": "string", "nullable": True, "enum": ["customer", "wechat", "browser"]},
        "conversations": {"type": "array", "items": _ref("HistoryItem")},
        "tickets": {"type": "array", "items": _TICKET_BRIEF}}),
    "QaAgents": _obj({"from": _STR, "to": _STR, "items": {"type": "array", "items": _obj({
        "agent_id": _INT, "display_name": _STR, "count": _INT, **{k: _NUM for k in QA_RUBRIC}, "overall": _NUM})}}),
})
