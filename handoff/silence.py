"""Nobody waits on a silent agent.

A customer with an agent waits for a reply from the moment the agent joined (first response) or
from their first message after the agent's last reply. Past ``agent_after`` seconds the assigned
agent is alerted in the console; past ``supervisor_after`` the supervisors are, and one of them
may take the chat back into the queue at its original place (``Cause.TAKE_BACK``: the queue
order is priority then ``queued_at``, which the move keeps). Limits are the hub's settings
(``HUB_SILENCE_*``, default the seeds' 30 s first response and 120 s), overridden per team
(skill group) by supervisors in the console, where a team can also switch alerts off; the
overrides live in the database so every hub process applies the same ones.

Every hub process runs the watcher. An alert is a row unique per (conversation, level, wait
start): whichever process inserts it first announces it, the others find it there, so each
breach is announced once, also after a restart (the wait start is computed from stored messages).
Alerts whose wait ended (the agent answered, the chat left them) are resolved the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pydantic import BaseModel, Extra, StrictBool, StrictFloat, StrictInt
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from sqlalchemy.exc import SQLAlchemyError

from handoff import scope, shapes
from handoff.auth import current_agent, is_conversation_id, require_supervisor
from handoff.channels.web import body_of, hub_of
from handoff.errors import ApiError
from handoff.realtime import cancel_and_wait
from handoff.router import SKILLS
from handoff.service import TEXT_TRANSFERRED, Hub
from handoff.state import Cause, IllegalTransition, Mode, notice
from handoff.validation import parse_model

log = logging.getLogger("handoff.silence")

bp = Blueprint("silence")

MAX_LIMIT = 24 * 3600.0


def waiting_since(row: dict[str, Any]) -> float | None:
    """When the customer began waiting on the current agent, or None when they are not waiting:
    no reply since the agent joined → since joining; else the first customer message after the
    agent's last reply."""
    joined, replied, asked = row.get("joined"), row.get("replied"), row.get("asked")
    if joined is not None and (replied is None or replied < joined):
        return float(joined)
    return float(asked) if asked is not None else None


def limits_for(settings: Any, teams: dict[str, dict[str, Any]], skill: str | None) -> dict[str, Any]:
    """A team's limits: its row in ``hub_team_settings`` over the hub's defaults."""
    skill = skill or "general"
    row = teams.get(skill)
    on = settings.silence_agent_after > 0
    agent_after = settings.silence_agent_after or 30.0
    supervisor_after = settings.silence_supervisor_after
    if row is not None:
        on = bool(row["silence_alerts"])
        agent_after = row["agent_after"] if row["agent_after"] is not None else agent_after
        supervisor_after = row["supervisor_after"] if row["supervisor_after"] is not None else supervisor_after
    return shapes.team_limits(skill, on, float(agent_after), float(max(supervisor_after, agent_after)),
                              row is not None)


class SilenceWatcher:
    """One per hub process; safe with any number of them (see the module's docstring)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.records = hub.store.silence
        self.every = hub.settings.silence_check_every
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except SQLAlchemyError as exc:
                log.warning("silent-agent check failed: %s", type(exc).__name__)
            except Exception:
                log.exception("silent-agent check failed")

    async def waiting(self) -> list[dict[str, Any]]:
        out = []
        for row in await self.records.waiting():
            since = waiting_since(row)
            if since is not None:
                out.append({"conversation_id": row["id"], "agent_id": int(row["assigned_agent_id"]),
                            "skill": row["skill"], "since": since,
                            "customer_name": row["customer_name"] or row["customer_id"]})
        return out

    async def check(self, now: float | None = None) -> None:
        """Raise the alerts now due, resolve those whose wait is over."""
        now = time.time() if now is None else now
        teams = await self.records.teams()
        waiting = await self.waiting()
        current = set()
        for item in waiting:
            limits = limits_for(self.hub.settings, teams, item["skill"])
            if not limits["silence_alerts"]:
                continue
            current.add((item["conversation_id"], item["since"]))
            waited = now - item["since"]
            for level, after in (("agent", limits["agent_after"]), ("supervisor", limits["supervisor_after"])):
                if waited < after:
                    continue
                alert_id = await self.records.raise_alert(item["conversation_id"], level, item["since"],
                                                          item["agent_id"], item["skill"], now)
                if alert_id is not None:
                    log.info("customer of %s waits %.0f s on agent %s: %s alerted", item["conversation_id"],
                             waited, item["agent_id"], level)
                    await self.hub.to_agents(shapes.silence_event(
                        {"id": alert_id, "conversation_id": item["conversation_id"], "level": level,
                         "since": item["since"], "agent_id": item["agent_id"], "skill": item["skill"],
                         "created_at": now}))
        over = [a for a in await self.records.open_alerts() if (a["conversation_id"], a["since"]) not in current]
        await resolve(self.hub, over, "ended", now)


async def resolve(hub: Hub, alerts: list[dict[str, Any]], resolution: str, now: float) -> None:
    closed = set(await hub.store.silence.resolve([a["id"] for a in alerts], resolution, now))
    for alert in alerts:
        if alert["id"] in closed:
            await hub.to_agents(shapes.silence_resolved_event(alert, resolution))


@bp.get("/api/agent/silence")
async def silence_state(request: Request) -> HTTPResponse:
    """Who waits on whom since when (an agent: their own chats), open alerts, each team's limits."""
    agent = await current_agent(request)
    app = request.app
    hub = hub_of(request)
    watcher: SilenceWatcher = app.ctx.silence
    waiting = await watcher.waiting()
    alerts = await hub.store.silence.open_alerts()
    if not scope.is_supervisor(agent):
        waiting = [w for w in waiting if w["agent_id"] == agent["id"]]
        alerts = [a for a in alerts if a["agent_id"] == agent["id"]]
    teams = await hub.store.silence.teams()
    limits = {s: limits_for(hub.settings, teams, s) for s in SKILLS}
    return json_response(shapes.silence_state(waiting, alerts, limits))


