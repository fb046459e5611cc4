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
import logging
import time
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from handoff.realtime import cancel_and_wait
from handoff.service import Hub
from handoff.state import PresenceChanged

log = logging.getLogger("handoff.presence")


def heartbeat_interval(away_after: float) -> float:
    """Several beats per grace period, so a live console is never mistaken for a gone one."""
    return max(0.2, min(away_after / 3, 15.0))


class PresenceTracker:
    """Console liveness for one hub process; ``away_after`` 0 turns it off."""

    def __init__(self, hub: Hub, away_after: float, requeue_after: float = 0.0) -> None:
        self.hub = hub
        self.records = hub.store.liveness
        self.away_after = away_after
        self.requeue_after = requeue_after  # an auto-away agent's open chats go back to the queue after this; 0: never
        self._recovering = False  # the last beat failed (database out of reach)
        self.local: dict[int, int] = {}  # agent id -> live console websockets on this process
        self._task: asyncio.Task[None] | None = None
        self._stamps: set[asyncio.Task[Any]] = set()

    @property
    def enabled(self) -> bool:
        return self.away_after > 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self.enabled:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
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
        restored = await self.records.touch(aid, time.time())
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
        task = asyncio.get_running_loop().create_task(self.records.stamp([aid], time.time()))
        self._stamps.add(task)
        task.add_done_callback(self._stamps.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def manual(self, agent: dict[str, Any], status: str) -> None:
        """A deliberate presence change: forget any automatic away; choosing online counts as
        a sign of life, so the grace period starts afresh."""
        if self.enabled:
            await self.records.manual(int(agent["id"]), status, time.time())

    # -- heartbeat and sweep --------------------------------------------------------------------

    async def beat(self) -> None:
        """Stamp this process's consoles (an agent set away meanwhile, e.g. by another process
        during this one's database outage, is back), then set stale online agents away (any
        process may) and requeue the chats of agents away too long."""
        now = time.time()
        if self.local:
            for aid in list(self.local):
                restored = await self.records.touch(aid, now)
                if restored:
                    log.info("agent %s has a live console again: presence %s", aid, restored)
                    await self.hub.events.emit(PresenceChanged(aid, restored, auto=True))
        if self._recovering:  # after an outage no process could stamp: give them a beat to do so
            self._recovering = False
            return
        if self.requeue_after > 0:
            for conversation_id, aid in await self.records.stranded(now - self.away_after - self.requeue_after):
                log.info("agent %s is away for long: conversation %s goes back to the queue", aid, conversation_id)
                await self.hub.requeue_from_absent(conversation_id, aid)
        gone = await self.records.sweep(now - self.away_after)
        async with self.hub.events.batch():  # one queue broadcast for all of them
            for aid in gone:
                log.info("agent %s has no live console for %.0f s: presence away", aid, self.away_after)
                await self.hub.events.emit(PresenceChanged(aid, "away", auto=True))
