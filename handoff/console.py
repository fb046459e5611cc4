"""The agent console API and websocket: login, queue, claims, replies, canned replies
(tickets: ``handoff.ticket_desk``; silent-agent alerts: ``handoff.silence``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sqlalchemy.exc import SQLAlchemyError

from handoff import scope, shapes
from handoff.auth import (
    SESSION_COOKIE,
    authenticate,
    current_agent,
    is_conversation_id,
    new_token,
    require_supervisor,
    same_origin,
    token_hash,
)
from handoff.channels.web import after_arg, body_of, hub_of
from handoff.delivery import AGENTS_TOPIC
from handoff.errors import ApiError
from handoff.realtime import RESYNC
from handoff.service import Hub
from handoff.state import HUMAN, Mode
from handoff.validation import clean_text, db_int, is_blank, parse_object

log = logging.getLogger("handoff.console")

bp = Blueprint("console")


def session_topic(session_hash: str) -> str:
    """Where the end of one session is announced (to its consoles on every hub process)."""
    return f"session:{session_hash}"


def agent_sessions_topic(agent_id: int) -> str:
    """Where the end of all of an agent's sessions is announced (password reset)."""
    return f"agent-sessions:{agent_id}"


async def _conversation(hub: Hub, conversation_id: str) -> dict[str, Any]:
    conv = await hub.store.conversations.get(conversation_id) if is_conversation_id(conversation_id) else None
    if conv is None:
        raise ApiError(404, "not_found", "Conversation not found. 会话不存在。")
    return conv


async def _visible_conversation(hub: Hub, agent: dict[str, Any], conversation_id: str) -> dict[str, Any]:
    """The conversation if this agent may read it (``scope.can_view``), else 403."""
    conv = await _conversation(hub, conversation_id)
    if not scope.can_view(agent, conv):
        scope.check_view(agent, conv, served=await hub.store.messages.agent_served(conv["id"], agent["id"]))
    return conv


@bp.post("/api/agent/login")
async def login(request: Request) -> HTTPResponse:
    """Password login. The session is an HttpOnly cookie; the token itself is in the answer only
    for an API client that asks (``"bearer": true``), so page script never sees it. Only JSON
    from the hub's own origin is accepted: a form on another site cannot log a browser in."""
    hub = hub_of(request)
    if not same_origin(request):
        raise ApiError(403, "bad_origin", "Cross-site login refused. 跨站登录被拒绝。")
    if (request.content_type or "").split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the login as application/json. 请以 JSON 提交。")
    data = body_of(request)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise ApiError(400, "invalid_credentials", "username and password are required. 请输入用户名和密码。")
    if len(username) > 64 or len(password) > 1024:
        raise ApiError(401, "invalid_credentials", "Wrong username or password. 用户名或密码错误。")
    agent = await authenticate(request, username, password)
    token, csrf = new_token(), new_token()
    await hub.store.sessions.create(token_hash(token), agent["id"], csrf, hub.settings.session_ttl_seconds)
    resp = json_response(shapes.login_result(agent, csrf, token if data.get("bearer") is True else None))
    resp.cookies[SESSION_COOKIE] = token
    cookie = resp.cookies[SESSION_COOKIE]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/"
    cookie["max-age"] = hub.settings.session_ttl_seconds
    if hub.settings.cookie_secure or request.scheme in ("https", "wss"):
        cookie["secure"] = True
    log.info("agent %s logged in", agent["username"])
    return resp


