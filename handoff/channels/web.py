"""The web channel: the widget's HTTP API and websocket, and delivery to its sockets."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sqlalchemy.exc import SQLAlchemyError

from handoff import shapes
from handoff.auth import client_address, customer_conversation
from handoff.delivery import conversation_topic
from handoff.errors import ApiError
from handoff.realtime import RESYNC
from handoff.service import Hub
from handoff.shapes import message_out
from handoff.state import is_served, is_waiting
from handoff.validation import DB_INT_MAX, db_int, parse_object

log = logging.getLogger("handoff.web")

bp = Blueprint("web_channel")

PAGE = 500  # messages per read; a longer history is read on with ``after``


class WebChannel:
    """Delivers events to the customer's websockets through the bus (any hub process)."""

    name = "web"
    leave_message_form = True  # the widget shows its form; the customer leaves the contact

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    @staticmethod
    def ticket_contact(conversation: dict[str, Any]) -> str | None:
        return None

    async def deliver(self, conversation: dict[str, Any], event: dict[str, Any]) -> None:
        await self.hub.bus.publish(conversation_topic(conversation["id"]), event)


def body_of(request: Request) -> dict[str, Any]:
    """The JSON object body, or a clear 400."""
    if not request.body:
        return {}
    return parse_object(request.body)


def hub_of(request: Request) -> Hub:
    return request.app.ctx.hub


VISITOR_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def visitor_of(data: dict[str, Any]) -> str | None:
    """The widget's per-browser id (kept in localStorage): one browser, one place in the queue."""
    visitor = data.get("visitor")
    if visitor is None or visitor == "":
        return None
    if not isinstance(visitor, str) or not 8 <= len(visitor) <= 64 or not set(visitor) <= VISITOR_CHARS:
        raise ApiError(400, "invalid_visitor", "visitor must be 8–64 characters of A–Z a–z 0–9 _ -. 访客标识无效。")
    return visitor


async def addressed_conversation(request: Request, conversation_id: str) -> dict[str, Any]:
    """The customer's conversation, carrying the client address its limits count against."""
    conv = await customer_conversation(request, conversation_id)
    conv["client_address"] = client_address(request)
    return conv


async def show_ticket_replies(hub: Hub, conv: dict[str, Any]) -> None:
    from handoff.ticket_desk import show_replies  # the ticket desk imports this module

    await show_replies(hub, conv)


async def conversation_state(hub: Hub, conv: dict[str, Any]) -> dict[str, Any]:
    place = agent = None
    if is_waiting(conv):
        place = (await hub.queue_snapshot()).places.get(conv["id"])
    elif is_served(conv) and conv["assigned_agent_id"] is not None:
        agent = await hub.store.agents.get(conv["assigned_agent_id"])
    return shapes.conversation_state(conv, place, agent)


@bp.post("/api/conversations")
async def create_conversation(request: Request) -> HTTPResponse:
    data = body_of(request)
    channel = data.get("channel", "web")
    if channel != "web":
        raise ApiError(400, "invalid_channel", "Only the web channel opens conversations here. 渠道无效。")
    identity = data.get("identity")
    if identity is not None and not isinstance(identity, str):
        raise ApiError(400, "invalid_identity", "identity must be a string. 身份格式错误。")
    hub = hub_of(request)
    conv, token = await hub.open_conversation(channel, identity or None, client_address(request), visitor_of(data))
    await show_ticket_replies(hub, conv)
    return json_response(shapes.new_conversation(conv, token), status=201)


@bp.get("/api/conversations/<conversation_id:str>")
async def get_conversation(request: Request, conversation_id: str) -> HTTPResponse:
    conv = await customer_conversation(request, conversation_id)
    hub = hub_of(request)
    if "after" not in request.args:  # a visit (open or reload), not a catch-up: replies to tickets join
        await show_ticket_replies(hub, conv)
    state = await conversation_state(hub, conv)
    rows = await hub.store.messages.read(conv["id"], after=after_arg(request), limit=PAGE + 1)
    return json_response({**state, **shapes.message_page(rows, PAGE, customer=True)})


def after_arg(request: Request) -> int:
    """The ``after`` seq of a catch-up read; negative counts as 0."""
    return max(0, db_int(request.args.get("after", "0"), "after", minimum=-DB_INT_MAX))


@bp.get("/api/conversations/<conversation_id:str>/messages")
async def list_messages(request: Request, conversation_id: str) -> HTTPResponse:
    conv = await customer_conversation(request, conversation_id)
    rows = await hub_of(request).store.messages.read(conv["id"], after=after_arg(request), limit=PAGE + 1)
    return json_response(shapes.message_page(rows, PAGE, customer=True))


@bp.post("/api/conversations/<conversation_id:str>/messages")
async def post_message(request: Request, conversation_id: str) -> HTTPResponse:
    conv = await addressed_conversation(request, conversation_id)
    data = body_of(request)
    msg, replies = await hub_of(request).customer_message(
        conv, data.get("text"), data.get("client_msg_id"), data.get("title")
    )
    return json_response(shapes.send_result(msg, replies))


@bp.post("/api/conversations/<conversation_id:str>/typing")
async def customer_typing(request: Request, conversation_id: str) -> HTTPResponse:
    conv = await addressed_conversation(request, conversation_id)
    await hub_of(request).customer_typing(conv)
    return json_response({"ok": True})


