"""The live queue: snapshots, broadcasts to waiting customers, and auto-assignment.

Both reactions subscribe to the domain events as batch handlers, so one unit of work (a
handoff, a close, an auto-assignment round of several claims) costs one broadcast:
- the consoles get the queue as it is now; a waiting customer gets their place only when its
  position or estimated wait differs from the one last announced to them (kept in the
  database, so every hub process compares with what any of them sent);
- auto-assignment (``HUB_ASSIGN=auto``) decides a whole round on one snapshot of the queue and
  the agents' loads, counting each claim it makes into that snapshot.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from handoff import queue as q
from handoff import shapes
from handoff.delivery import Delivery
from handoff.events import Events
from handoff.settings import Settings
from handoff.state import ModeChanged, PresenceChanged
from handoff.store import Store

log = logging.getLogger("handoff.queueing")

Claim = Callable[[dict[str, Any], dict[str, Any]], Awaitable[bool]]


@dataclass
class Snapshot:
    """The queue in serving order, each waiting conversation's place, and the agents' loads."""

    ordered: list[dict[str, Any]]
    places: dict[str, dict[str, int]]
    loads: list[dict[str, Any]]
    handle: list[float]  # recent handling times (seconds), the basis of the wait estimate

    @property
    def online(self) -> int:
        return shapes.online_count(self.loads)


def agent_load(row: dict[str, Any]) -> q.AgentLoad:
    return q.AgentLoad(
        id=row["id"], skills=q.parse_skills(row["skills"]), presence=row["presence"],
        load=int(row["load"]), max_chats=row["max_chats"], last_assigned_at=row["last_assigned_at"] or 0.0,
    )


def place_after(ordered: list[dict[str, Any]], candidate: dict[str, Any]) -> int:
    """The position ``candidate`` takes when it joins ``ordered`` now."""
    return 1 + sum(1 for item in ordered if q.queue_key(item) < q.queue_key(candidate))


class Queue:
    """Subscribes to the domain events: broadcasts the queue and runs auto-assignment."""

    def __init__(self, settings: Settings, store: Store, delivery: Delivery) -> None:
        self.settings = settings
        self.store = store
        self.delivery = delivery
        self.claim: Claim | None = None  # set by the hub: auto-assignment claims through the state machine
        self.events: Events | None = None

    def subscribe(self, events: Events) -> None:
        self.events = events
        events.on_batch(self.on_events)

    def eta(self, position: int, handle: list[float], online: int) -> int:
        return q.estimate_wait(position, handle, online, self.settings.default_eta_seconds)

    async def snapshot(self) -> Snapshot:
        """Ordered queue, each conversation's place and estimated wait, agents with their load."""
        ordered = q.order_queue(await self.store.queue.queued())
        loads = await self.store.agents.loads()
        handle = await self.store.queue.recent_handle_seconds()
        online = shapes.online_count(loads)
        places = {item["id"]: shapes.queue_place(idx + 1, self.eta(idx + 1, handle, online))
                  for idx, item in enumerate(ordered)}
        return Snapshot(ordered, places, loads, handle)

    # -- reactions -------------------------------------------------------------------------------

    async def on_events(self, events: list[Any]) -> None:
        changes = [e for e in events if isinstance(e, ModeChanged)]
        presence = [e for e in events if isinstance(e, PresenceChanged)]
        if presence or any(e.touches_queue or e.frees_agent for e in changes):
            await self.broadcast()  # places, or waits (agents online, handling times), moved
        if presence or any(e.frees_agent for e in changes):
            await self.auto_assign()

    async def broadcast(self) -> None:
        """Consoles get the queue; waiting customers whose place changed get their new place."""
        snap = await self.snapshot()
        await self.delivery.to_agents(shapes.queue_event(snap.ordered, snap.loads, time.time()))
        changed = [(item, snap.places[item["id"]]) for item in snap.ordered
                   if (item.get("queue_position"), item.get("queue_eta"))
                   != (snap.places[item["id"]]["position"], snap.places[item["id"]]["eta_seconds"])]
        if not changed:
            return
        await self.store.queue.announce_places(
            [(item["id"], place["position"], place["eta_seconds"]) for item, place in changed])
        for item, place in changed:
            await self.delivery.to_customer(item, shapes.queue_place_event(place))

    async def auto_assign(self) -> None:
        """With ``HUB_ASSIGN=auto``: give queued chats to the least busy online agent of their
        group. One snapshot decides the round; each claim made counts into it, and a claim lost
        to a concurrent one (another agent, another process) just moves on to the next chat."""
        if self.settings.assign_mode != "auto" or self.claim is None or self.events is None:
            return
        ordered = q.order_queue(await self.store.queue.queued())
        if not ordered:
            return
        loads = await self.store.agents.loads()
        agents = [agent_load(a) for a in loads]
        rows = {a["id"]: a for a in loads}
        async with self.events.batch():  # the round's claims: one queue broadcast at its end
            for item in ordered:
                agent_id = q.choose_agent(agents, item["skill"] or "general")
                if agent_id is None:
                    continue
                if await self.claim(item, rows[agent_id]):
                    now = time.time()
                    agents = [dataclasses.replace(a, load=a.load + 1, last_assigned_at=now)
                              if a.id == agent_id else a for a in agents]