class TeamBody(BaseModel):
    class Config:
        extra = Extra.forbid

    silence_alerts: StrictBool
    agent_after: StrictFloat | StrictInt | None = None
    supervisor_after: StrictFloat | StrictInt | None = None


@bp.put("/api/supervisor/teams/<skill:str>")
async def set_team(request: Request, skill: str) -> HTTPResponse:
    """A team's silent-agent limits (seconds; null: the hub's default) or alerts off."""
    agent = await current_agent(request)
    require_supervisor(agent)
    if skill not in SKILLS:
        raise ApiError(404, "not_found", f"No skill group {skill[:32]!r}. 技能组不存在。")
    body = parse_model(body_of(request), TeamBody)
    first = float(body.agent_after) if body.agent_after is not None else None
    second = float(body.supervisor_after) if body.supervisor_after is not None else None
    for name, value in (("agent_after", first), ("supervisor_after", second)):
        if value is not None and not 1.0 <= value <= MAX_LIMIT:
            raise ApiError(400, f"invalid_{name}", f"{name}: 1 to {MAX_LIMIT:.0f} seconds. 时限无效。")
    hub = hub_of(request)
    effective_first = first if first is not None else hub.settings.silence_agent_after or 30.0
    if second is not None and second < effective_first:
        raise ApiError(400, "invalid_supervisor_after", "supervisor_after must not be below agent_after. "
                       "主管提醒时限不能短于客服提醒时限。")
    await hub.store.silence.set_team(skill, body.silence_alerts, first, second, agent["id"], time.time())
    return json_response(limits_for(hub.settings, await hub.store.silence.teams(), skill))


@bp.post("/api/supervisor/conversations/<conversation_id:str>/take_back")
async def take_back(request: Request, conversation_id: str) -> HTTPResponse:
    """A supervisor takes a chat from its agent back into the queue, at its original place."""
    agent = await current_agent(request)
    require_supervisor(agent)
    hub = hub_of(request)
    conv = await hub.store.conversations.get(conversation_id) if is_conversation_id(conversation_id) else None
    if conv is None:
        raise ApiError(404, "not_found", "Conversation not found. 会话不存在。")
    if conv["mode"] != Mode.AGENT.value:
        raise ApiError(409, "not_with_agent", "The chat is not with an agent. 该会话不在人工服务中。")
    # The alerts are closed as taken back before the move: a watcher on any process that saw
    # the chat leave its agent first would close them as merely ended.
    alerts = [a for a in await hub.store.silence.open_alerts() if a["conversation_id"] == conv["id"]]
    closed = set(await hub.store.silence.resolve([a["id"] for a in alerts], "taken_back", time.time()))
    try:
        event = await hub.state.transition(conv, Mode.QUEUED, Cause.TAKE_BACK, by_agent=conv["assigned_agent_id"],
                                           notices=(notice(TEXT_TRANSFERRED),))
    except IllegalTransition:
        event = None
    if event is None:
        await hub.store.silence.reopen(sorted(closed), "taken_back")
        raise ApiError(409, "conflict", "The conversation changed meanwhile; reload. 会话状态已变化。")
    for alert in alerts:
        if alert["id"] in closed:
            await hub.to_agents(shapes.silence_resolved_event(alert, "taken_back"))
    return json_response({"ok": True, **shapes.conversation_summary(event.conversation)})
