"""The JSON shapes the hub sends (handoff.shapes) against the schemas the OpenAPI description
publishes: every field a builder writes is documented, with its type, and every documented
required field is written. The check is strict: an undocumented key fails."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from handoff import shapes
from handoff.metrics import handoff_figures, queue_figures
from handoff.openapi import build_spec
from handoff.state import MODES

NOW = time.time()
MESSAGE_ROW = {"id": "m" * 32, "seq": 3, "conversation_id": "c" * 32, "author": "bot", "agent_id": None,
               "channel": "web", "text": "您好", "title": None, "internal": False, "client_msg_id": None,
               "buttons": json.dumps([{"title": "查订单", "payload": "/order_status"}], ensure_ascii=False),
               "reply_to": None, "created_at": NOW}
CONVERSATION = {"id": "c" * 32, "token_hash": "h", "channel": "web", "external_id": None, "customer_id": "C0001",
                "customer_name": "张伟", "mode": "queued", "reason": "angry", "priority": "high", "skill": "refunds",
                "summary": "退款慢", "emotion": "angry", "vip_level": 3, "assigned_agent_id": None, "handoff_id": 1,
                "queued_at": NOW - 30, "csat_pending": False, "last_seq": 3, "created_at": NOW - 60,
                "updated_at": NOW, "queue_position": None, "queue_eta": None}
AGENT = {"id": 2, "username": "agent1", "display_name": "客服 小李", "password_hash": "x", "role": "agent",
         "skills": "orders,general", "presence": "online", "max_chats": 5, "last_assigned_at": 0.0,
         "created_at": NOW, "load": 1}
TICKET = {"id": 7, "conversation_id": "c" * 32, "customer_id": None, "contact": "138****0000", "text": "请回电",
          "transcript": json.dumps([{"author": "customer", "text": "在吗", "created_at": NOW}]), "status": "open",
          "agent_id": None, "created_at": NOW, "updated_at": NOW, "due_at": NOW + 86400}

ENTRY = {"id": 3, "ticket_id": 7, "kind": "reply", "agent_id": 2, "text": "已为您补发", "value": None,
         "delivery": "pending", "delivery_detail": None, "shown_in": None, "created_at": NOW}
ALERT = {"id": 5, "conversation_id": "c" * 32, "level": "agent", "since": NOW - 40, "agent_id": 2, "skill": "orders",
         "created_at": NOW, "resolved_at": None, "resolution": None}

SCHEMAS = build_spec()["components"]["schemas"]


def conforms(value: Any, schema: dict[str, Any], path: str = "$") -> None:
    """Strict OpenAPI 3.0 check (type, nullable, enum, required, properties, items, $ref):
    objects with ``properties`` may carry no other keys."""
    if "$ref" in schema:
        target = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    if value is None:
        assert schema.get("nullable"), f"{path} is null but not nullable"
        return
    kind = schema.get("type")
    expected = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
                "object": dict, "array": list}.get(kind or "")
    if expected is not None:
        assert isinstance(value, expected) and not (kind in ("integer", "number") and isinstance(value, bool)), \
            f"{path}: {value!r} is not {kind}"
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if kind == "object" and "properties" in schema:
        undocumented = set(value) - set(schema["properties"])
        assert not undocumented, f"{path}: undocumented {sorted(undocumented)}"
        missing = set(schema.get("required", [])) - set(value)
        assert not missing, f"{path}: missing {sorted(missing)}"
        for key, item in value.items():
            conforms(item, schema["properties"][key], f"{path}.{key}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            conforms(item, schema["items"], f"{path}[{i}]")


def test_the_description_takes_its_schemas_from_the_shapes_module() -> None:
    assert SCHEMAS == shapes.SCHEMAS
    assert SCHEMAS["ConversationState"]["properties"]["mode"]["enum"] == list(MODES)
    assert SCHEMAS["Message"]["properties"]["author"]["enum"] == list(shapes.Author.ALL)


def _queue_list() -> dict[str, Any]:
    item = {**shapes.queue_item(CONVERSATION, NOW), "in_my_groups": True, **shapes.queue_place(1, 180)}
    return shapes.queue_list([item], [AGENT])


BUILT = [
    ("Message", lambda: shapes.message_out(MESSAGE_ROW)),
    ("Message", lambda: shapes.customer_view(shapes.message_out(MESSAGE_ROW))),
    ("MessagePage", lambda: shapes.message_page([MESSAGE_ROW, MESSAGE_ROW], 1, customer=True)),
    ("MessagePage", lambda: shapes.message_page([MESSAGE_ROW], 5, customer=False)),
    ("NewConversation", lambda: shapes.new_conversation(CONVERSATION, "token")),
    ("ConversationState", lambda: {**shapes.conversation_state(CONVERSATION, shapes.queue_place(2, 360), None),
                                   **shapes.message_page([MESSAGE_ROW], 500, customer=True)}),
    ("ConversationState", lambda: shapes.conversation_state({**CONVERSATION, "mode": "agent"}, None, AGENT)),
    ("SendResult", lambda: shapes.send_result(shapes.customer_view(shapes.message_out(MESSAGE_ROW)), [])),
    ("Agent", lambda: shapes.agent_public(AGENT)),
    ("Agent", lambda: shapes.agent_public(AGENT, AGENT["load"])),
    ("Agent", lambda: shapes.agents_view([AGENT])[0]),
    ("Login", lambda: shapes.login_result(AGENT, "csrf", None)),
    ("Login", lambda: shapes.login_result(AGENT, "csrf", "token")),
    ("Me", lambda: shapes.me(AGENT, 2, "csrf")),
    ("QueueList", _queue_list),
    ("ConversationSummary", lambda: shapes.conversation_summary(CONVERSATION)),
    ("AgentConversation", lambda: shapes.agent_conversation(CONVERSATION, [MESSAGE_ROW], AGENT, None, [])),
    ("Canned", lambda: shapes.canned_out({"id": 1, "title": "问候", "text": "您好", "updated_by": None,
                                          "updated_at": NOW})),
    ("Ticket", lambda: shapes.ticket_out(TICKET)),
    ("Ticket", lambda: shapes.ticket_out({**TICKET, "channel": "wechat", "assignee_id": 2, "outcome": "answered",
                                          "answered_at": NOW})),
    ("TicketDetail", lambda: shapes.ticket_detail({**TICKET, "channel": "web"}, [ENTRY], None)),
    ("TicketDetail", lambda: shapes.ticket_detail(TICKET, [ENTRY, {**ENTRY, "kind": "status", "text": None,
                                                                   "value": "pending", "delivery": None}],
                                                  shapes.wechat_window(NOW - 3600, NOW))),
    ("TicketReply", lambda: shapes.reply_result(TICKET, ENTRY)),
    ("SilenceState", lambda: shapes.silence_state(
        [{"conversation_id": "c" * 32, "agent_id": 2, "skill": "orders", "since": NOW - 40,
          "customer_name": "张伟"}], [ALERT],
        {"orders": shapes.team_limits("orders", True, 30.0, 120.0, False)})),
    ("TeamLimits", lambda: shapes.team_limits("refunds", False, 45.0, 90.0, True)),
    ("Stats", lambda: shapes.stats(queue_figures([CONVERSATION], NOW), handoff_figures([]), {"avg": None, "count": 0},
                                   [AGENT])),
]


@pytest.mark.parametrize(("schema", "build"), BUILT, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BUILT)])
def test_each_shape_is_what_its_schema_documents(schema: str, build: Any) -> None:
    conforms(build(), {"$ref": f"#/components/schemas/{schema}"})


def test_websocket_events_are_the_documented_ones() -> None:
    customer = [shapes.customer_message_event(shapes.message_out(MESSAGE_ROW)), shapes.mode_event("bot"),
                shapes.queue_place_event(shapes.queue_place(1, 60)), shapes.agent_joined_event("客服 小李"),
                shapes.offline_event(), shapes.csat_request_event(), shapes.customer_typing_event(),
                shapes.ack_event(shapes.customer_view(shapes.message_out(MESSAGE_ROW))),
                shapes.error_event({"error": {"code": "x", "message": "y"}})]
    console = [shapes.console_message_event(CONVERSATION, shapes.message_out(MESSAGE_ROW)),
               shapes.console_typing_event(CONVERSATION), shapes.console_mode_event(CONVERSATION),
               shapes.assigned_event("c" * 32, 2), shapes.requeued_event("c" * 32, 2, "agent_away"),
               shapes.presence_event(2, "away", auto=True), shapes.ticket_event(7, "open", "c" * 32),
               shapes.queue_event([CONVERSATION], [AGENT], NOW), shapes.resync_event(),
               shapes.silence_event(ALERT), shapes.silence_resolved_event(ALERT, "taken_back")]
    assert {e["type"] for e in customer} == set(shapes.CUSTOMER_EVENTS)
    state = shapes.conversation_state({**CONVERSATION, "mode": "agent", "csat_pending": True}, None, AGENT)
    assert [e["type"] for e in shapes.state_events(state, joined=True, csat=False)] == ["mode", "agent_joined"]
    assert [e["type"] for e in shapes.state_events(state, joined=False, csat=True)] == ["mode", "csat_request"]
    assert {e["type"] for e in console} == set(shapes.CONSOLE_EVENTS) - {"error"}
    conforms(shapes.queue_event([CONVERSATION], [AGENT], NOW)["items"][0], {"$ref": "#/components/schemas/QueueItem"})
    for event in customer[:2] + console[:1]:
        if "message" in event:
            conforms(event["message"], {"$ref": "#/components/schemas/Message"})
    description = build_spec()["info"]["description"]
    for kind in shapes.CUSTOMER_EVENTS + shapes.CONSOLE_EVENTS:
        assert kind in description
