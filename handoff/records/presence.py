"""Console liveness records (``hub_agent_liveness``): heartbeat stamps, automatic away and its undo.

The rules are in ``handoff.presence``; every write here is one conditional transaction, so
of two hub processes sweeping at once exactly one sets an agent away (and announces it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from handoff import models as m
from handoff.db import Repository, reads, threaded
from handoff.models import agent_liveness as liveness
from handoff.state import Mode


class _Undo(Exception):
    """Roll back a transaction whose second step lost a race."""


class Liveness(Repository):
    """Stamps of live consoles, and the presence the hub set away automatically."""

    @threaded
    def touch(self, aid: int, now: float) -> str | None:
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
            self.stamp.sync(self, [aid], now)
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

    @reads
    def stranded(self, cutoff: float) -> list[tuple[str, int]]:
        """Open chats of agents the hub set away who have shown no console since ``cutoff``."""
        c = m.conversations
        q = (select(c.c.id, c.c.assigned_agent_id)
             .select_from(c.join(liveness, liveness.c.agent_id == c.c.assigned_agent_id)
                          .join(m.agents, m.agents.c.id == c.c.assigned_agent_id))
             .where(and_(c.c.mode == Mode.AGENT.value, liveness.c.auto_away_from.isnot(None),
                         liveness.c.seen_at < cutoff, m.agents.c.presence == "away")))
        with self.engine.connect() as conn:
            return [(cid, int(aid)) for cid, aid in conn.execute(q)]

    @threaded
    def stamp(self, ids: list[int], now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(liveness).where(liveness.c.agent_id.in_(ids)).values(seen_at=now))

    @threaded
    def manual(self, aid: int, status: str, now: float) -> None:
        values: dict[str, Any] = {"auto_away_from": None}
        if status == "online":
            values["seen_at"] = now
        with self.engine.begin() as conn:
            conn.execute(update(liveness).where(liveness.c.agent_id == aid).values(**values))

    @threaded
    def sweep(self, cutoff: float) -> list[int]:
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
