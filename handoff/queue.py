"""Pure queue logic: order, place, estimated wait and which agent gets a chat.

No I/O here so the rules can be tested directly and reused by every hub process.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

PRIORITY_RANK: dict[str, int] = {"urgent": 0, "high": 1, "normal": 2}


def queue_key(item: dict[str, Any]) -> tuple[int, float, str]:
    """Sort key: priority first (urgent > high > normal), then who waited longest."""
    rank = PRIORITY_RANK.get(item.get("priority") or "normal", len(PRIORITY_RANK))
    return rank, float(item.get("queued_at") or 0.0), str(item.get("id") or "")


def order_queue(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The queue in serving order."""
    return sorted(items, key=queue_key)


def positions(ordered: Sequence[dict[str, Any]]) -> dict[str, int]:
    """1-based place in the queue of each conversation id."""
    return {str(item["id"]): index + 1 for index, item in enumerate(ordered)}


def estimate_wait(
    position: int,
    recent_handle_seconds: Sequence[float],
    agents_available: int,
    default_seconds: int = 180,
) -> int:
    """Seconds until an agent is likely free for the chat at ``position``.

    One chat takes the median of recent handling times (or ``default_seconds`` when there
    is no history yet); ``agents_available`` agents work the queue in parallel.
    """
    if position <= 0:
        return 0
    samples = [s for s in recent_handle_seconds if s is not None and s > 0]
    per_chat = statistics.median(samples) if samples else float(default_seconds)
    per_chat = min(max(per_chat, 30.0), 3600.0)
    return int(math.ceil(position * per_chat / max(1, agents_available)))


@dataclass(frozen=True)
class AgentLoad:
    """What assignment needs to know about one agent."""

    id: int
    skills: frozenset[str]
    presence: str
    load: int
    max_chats: int
    last_assigned_at: float = 0.0

    @property
    def has_room(self) -> bool:
        return self.presence == "online" and self.load < self.max_chats


def parse_skills(raw: str | Iterable[str] | None) -> frozenset[str]:
    if raw is None:
        return frozenset()
    parts = raw.split(",") if isinstance(raw, str) else raw
    return frozenset(p.strip() for p in parts if p and p.strip())


def group_online(agents: Iterable[AgentLoad], skill: str) -> bool:
    return any(a.presence == "online" and skill in a.skills for a in agents)


def choose_agent(agents: Sequence[AgentLoad], skill: str) -> int | None:
    """The least busy online agent of the skill group with room (ties: longest since last chat).

    When nobody of the group is online at all, any online agent with room may take it,
    so a chat never waits for a group that is absent.
    """
    if group_online(agents, skill):
        pool = [a for a in agents if skill in a.skills and a.has_room]
    else:
        pool = [a for a in agents if a.has_room]
    if not pool:
        return None
    best = min(pool, key=lambda a: (a.load, a.last_assigned_at, a.id))
    return best.id


def next_for_agent(
    ordered_queue: Sequence[dict[str, Any]], agent: AgentLoad, agents: Sequence[AgentLoad]
) -> str | None:
    """The first queued chat this agent should take: its groups, or groups nobody online serves."""
    if not agent.has_room:
        return None
    for item in ordered_queue:
        skill = item.get("skill") or "general"
        if skill in agent.skills or not group_online(agents, skill):
            return str(item["id"])
    return None
