"""Agent presence that follows the consoles: an online agent without a live console goes away.

A presence switch set to 在线 says nothing about whether anyone is still at the console: a
closed laptop or a lost network would keep receiving auto-assigned chats. So every hub
process counts its own console websockets per agent and, on each heartbeat, stamps
``seen_at`` for those agents in ``hub_agent_liveness``. The stamp lives in the database, so
a console on any process keeps its agent alive and a crashed process simply stops stamping.
Every process also sweeps: an ``online`` agent whose stamp is older than
``HUB_AGENT_AWAY_AFTER`` becomes ``away``, remembered as set automatically, and is set back
to what they were when a console connects again. A manual presence change forgets that
memory, so a reconnect never overrides a deliberate 离开. Agents who never opened a console
websocket (API integrations) have no row and are left alone.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from handoff import models as m
from handoff.models import agent_liveness as liveness
from handoff.service import Hub
from handoff.state import Mode, PresenceChanged

log = logging.getLogger("handoff.presence")


def heartbeat_interval(away_after: float) -> float:
    """Several beats per grace period, so a live console is never mistaken for a gone one."""
    return max(0.2, min(away_after / 3, 15.0))


class _Undo(Exception):
    """Roll back a transaction whose second step lost a race."""


class PresenceTracker:
    """Console liveness for one hub process; ``away_after`` 0 turns it off."""

    def __init__(self, hub: Hub, away_after: float, requeue_after: float = 0.0) -> None:
        self.hub = hub
        self.engine = hub.store.engine
        self.away_after = away_after
        self.requeue_after = requeue_after  # an auto-away agent's open chats go back to the queue after this; 0: never
        self._recovering = False  # the last beat failed (database out of reach)
        self.local: dict[int, int] = {}  # agent id -> live console websockets on this process
        self._task: asyncio.Task[None] | None = None
        self._stamps: set[asyncio.Task[Any]] = set()

    @property
    def enabled(self) -> bool:
        return self.away_after > 0

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.hub.store.executor, functools.partial(fn, *args))

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self.enabled:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self._stamps:
            await asyncio.wait(set(self._stamps), timeout=5)

    async def _loop(self) -> None:
        interval = heartbeat_interval(self.away_after)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except SQLAlchemyError as exc:  # the next beat retries; consoles stay as they were
                log.warning("presence heartbeat failed: %s", type(exc).__name__)
                self._recovering = True
            except Exception:
                log.exception("presence heartbeat failed")
                self._recovering = True

    # -- consoles ----------------------------------------------------------------------------

    async def connected(self, agent: dict[str, Any]) -> None:
        """A console websocket opened: stamp it, and undo an automatic away."""
        if not self.enabled:
            return
        aid = int(agent["id"])
        self.local[aid] = self.local.get(aid, 0) + 1
        restored = await self._run(self._touch, aid, time.time())
        if restored:
            log.info("agent %s is back: presence %s again", agent.get("username", aid), restored)
            await self.hub.events.emit(PresenceChanged(aid, restored, auto=True))

    def disconnected(self, agent: dict[str, Any]) -> None:
        """A console websocket closed; with the agent's last one here, note when (the grace
        period counts from now). Synchronous: it runs in the socket handler's ``finally``."""
        if not self.enabled:
            return
        aid = int(agent["id"])
        left = self.local.get(aid, 0) - 1
        if left > 0:
            self.local[aid] = left
            return
        self.local.pop(aid, None)
        task = asyncio.get_running_loop().create_task(self._run(self._stamp, [aid], time.time()))
        self._stamps.add(task)
        task.add_done_callback(self._stamps.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def manual(self, agent: dict[str, Any], status: str) -> None:
        """A deliberate presence change: forget any automatic away; choosing online counts as
        a sign of life, so the grace period starts afresh."""
        if self.enabled:
            await self._run(self._manual, int(agent["id"]), status, time.time())

    # -- heartbeat and sweep --------------------------------------------------------------------

    async def beat(self) -> None:
        """Stamp this process's consoles (an agent set away meanwhile, e.g. by another process
        during this one's database outage, is back), then set stale online agents away (any
        process may) and requeue the chats of agents away too long."""
        now = time.time()
        if self.local:
            for aid in list(self.local):
                restored = await self._run(self._touch, aid, now)
                if restored:
                    log.info("agent %s has a live console again: presence %s", aid, restored)
                    await self.hub.events.emit(PresenceChanged(aid, restored, auto=True))
        if self._recovering:  # after an outage no process could stamp: give them a beat to do so
            self._recovering = False
            return
        if self.requeue_after > 0:
            for conversation_id, aid in await self._run(self._stranded, now - self.away_after - self.requeue_after):
                log.info("agent %s is away for long: conversation %s goes back to the queue", aid, conversation_id)
                await self.hub.requeue_from_absent(conversation_id, aid)
        gone = await self._run(self._sweep, now - self.away_after)
        async with self.hub.events.batch():  # one queue broadcast for all of them
            for aid in gone:
                log.info("agent %s has no live console for %.0f s: presence away", aid, self.away_after)
                await self.hub.events.emit(PresenceChanged(aid, "away", auto=True))

    # -- database (worker threads) --------------------------------------------------------------

    def _touch(self, aid: int, now: float) -> str | None:
        """Stamp a connecting console; the presence restored, if the agent was away automatically.
        The stamp is written first, so a concurrent sweep on another process either sees it
        (and leaves the agent) or has committed its away before this reads the memory."""
        with self.engine.begin() as conn:
            res = conn.execute(update(liveness).where(liveness.c.agent_id == aid).values(seen_at=now))
            if res.rowcount == 1:
                return self._restore(conn, aid)
        try:  # the agent's first console: nothing to restore
            with self.engine.begin() as conn:
                conn.execute(liveness.insert().values(agent_id=aid, seen_at=now))
        except IntegrityError:  # another process inserted it meanwhile
            self._stamp([aid], now)
        return None

    @staticmethod
    def _restore(conn: Connection, aid: int) -> str | None:
        previous = conn.execute(select(liveness.c.auto_away_from)
                                .where(liveness.c.agent_id == aid)).scalar_one_or_none()
        if not previous:
            return None
        conn.execute(update(liveness).where(liveness.c.agent_id == aid).values(auto_away_from=None))
        res = conn.execute(update(m.agents).where(and_(m.agents.c.id == aid, m.agents.c.presence == "away"))
                           .values(presence=previous))
        return str(previous) if res.rowcount == 1 else None

    def _stranded(self, cutoff: float) -> list[tuple[str, int]]:
        """Open chats of agents the hub set away who have shown no console since ``cutoff``."""
        c = m.conversations
        q = (select(c.c.id, c.c.assigned_agent_id)
             .select_from(c.join(liveness, liveness.c.agent_id == c.c.assigned_agent_id)
                          .join(m.agents, m.agents.c.id == c.c.assigned_agent_id))
             .where(and_(c.c.mode == Mode.AGENT.value, liveness.c.auto_away_from.isnot(None),
                         liveness.c.seen_at < cutoff, m.agents.c.presence == "away")))
        with self.engine.connect() as conn:
            return [(cid, int(aid)) for cid, aid in conn.execute(q)]

    def _stamp(self, ids: list[int], now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(liveness).where(liveness.c.agent_id.in_(ids)).values(seen_at=now))

    def _manual(self, aid: int, status: str, now: float) -> None:
        values: dict[str, Any] = {"auto_away_from": None}
        if status == "online":
            values["seen_at"] = now
        with self.engine.begin() as conn:
            conn.execute(update(liveness).where(liveness.c.agent_id == aid).values(**values))

    def _sweep(self, cutoff: float) -> list[int]:
        """Online agents without a stamp since ``cutoff``, each set away in its own conditional
        transaction: of two processes sweeping at once exactly one wins (and announces it)."""
        with self.engine.connect() as conn:
            stale = [aid for (aid,) in conn.execute(
                select(liveness.c.agent_id)
                .select_from(liveness.join(m.agents, m.agents.c.id == liveness.c.agent_id))
                .where(and_(m.agents.c.presence == "online", liveness.c.seen_at < cutoff)))]
        gone: list[int] = []
        for aid in stale:
            try:
                with self.engine.begin() as conn:
                    self._set_away(conn, aid, cutoff)
                gone.append(aid)
            except _Undo:
                continue
        return gone

    @staticmethod
    def _set_away(conn: Connection, aid: int, cutoff: float) -> None:
        res = conn.execute(update(liveness).where(and_(liveness.c.agent_id == aid, liveness.c.seen_at < cutoff))
                           .values(auto_away_from="online"))
        if res.rowcount != 1:  # a console connected meanwhile
            raise _Undo
        res = conn.execute(update(m.agents).where(and_(m.agents.c.id == aid, m.agents.c.presence == "online"))
                           .values(presence="away"))
        if res.rowcount != 1:  # changed meanwhile (by hand, or by another process's sweep)
            raise _Undo