@bp.post("/api/conversations/<conversation_id:str>/csat")
async def post_csat(request: Request, conversation_id: str) -> HTTPResponse:
    conv = await customer_conversation(request, conversation_id)
    data = body_of(request)
    await hub_of(request).add_csat(conv, data.get("score"), data.get("comment"), data.get("nps"))
    return json_response({"ok": True})


@bp.post("/api/conversations/<conversation_id:str>/leave_message")
async def leave_message(request: Request, conversation_id: str) -> HTTPResponse:
    conv = await addressed_conversation(request, conversation_id)
    data = body_of(request)
    ticket_id = await hub_of(request).leave_message(conv, data.get("text"), data.get("contact"))
    return json_response({"ticket_id": ticket_id}, status=201)


class Delivered:
    """Which message seqs a socket has got: all up to ``low``, and some above (a message from
    this process can overtake one from another that the bus lost). A catch-up starts at ``low``."""

    def __init__(self, low: int) -> None:
        self.low = low
        self.above: set[int] = set()

    def add(self, seq: int) -> None:
        if seq <= self.low:
            return
        self.above.add(seq)
        while self.low + 1 in self.above:
            self.low += 1
            self.above.discard(self.low)
        if len(self.above) > 1000:  # gaps that old are internal notes, never sent to the customer
            self.low, self.above = max(self.above), set()

    def __contains__(self, seq: int) -> bool:
        return seq <= self.low or seq in self.above


async def _pump(sub: Any, ws: Any, hub: Hub, conv: dict[str, Any]) -> None:
    """Forward the conversation's events; on a resync (the bus was down) send what the socket
    missed from the database: the messages it did not get, and the current state."""
    delivered = Delivered(int(conv.get("last_seq") or 0))
    while True:
        event = await sub.get()
        if event.get("type") == RESYNC:
            await _catch_up(hub, ws, conv["id"], delivered)
            continue
        if event.get("type") == "message":
            delivered.add(int(event["message"].get("seq") or 0))
        await ws.send(json.dumps(event, ensure_ascii=False))


async def _catch_up(hub: Hub, ws: Any, conversation_id: str, delivered: Delivered) -> None:
    for attempt in range(5):
        try:
            while True:  # internal notes are read too (never sent), so the seqs have no holes
                rows = await hub.store.messages.read(conversation_id, after=delivered.low,
                                                     include_internal=True, limit=PAGE)
                for row in rows:
                    if not row["internal"] and row["seq"] not in delivered:
                        await ws.send(json.dumps(shapes.customer_message_event(message_out(row)),
                                                 ensure_ascii=False))
                    delivered.add(int(row["seq"]))
                if len(rows) < PAGE:
                    break
            conv = await hub.store.conversations.get(conversation_id)
            if conv is not None:
                state = await conversation_state(hub, conv)
                for event in shapes.state_events(state, joined=False, csat=True):
                    await ws.send(json.dumps(event, ensure_ascii=False))
            return
        except SQLAlchemyError as exc:
            log.warning("catch-up after a bus outage failed (%s); retrying", type(exc).__name__)
            await asyncio.sleep(1 + attempt)


async def _send_error(ws: Any, err: ApiError) -> None:
    await ws.send(json.dumps(shapes.error_event(err.to_dict()), ensure_ascii=False))


@bp.websocket("/ws/customer")
async def ws_customer(request: Request, ws: Any) -> None:
    hub = hub_of(request)
    try:
        conv = getattr(request.ctx, "ws_conversation", None) or await customer_conversation(
            request, request.args.get("conversation_id", ""), request.args.get("token")
        )
    except ApiError as err:
        await _send_error(ws, err)
        await ws.close(code=4401, reason=err.code)
        return
    sub = hub.bus.subscribe(conversation_topic(conv["id"]))
    pump = asyncio.get_running_loop().create_task(_pump(sub, ws, hub, conv))
    try:
        state = await conversation_state(hub, conv)
        for event in shapes.state_events(state, joined=True, csat=False):
            await ws.send(json.dumps(event, ensure_ascii=False))
        while True:
            raw = await ws.recv()
            if raw is None:
                break
            await _handle_customer_frame(hub, ws, conv["id"], raw, client_address(request))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a closed socket ends the loop; anything else is logged
        if type(exc).__name__ not in ("ConnectionClosed", "ConnectionClosedOK", "ConnectionClosedError"):
            log.exception("customer websocket error")
    finally:
        pump.cancel()
        sub.close()


async def _handle_customer_frame(hub: Hub, ws: Any, conversation_id: str, raw: str | bytes,
                                 address: str | None = None) -> None:
    """One frame; whatever is wrong with it is answered with an error frame, the socket stays."""
    try:
        frame = parse_object(raw, "Frame")
        conv = await hub.store.conversations.get(conversation_id)
        if conv is None:
            return
        conv["client_address"] = address
        if frame.get("type") == "typing":
            await hub.customer_typing(conv)
        elif frame.get("type") == "message":
            msg, _ = await hub.customer_message(
                conv, frame.get("text"), frame.get("client_msg_id"), frame.get("title")
            )
            await ws.send(json.dumps(shapes.ack_event(msg), ensure_ascii=False))
        else:
            raise ApiError(400, "invalid_frame", "type must be message or typing.")
    except ApiError as err:
        await _send_error(ws, err)
    except SQLAlchemyError as exc:
        log.error("database error on a customer frame: %s", type(exc).__name__)
        await _send_error(ws, ApiError(503, "unavailable", "Storage unavailable; retry. 服务暂不可用，请重试。"))
