"""The queue's records: who waits, the place last announced to them, and the handoff records
(queue entry, assignment, first response, close) the wait estimate and the figures come from.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, select, update

from handoff import models as m
from handoff.db import Repository, reads, threaded
from handoff.db import now as _now
from handoff.state import Mode

_c = m.conversations.c
ANNOUNCE = (update(m.conversations)  # built once: compiled once, then cached
            .where(and_(_c.id == bindparam("b_id"), _c.mode == Mode.QUEUED.value))
            .values(queue_position=bindparam("b_pos"), queue_eta=bindparam("b_eta")))


class QueueRecords(Repository):
    """Waiting conversations and handoff records."""

    @reads
    def queued(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            res = conn.execute(
                select(m.conversations).where(m.conversations.c.mode == Mode.QUEUED.value)
            )
            return [dict(r._mapping) for r in res]

    @threaded
    def announce_places(self, places: list[tuple[str, int, int]]) -> None:
        """Remember the (position, ETA) just sent to each of these waiting customers, so the next
        broadcast skips those whose place did not change (on every hub process). One statement
        run for many rows (on PostgreSQL batched into few round trips, ``db.make_engine``): a
        move at the head of a long queue changes every place."""
        if not places:
            return
        with self.engine.begin() as conn:
            conn.execute(ANNOUNCE, [{"b_id": cid, "b_pos": pos, "b_eta": eta} for cid, pos, eta in places])

    @threaded
    def mark_first_response(self, handoff_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(m.handoffs)
                .where(and_(m.handoffs.c.id == handoff_id, m.handoffs.c.first_response_at.is_(None)))
                .values(first_response_at=_now())
            )

    @reads
    def recent_handle_seconds(self, limit: int = 50) -> list[float]:
        q = (
            select(m.handoffs.c.closed_at - m.handoffs.c.assigned_at)
            .where(and_(m.handoffs.c.closed_at.isnot(None), m.handoffs.c.assigned_at.isnot(None)))
            .order_by(m.handoffs.c.closed_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [float(v) for (v,) in conn.execute(q) if v is not None]

    @reads
    def handoffs_since(self, since: float) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            res = conn.execute(select(m.handoffs).where(m.handoffs.c.queued_at >= since))
            return [dict(r._mapping) for r in res]