@bp.post("/api/agent/logout")
async def logout(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    await hub.store.sessions.delete(request.ctx.session_hash)
    # Its consoles close on every hub process; they also notice within HUB_SESSION_CHECK.
    await hub.bus.publish(session_topic(request.ctx.session_hash), shapes.session_revoked_event())
    resp = json_response({"ok": True, "agent_id": agent["id"]})
    resp.cookies[SESSION_COOKIE] = ""
    resp.cookies[SESSION_COOKIE]["max-age"] = 0
    resp.cookies[SESSION_COOKIE]["path"] = "/"
    return resp


@bp.get("/api/agent/me")
async def me(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    loads = await hub_of(request).store.agents.loads()
    load = next((int(a["load"]) for a in loads if a["id"] == agent["id"]), 0)
    # The CSRF token of this session: a console reloaded with only its cookie needs it to post.
    # Same-origin only (no CORS on /api/agent, SameSite=Strict cookie), so other sites cannot read it.
    return json_response(shapes.me(agent, load, request.ctx.csrf_token))


@bp.post("/api/agent/presence")
async def presence(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    status = body_of(request).get("status")
    if status in ("online", "away", "offline"):  # deliberate: a reconnect must not undo it
        await request.app.ctx.presence.manual(agent, status)
    await hub_of(request).set_presence(agent, status)
    return json_response({"ok": True, "presence": status})


@bp.get("/api/agent/agents")
async def list_agents(request: Request) -> HTTPResponse:
    await current_agent(request)
    loads = await hub_of(request).store.agents.loads()
    return json_response({"agents": [shapes.agent_public(a, a["load"]) for a in loads]})


@bp.get("/api/agent/queue")
async def get_queue(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    snap = await hub.queue_snapshot()
    now = time.time()
    items = [{**shapes.queue_item(item, now), "in_my_groups": scope.in_groups(agent, item["skill"]),
              **snap.places[item["id"]]} for item in scope.queue_items(agent, snap.ordered)]
    return json_response(shapes.queue_list(items, snap.loads))


@bp.get("/api/agent/conversations")
async def list_conversations(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    scope_arg = request.args.get("scope", "mine")
    if scope_arg not in ("mine", "all"):
        raise ApiError(400, "invalid_scope", "scope must be mine or all.")
    scope.check_list_scope(agent, scope_arg)
    store = hub_of(request).store
    if scope_arg == "mine":
        rows = await store.conversations.find(agent_id=agent["id"], modes=[Mode.AGENT])
    else:
        rows = await store.conversations.find(modes=HUMAN)
    return json_response({"conversations": [shapes.conversation_summary(c) for c in rows]})


@bp.get("/api/agent/conversations/<conversation_id:str>")
async def get_conversation(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    conv = await _visible_conversation(hub, agent, conversation_id)
    rows = await hub.store.messages.read(conv["id"], include_internal=True, limit=2000)
    profile, orders = await asyncio.gather(
        hub.directory.profile(conv["customer_id"]),
        hub.directory.recent_orders(conv["customer_id"]),
    )
    assigned = None
    if conv["assigned_agent_id"] is not None:
        assigned = await hub.store.agents.get(conv["assigned_agent_id"])
    return json_response(shapes.agent_conversation(conv, rows, assigned, profile, orders))


@bp.get("/api/agent/conversations/<conversation_id:str>/messages")
async def agent_messages(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    conv = await _visible_conversation(hub, agent, conversation_id)
    rows = await hub.store.messages.read(conv["id"], after=after_arg(request), include_internal=True)
    return json_response({"messages": [shapes.message_out(r) for r in rows]})


@bp.post("/api/agent/conversations/<conversation_id:str>/claim")
async def claim(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    conv = await _conversation(hub, conversation_id)
    loads = await hub.store.agents.loads()
    load = next((int(a["load"]) for a in loads if a["id"] == agent["id"]), 0)
    scope.check_claim(agent, conv, load)
    if not await hub.claim(conv, agent):
        raise ApiError(409, "already_claimed", "Another agent has taken this chat, or it left the queue. 该会话已被接入。")
    return json_response({"ok": True, "conversation_id": conversation_id, "agent_id": agent["id"]})


@bp.post("/api/agent/conversations/<conversation_id:str>/messages")
async def agent_message(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    conv = await _conversation(hub, conversation_id)
    data = body_of(request)
    msg = await hub.agent_message(conv, agent, data.get("text"), data.get("internal", False))
    return json_response({"message": msg})


@bp.post("/api/agent/conversations/<conversation_id:str>/typing")
async def agent_typing(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    await hub.agent_typing(await _conversation(hub, conversation_id), agent)
    return json_response({"ok": True})


@bp.post("/api/agent/conversations/<conversation_id:str>/transfer")
async def transfer(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    conv = await _conversation(hub, conversation_id)
    data = body_of(request)
    conv = await hub.transfer(conv, agent, data.get("agent_id"), data.get("skill"))
    return json_response({"ok": True, **shapes.conversation_summary(conv)})


@bp.post("/api/agent/conversations/<conversation_id:str>/close")
async def close(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    await hub.finish(await _conversation(hub, conversation_id), agent, ask_csat=True)
    return json_response({"ok": True, "mode": Mode.BOT.value})


@bp.post("/api/agent/conversations/<conversation_id:str>/return_to_bot")
async def return_to_bot(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    await hub.finish(await _conversation(hub, conversation_id), agent, ask_csat=False)
    return json_response({"ok": True, "mode": Mode.BOT.value})


def _canned_fields(data: dict[str, Any]) -> tuple[str, str]:
    title, text = data.get("title"), data.get("text")
    if isinstance(title, str):
        title = clean_text(title).strip()
    if isinstance(text, str):
        text = clean_text(text)
    if not isinstance(title, str) or is_blank(title) or len(title) > 64:
        raise ApiError(400, "invalid_title", "title: 1–64 characters. 标题须为 1–64 字。")
    if not isinstance(text, str) or is_blank(text) or len(text) > 2000:
        raise ApiError(400, "invalid_text", "text: 1–2000 characters. 内容须为 1–2000 字。")
    return title, text


@bp.get("/api/agent/canned")
async def list_canned(request: Request) -> HTTPResponse:
    await current_agent(request)
    rows = await hub_of(request).store.canned.find()
    return json_response({"items": [shapes.canned_out(r) for r in rows]})


@bp.post("/api/agent/canned")
async def add_canned(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    require_supervisor(agent)
    title, text = _canned_fields(body_of(request))
    return json_response(shapes.canned_out(await hub_of(request).store.canned.add(title, text, agent["id"])),
                         status=201)


@bp.put("/api/agent/canned/<canned_id:int>")
async def update_canned(request: Request, canned_id: int) -> HTTPResponse:
    agent = await current_agent(request)
    canned_id = db_int(canned_id, "canned_id")
    require_supervisor(agent)
    title, text = _canned_fields(body_of(request))
    if not await hub_of(request).store.canned.update(canned_id, title, text, agent["id"]):
        raise ApiError(404, "not_found", "No such canned reply. 话术不存在。")
    return json_response(shapes.canned_out({"id": canned_id, "title": title, "text": text}))


@bp.delete("/api/agent/canned/<canned_id:int>")
async def delete_canned(request: Request, canned_id: int) -> HTTPResponse:
    agent = await current_agent(request)
    canned_id = db_int(canned_id, "canned_id")
    require_supervisor(agent)
    if not await hub_of(request).store.canned.delete(canned_id):
        raise ApiError(404, "not_found", "No such canned reply. 话术不存在。")
    return json_response({"ok": True})


@bp.get("/api/supervisor/stats")
async def stats(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    require_supervisor(agent)
    return json_response(await hub_of(request).stats())


async def _send(ws: Any, event: dict[str, Any]) -> None:
    await ws.send(json.dumps(event, ensure_ascii=False))


async def _ws_error(ws: Any, err: ApiError) -> None:
    await _send(ws, shapes.error_event(err.to_dict()))


async def _queue_event(hub: Hub) -> dict[str, Any]:
    snap = await hub.queue_snapshot()
    return shapes.queue_event(snap.ordered, snap.loads, time.time())


@bp.websocket("/ws/agent")
async def ws_agent(request: Request, ws: Any) -> None:
    """The console's event stream. It ends when its session does: at logout or password reset
    (announced on the bus, so on every hub process) or, as a backstop for a missed
    announcement, when a periodic check finds the session gone."""
    hub = hub_of(request)
    try:
        agent = getattr(request.ctx, "ws_agent", None) or await current_agent(
            request, require_csrf=False, allow_query_token=True)
    except ApiError as err:
        await _ws_error(ws, err)
        await ws.close(code=4401 if err.status == 401 else 4403, reason=err.code)
        return
    session_hash: str = request.ctx.session_hash
    sub = hub.bus.subscribe(AGENTS_TOPIC, session_topic(session_hash), agent_sessions_topic(agent["id"]))
    check_every = hub.settings.session_check_seconds

    async def revoke() -> None:
        await _ws_error(ws, ApiError(401, "session_revoked", "Logged out. 登录已失效，请重新登录。"))
        await ws.close(code=4401, reason="session_revoked")

    async def pump() -> None:
        # The check is due by the clock, not by a quiet moment: a busy console (queue, presence
        # and message events every few seconds) must still notice a session ended unannounced.
        check_at = time.monotonic() + check_every
        while True:
            try:
                event = await asyncio.wait_for(sub.get(), max(0.0, check_at - time.monotonic()))
            except asyncio.TimeoutError:
                event = None
            if time.monotonic() >= check_at:
                check_at = time.monotonic() + check_every
                try:
                    alive = await hub.store.sessions.agent(session_hash) is not None
                except SQLAlchemyError:
                    alive = True  # the database is out of reach: check again next time
                if not alive:
                    await revoke()
                    return
            if event is None:
                continue
            if event.get("type") == "session_revoked":
                await revoke()
                return
            if event.get("type") == RESYNC:  # the bus was down: events may be missing, reload
                with contextlib.suppress(SQLAlchemyError):
                    queue = scope.console_event(agent, await _queue_event(hub))
                    if queue is not None:
                        await _send(ws, queue)
                await _send(ws, shapes.resync_event())
                continue
            out = scope.console_event(agent, event)  # the same rule as the REST API
            if out is not None:
                await _send(ws, out)

    task = asyncio.get_running_loop().create_task(pump())
    presence = request.app.ctx.presence
    try:
        await presence.connected(agent)  # after subscribing: a restored presence reaches this console too
        first = scope.console_event(agent, await _queue_event(hub))
        assert first is not None
        await _send(ws, first)
        while True:
            raw = await ws.recv()
            if raw is None:
                break
            try:
                frame = parse_object(raw, "Frame")
                if frame.get("type") == "typing":
                    conv = await _conversation(hub, str(frame.get("conversation_id", "")))
                    await hub.agent_typing(conv, agent)
                else:
                    raise ApiError(400, "invalid_frame", "type must be typing.")
            except ApiError as err:
                await _ws_error(ws, err)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if type(exc).__name__ not in ("ConnectionClosed", "ConnectionClosedOK", "ConnectionClosedError"):
            log.exception("agent websocket error")
    finally:
        task.cancel()
        sub.close()
        presence.disconnected(agent)
