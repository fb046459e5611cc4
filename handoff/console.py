"""The agent console API and websocket: login, queue, claims, replies, canned replies, tickets."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlparse

from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from handoff.auth import (
    SESSION_COOKIE,
    agent_public,
    bearer,
    current_agent,
    new_token,
    require_supervisor,
    token_hash,
    verify_password,
)
from handoff.channels.web import body_of, hub_of
from handoff.errors import ApiError
from handoff.service import AGENTS_TOPIC, Hub
from handoff.store import message_out
from handoff.tickets import ticket_out, validate_status

log = logging.getLogger("handoff.console")

bp = Blueprint("console")


async def _conversation(hub: Hub, conversation_id: str) -> dict[str, Any]:
    conv = await hub.store.get_conversation(conversation_id)
    if conv is None:
        raise ApiError(404, "not_found", "Conversation not found. 会话不存在。")
    return conv


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
    }


@bp.post("/api/agent/login")
async def login(request: Request) -> HTTPResponse:
    hub = hub_of(request)
    data = body_of(request)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise ApiError(400, "invalid_credentials", "username and password are required. 请输入用户名和密码。")
    limiter, key = request.app.ctx.login_limiter, f"login-fail:{username[:64]}"
    if await limiter.full(key):  # only failures count, so a guessing spree locks the name for a minute
        raise ApiError(429, "rate_limited", "Too many failed logins; wait a minute. 登录失败次数过多，请稍后再试。")
    agent = await hub.store.get_agent_by_username(username[:64])
    ok = agent is not None and await asyncio.to_thread(verify_password, password, agent["password_hash"])
    if not ok or agent is None:
        await limiter.hit(key)
        raise ApiError(401, "invalid_credentials", "Wrong username or password. 用户名或密码错误。")
    token, csrf = new_token(), new_token()
    await hub.store.create_session(token_hash(token), agent["id"], csrf, hub.settings.session_ttl_seconds)
    resp = json_response({"agent": agent_public(agent), "csrf_token": csrf, "token": token})
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
    token = bearer(request) or request.cookies.get(SESSION_COOKIE)
    if token:
        await hub_of(request).store.delete_session(token_hash(token))
    resp = json_response({"ok": True, "agent_id": agent["id"]})
    resp.cookies[SESSION_COOKIE] = ""
    resp.cookies[SESSION_COOKIE]["max-age"] = 0
    resp.cookies[SESSION_COOKIE]["path"] = "/"
    return resp


@bp.get("/api/agent/me")
async def me(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    loads = await hub_of(request).store.agent_loads()
    load = next((int(a["load"]) for a in loads if a["id"] == agent["id"]), 0)
    # The CSRF token of this session: a console reloaded with only its cookie needs it to post.
    # Same-origin only (no CORS on /api/agent, SameSite=Strict cookie), so other sites cannot read it.
    return json_response({"agent": {**agent_public(agent), "load": load},
                          "csrf_token": request.ctx.csrf_token})


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
    loads = await hub_of(request).store.agent_loads()
    return json_response(
        {"agents": [{**agent_public(a), "load": int(a["load"])} for a in loads]}
    )


@bp.get("/api/agent/queue")
async def get_queue(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    snap = await hub.queue_snapshot()
    import time

    now = time.time()
    skills = set((agent.get("skills") or "").split(","))
    items = []
    for item in snap["ordered"]:
        out = hub.queue_item(item, now)
        out["in_my_groups"] = agent["role"] == "supervisor" or (item["skill"] or "general") in skills
        out.update(snap["positions"][item["id"]])
        items.append(out)
    agents = hub.agents_view(snap["loads"])
    return json_response({"items": items, "agents": agents,
                          "online": sum(1 for a in agents if a["presence"] == "online")})


@bp.get("/api/agent/conversations")
async def list_conversations(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    scope = request.args.get("scope", "mine")
    if scope not in ("mine", "all"):
        raise ApiError(400, "invalid_scope", "scope must be mine or all.")
    store = hub_of(request).store
    if scope == "mine":
        rows = await store.list_conversations(agent_id=agent["id"], modes=["agent"])
    else:
        rows = await store.list_conversations(modes=["queued", "agent"])
    return json_response({"conversations": [conversation_summary(c) for c in rows]})


@bp.get("/api/agent/conversations/<conversation_id:str>")
async def get_conversation(request: Request, conversation_id: str) -> HTTPResponse:
    await current_agent(request)
    hub = hub_of(request)
    conv = await _conversation(hub, conversation_id)
    rows = await hub.store.list_messages(conv["id"], include_internal=True, limit=2000)
    messages = [message_out(r) for r in rows]
    profile, orders = await asyncio.gather(
        hub.directory.profile(conv["customer_id"]),
        hub.directory.recent_orders(conv["customer_id"]),
    )
    if profile is None and conv["customer_id"]:
        profile = {"id": conv["customer_id"], "name": conv["customer_name"], "phone_masked": None,
                   "vip_level": conv["vip_level"]}
    assigned = None
    if conv["assigned_agent_id"] is not None:
        row = await hub.store.get_agent(conv["assigned_agent_id"])
        assigned = {"id": row["id"], "display_name": row["display_name"]} if row else None
    return json_response({
        **conversation_summary(conv),
        "handoff": {k: conv[k] for k in ("reason", "priority", "skill", "summary", "emotion")}
        if conv["reason"] else None,
        "agent": assigned,
        "messages": [m for m in messages if not m["internal"]],
        "notes": [m for m in messages if m["internal"]],
        "customer": profile,
        "orders": orders,
    })


@bp.get("/api/agent/conversations/<conversation_id:str>/messages")
async def agent_messages(request: Request, conversation_id: str) -> HTTPResponse:
    await current_agent(request)
    hub = hub_of(request)
    conv = await _conversation(hub, conversation_id)
    try:
        after = max(0, int(request.args.get("after", "0")))
    except ValueError:
        raise ApiError(400, "invalid_after", "after must be an integer seq.") from None
    rows = await hub.store.list_messages(conv["id"], after=after, include_internal=True)
    return json_response({"messages": [message_out(r) for r in rows]})


@bp.post("/api/agent/conversations/<conversation_id:str>/claim")
async def claim(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    await _conversation(hub, conversation_id)
    loads = await hub.store.agent_loads()
    load = next((int(a["load"]) for a in loads if a["id"] == agent["id"]), 0)
    if agent["role"] != "supervisor" and load >= agent["max_chats"]:
        raise ApiError(409, "at_capacity",
                       f"You already have {load} open chats (max {agent['max_chats']}). 已达最大接待量。")
    if not await hub.claim(conversation_id, agent):
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
    return json_response({"ok": True, **conversation_summary(conv)})


@bp.post("/api/agent/conversations/<conversation_id:str>/close")
async def close(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    await hub.finish(await _conversation(hub, conversation_id), agent, ask_csat=True)
    return json_response({"ok": True, "mode": "bot"})


@bp.post("/api/agent/conversations/<conversation_id:str>/return_to_bot")
async def return_to_bot(request: Request, conversation_id: str) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    await hub.finish(await _conversation(hub, conversation_id), agent, ask_csat=False)
    return json_response({"ok": True, "mode": "bot"})


def _canned_fields(data: dict[str, Any]) -> tuple[str, str]:
    title, text = data.get("title"), data.get("text")
    if not isinstance(title, str) or not title.strip() or len(title) > 64:
        raise ApiError(400, "invalid_title", "title: 1–64 characters. 标题须为 1–64 字。")
    if not isinstance(text, str) or not text.strip() or len(text) > 2000:
        raise ApiError(400, "invalid_text", "text: 1–2000 characters. 内容须为 1–2000 字。")
    return title.strip(), text


@bp.get("/api/agent/canned")
async def list_canned(request: Request) -> HTTPResponse:
    await current_agent(request)
    rows = await hub_of(request).store.list_canned()
    return json_response({"items": [{"id": r["id"], "title": r["title"], "text": r["text"]} for r in rows]})


@bp.post("/api/agent/canned")
async def add_canned(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    require_supervisor(agent)
    title, text = _canned_fields(body_of(request))
    return json_response(await hub_of(request).store.add_canned(title, text, agent["id"]), status=201)


@bp.put("/api/agent/canned/<canned_id:int>")
async def update_canned(request: Request, canned_id: int) -> HTTPResponse:
    agent = await current_agent(request)
    require_supervisor(agent)
    title, text = _canned_fields(body_of(request))
    if not await hub_of(request).store.update_canned(canned_id, title, text, agent["id"]):
        raise ApiError(404, "not_found", "No such canned reply. 话术不存在。")
    return json_response({"id": canned_id, "title": title, "text": text})


@bp.delete("/api/agent/canned/<canned_id:int>")
async def delete_canned(request: Request, canned_id: int) -> HTTPResponse:
    agent = await current_agent(request)
    require_supervisor(agent)
    if not await hub_of(request).store.delete_canned(canned_id):
        raise ApiError(404, "not_found", "No such canned reply. 话术不存在。")
    return json_response({"ok": True})


@bp.get("/api/agent/tickets")
async def list_tickets(request: Request) -> HTTPResponse:
    await current_agent(request)
    status = request.args.get("status")
    if status is not None:
        validate_status(status)
    rows = await hub_of(request).store.list_tickets(status)
    return json_response({"items": [ticket_out(r) for r in rows]})


@bp.patch("/api/agent/tickets/<ticket_id:int>")
async def update_ticket(request: Request, ticket_id: int) -> HTTPResponse:
    agent = await current_agent(request)
    hub = hub_of(request)
    status = validate_status(body_of(request).get("status"))
    if not await hub.store.update_ticket(ticket_id, status, agent["id"]):
        raise ApiError(404, "not_found", "No such ticket. 工单不存在。")
    row = await hub.store.get_ticket(ticket_id)
    assert row is not None
    await hub.to_agents({"type": "ticket", "ticket_id": ticket_id, "status": status})
    return json_response({"ticket": ticket_out(row)})


@bp.get("/api/supervisor/stats")
async def stats(request: Request) -> HTTPResponse:
    agent = await current_agent(request)
    require_supervisor(agent)
    return json_response(await hub_of(request).stats())


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin:
        return True
    return urlparse(origin).netloc == request.headers.get("host", "")


def visible_to(agent: dict[str, Any], event: dict[str, Any]) -> bool:
    """Supervisors see everything; agents see queue-wide events and their own chats."""
    if agent["role"] == "supervisor" or "assigned_agent_id" not in event:
        return True
    return event["assigned_agent_id"] in (None, agent["id"])


@bp.websocket("/ws/agent")
async def ws_agent(request: Request, ws: Any) -> None:
    hub = hub_of(request)
    try:
        if request.cookies.get(SESSION_COOKIE) and not request.args.get("token") and not _same_origin(request):
            raise ApiError(403, "bad_origin", "Cross-site websocket refused.")
        agent = await current_agent(request, require_csrf=False, allow_query_token=True)
    except ApiError as err:
        await ws.send(json.dumps({"type": "error", **err.to_dict()}))
        await ws.close(code=4401, reason=err.code)
        return
    sub = hub.bus.subscribe(AGENTS_TOPIC)

    async def pump() -> None:
        while True:
            event = await sub.get()
            if visible_to(agent, event):
                await ws.send(json.dumps(event, ensure_ascii=False))

    task = asyncio.get_running_loop().create_task(pump())
    presence = request.app.ctx.presence
    try:
        await presence.connected(agent)  # after subscribing: a restored presence reaches this console too
        import time

        snap = await hub.queue_snapshot()
        now = time.time()
        await ws.send(json.dumps(hub.queue_event(snap, now), ensure_ascii=False))
        while True:
            raw = await ws.recv()
            if raw is None:
                break
            try:
                frame = json.loads(raw)
            except ValueError:
                continue
            if isinstance(frame, dict) and frame.get("type") == "typing":
                conv = await hub.store.get_conversation(str(frame.get("conversation_id", "")))
                if conv is not None:
                    await hub.agent_typing(conv, agent)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if type(exc).__name__ not in ("ConnectionClosed", "ConnectionClosedOK", "ConnectionClosedError"):
            log.exception("agent websocket error")
    finally:
        task.cancel()
        sub.close()
        presence.disconnected(agent)
