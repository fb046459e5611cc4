"""Tickets worked in the console: assign, reply, change status and due time, notes, the thread.

Who may do what (the issue left it open; decided here):
- every agent sees every ticket (a shared inbox: anyone may pick up an unassigned one);
- supervisors assign a ticket to any agent, or unassign it; an agent takes an unassigned ticket
  for themselves (of two agents taking it at once exactly one wins) and may give back their own;
- replies, status changes and notes: the assignee or a supervisor; an agent acting on an
  unassigned ticket takes it first, in the same request; a colleague's ticket is refused (403);
- due times: supervisors only (they are the team's promise to the customer).

Where a reply goes: a WeChat ticket's reply is sent through the customer-service message API
while WeChat's 48 h window since the customer's last message is open; once it has closed the
reply is not sent, kept in the thread as ``window_closed`` and the console says so. A web
ticket's reply waits (``pending``) and is shown in the widget on the customer's next visit,
from the same browser (its visitor id) or as the same signed customer (``show_replies``).
A reply that reaches or will reach the customer is the contact's outcome (``answered``).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Extra, StrictFloat, StrictInt, StrictStr
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from handoff import scope, shapes
from handoff.auth import current_agent, require_supervisor
from handoff.channels.web import body_of, hub_of
from handoff.errors import ApiError
from handoff.service import Hub, validate_text
from handoff.shapes import Author
from handoff.tickets import validate_status
from handoff.validation import db_int, parse_model

bp = Blueprint("ticket_desk")

WECHAT_WINDOW_HOURS = 48.0
MAX_DUE_AHEAD = 366 * 86400  # a due time within a year from now
TEXT_WEB_REPLY = "关于您的留言（工单号 {ticket_id}），客服回复如下：\n{text}"
WECHAT_OFF = "微信渠道未启用，无法发送"
WEB_UNKNOWN = "客户未登录，也没有浏览器标识，网页上无法送达；请通过留下的联系方式回复"
WINDOW_CLOSED = "客户最后一条消息已超过 48 小时，微信不允许再主动发消息；回复未发送，已保存为未送达"


class _Body(BaseModel):
    class Config:
        extra = Extra.forbid


class ReplyBody(_Body):
    text: StrictStr


class NoteBody(_Body):
    text: StrictStr


class AssignBody(_Body):
    agent_id: StrictInt | None = None


class PatchBody(_Body):
    status: StrictStr | None = None
    due_at: StrictFloat | StrictInt | None = None


def _ticket_id(raw: Any) -> int:
    return db_int(raw, "ticket_id")


async def _ticket(hub: Hub, ticket_id: int) -> dict[str, Any]:
    row = await hub.store.tickets.get(ticket_id)
    if row is None:
        raise ApiError(404, "not_found", "No such ticket. 工单不存在。")
    return row


async def _in_hand(hub: Hub, agent: dict[str, Any], ticket_id: int) -> dict[str, Any]:
    """The ticket, if this agent may work on it: theirs, a supervisor's right, or unassigned
    (then it becomes theirs now)."""
    row = await _ticket(hub, ticket_id)
    if scope.is_supervisor(agent) or row["assignee_id"] == agent["id"]:
        return row
    if row["assignee_id"] is None and await hub.store.ticket_threads.take(ticket_id, agent["id"], time.time()):
        return await _ticket(hub, ticket_id)
    raise ApiError(403, "not_your_ticket", "This ticket is assigned to a colleague. 该工单已分配给其他客服。")


async def _changed(hub: Hub, ticket_id: int) -> dict[str, Any]:
    """The ticket as it is after a change, announced to the consoles."""
    row = await _ticket(hub, ticket_id)
    await _announce(hub, row)
    return row


async def _announce(hub: Hub, row: dict[str, Any]) -> None:
    await hub.to_agents(shapes.ticket_event(row["id"], row["status"], row.get("conversation_id")))


async def _window(hub: Hub, row: dict[str, Any]) -> dict[str, Any] | None:
    if row.get("channel") != "wechat":
        return None
    conv = await hub.store.ticket_threads.conversation(row.get("conversation_id"))
    openid = (conv or {}).get("external_id")
    last = await hub.store.ticket_threads.last_customer_message_at("wechat", openid) if openid else None
    return shapes.wechat_window(last, time.time(), WECHAT_WINDOW_HOURS)


@bp.get("/api/agent/tickets")
async def list_tickets(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    status = request.args.get("status")
    if status is not None:
        validate_status(status)
    assignee = request.args.get("assignee")
    if assignee not in (None, "me", "none"):
        raise ApiError(400, "invalid_assignee", "assignee must be me or none. 参数无效。")
    rows = await hub_of(request).store.tickets.find(
        status, assignee=agent["id"] if assignee == "me" else None, unassigned=assignee == "none")
    return json_response({"items": [shapes.ticket_out(r) for r in rows]})


@bp.get("/api/agent/tickets/<ticket_id:int>")
async def ticket_detail(request: Request, ticket_id: int) -> HTTPResponse:
    await current_agent(request)
    hub = hub_of(request)
    row = await _ticket(hub, _ticket_id(ticket_id))
    thread = await hub.store.ticket_threads.thread(row["id"])
    return json_response(shapes.ticket_detail(row, thread, await _window(hub, row)))


@bp.patch("/api/agent/tickets/<ticket_id:int>")
async def update_ticket(request: Request, ticket_id: int) -> HTTPResponse:
    """Status (assignee or supervisor) and due time (supervisor)."""
    agent = await current_agent(request)
    ticket_id = _ticket_id(ticket_id)
    hub = hub_of(request)
    body = parse_model(body_of(request), PatchBody)
    if body.status is None and body.due_at is None:
        raise ApiError(400, "invalid_status", "Give status or due_at. 请指定状态或截止时间。")
    status = validate_status(body.status) if body.status is not None else None
    now = time.time()
    if body.due_at is not None:
        require_supervisor(agent)
        due = float(body.due_at)
        if not now - 86400 <= due <= now + MAX_DUE_AHEAD:
            raise ApiError(400, "invalid_due_at", "due_at: from yesterday to a year ahead. 截止时间无效。")
        await _ticket(hub, ticket_id)
        await hub.store.ticket_threads.set_due(ticket_id, due, agent["id"], now)
    if status is not None:
        await _in_hand(hub, agent, ticket_id)
        await hub.store.ticket_threads.set_status(ticket_id, status, agent["id"], now)
    row = await _changed(hub, ticket_id)
    return json_response({"ticket": shapes.ticket_out(row)})


@bp.post("/api/agent/tickets/<ticket_id:int>/assign")
async def assign_ticket(request: Request, ticket_id: int) -> HTTPResponse:
    agent = await current_agent(request)
    ticket_id = _ticket_id(ticket_id)
    hub = hub_of(request)
    body = parse_model(body_of(request), AssignBody)
    row = await _ticket(hub, ticket_id)
    now = time.time()
    target = body.agent_id
    if target is not None:
        target = db_int(target, "agent_id")
        if await hub.store.agents.get(target) is None:
            raise ApiError(404, "agent_not_found", "No such agent. 客服不存在。")
    if scope.is_supervisor(agent):
        await hub.store.ticket_threads.assign(ticket_id, target, agent["id"], now)
    elif target == agent["id"]:
        if row["assignee_id"] != agent["id"] and not await hub.store.ticket_threads.take(ticket_id, agent["id"], now):
            raise ApiError(409, "already_assigned", "Someone has taken this ticket. 该工单已被其他客服领取。")
    elif target is None and row["assignee_id"] == agent["id"]:
        await hub.store.ticket_threads.assign(ticket_id, None, agent["id"], now)  # giving one's own back
    else:
        raise ApiError(403, "forbidden", "Only supervisors assign tickets to others. 仅主管可分配工单给他人。")
    row = await _changed(hub, ticket_id)
    return json_response({"ticket": shapes.ticket_out(row)})


@bp.post("/api/agent/tickets/<ticket_id:int>/notes")
async def add_note(request: Request, ticket_id: int) -> HTTPResponse:
    agent = await current_agent(request)
    ticket_id = _ticket_id(ticket_id)
    hub = hub_of(request)
    body = parse_model(body_of(request), NoteBody)
    text = validate_text(body.text, hub.settings.max_message_chars)
    await _in_hand(hub, agent, ticket_id)
    entry = await hub.store.ticket_threads.note(ticket_id, text, agent["id"], time.time())
    row = await _changed(hub, ticket_id)
    return json_response(shapes.reply_result(row, entry), status=201)


@bp.post("/api/agent/tickets/<ticket_id:int>/replies")
async def reply(request: Request, ticket_id: int) -> HTTPResponse:
    agent = await current_agent(request)
    ticket_id = _ticket_id(ticket_id)
    hub = hub_of(request)
    body = parse_model(body_of(request), ReplyBody)
    text = validate_text(body.text, hub.settings.max_message_chars)
    row = await _in_hand(hub, agent, ticket_id)
    if row["status"] == "solved":
        raise ApiError(409, "ticket_solved", "The ticket is solved; reopen it to reply. 工单已解决，请先重新打开。")
    delivery, detail = await _send(hub, row, text)
    entry = await hub.store.ticket_threads.reply(ticket_id, text, agent["id"], time.time(), delivery, detail)
    row = await _changed(hub, ticket_id)
    return json_response(shapes.reply_result(row, entry), status=201)


async def _send(hub: Hub, row: dict[str, Any], text: str) -> tuple[str, str | None]:
    """Send a reply where the ticket came from: (delivery, detail) for the thread."""
    if row.get("channel") != "wechat":
        conv = await hub.store.ticket_threads.conversation(row.get("conversation_id"))
        if not row.get("customer_id") and not (conv or {}).get("external_id"):
            return "failed", WEB_UNKNOWN  # no browser id, no signed customer: no visit will match
        return "pending", "客户下次打开网页客服时可见"
    from handoff.channels.wechat import UNDELIVERED
    from handoff.wechat.api import WeChatApiError
    from handoff.wechat.protocol import split_text

    channel = hub.channels.get("wechat")
    api = getattr(channel, "api", None)
    if api is None:
        return "failed", WECHAT_OFF
    window = await _window(hub, row)
    if window is None or not window["open"]:
        return "window_closed", WINDOW_CLOSED
    conv = await hub.store.ticket_threads.conversation(row.get("conversation_id"))
    try:
        for piece in split_text(text):
            await api.send_text(conv["external_id"], piece)
    except WeChatApiError as err:
        if err.errcode == 45015:
            return "window_closed", WINDOW_CLOSED
        return "failed", f"{err.errcode}：{UNDELIVERED.get(err.errcode, '微信接口错误')}"[:200]
    return "sent", "已通过微信客服消息发送"


async def show_replies(hub: Hub, conv: dict[str, Any]) -> None:
    """The customer is back in the widget: replies to their tickets not shown yet join this
    conversation (each shown once, in one conversation: ``mark_shown`` is conditional)."""
    if conv.get("channel") != "web":
        return
    pending = await hub.store.ticket_threads.pending_for(conv.get("customer_id"), conv.get("external_id"))
    for entry in pending:
        if not await hub.store.ticket_threads.mark_shown(entry["id"], conv["id"]):
            continue
        text = TEXT_WEB_REPLY.format(ticket_id=entry["ticket_id"], text=entry["text"])
        rows = await hub.store.messages.add(conv["id"], conv["channel"],
                                            [{"author": Author.AGENT, "agent_id": entry["agent_id"], "text": text}])
        await hub.publish_messages(conv, rows)
