"""CSAT ratings: one per request, only while the conversation awaits one."""

from __future__ import annotations

from sqlalchemy import and_, select, update

from handoff import models as m
from handoff.db import Repository, reads, row_dict, threaded
from handoff.db import now as _now


class Ratings(Repository):
    """Ratings and the pending request they answer."""

    @threaded
    def add(self, conversation_id: str, score: int, comment: str | None, nps: int | None = None) -> bool:
        """One rating per request: only while the conversation awaits one. ``nps``: the optional
        0–10 answer to "would you recommend us" given with the stars."""
        with self.engine.begin() as conn:
            conv = row_dict(
                (
                    conn.execute(
                        select(m.conversations).where(m.conversations.c.id == conversation_id)
                    )
                ).first()
            )
            res = conn.execute(
                update(m.conversations)
                .where(
                    and_(
                        m.conversations.c.id == conversation_id,
                        m.conversations.c.csat_pending == True,  # noqa: E712
                    )
                )
                .values(csat_pending=False)
            )
            if res.rowcount != 1 or conv is None:
                return False
            agent_id = None
            if conv.get("handoff_id") is not None:
                agent_id = (
                    conn.execute(
                        select(m.handoffs.c.agent_id).where(m.handoffs.c.id == conv["handoff_id"])
                    )
                ).scalar_one_or_none()
            conn.execute(
                m.csat.insert().values(
                    conversation_id=conversation_id,
                    handoff_id=conv.get("handoff_id"),
                    agent_id=agent_id,
                    score=score,
                    nps=nps,
                    comment=comment,
                    created_at=_now(),
                )
            )
            return True

    @reads
    def since(self, since: float) -> list[int]:
        with self.engine.connect() as conn:
            res = conn.execute(select(m.csat.c.score).where(m.csat.c.created_at >= since))
            return [int(s) for (s,) in res]

    @threaded
    def drop_request(self, conversation_id: str) -> None:
        """The customer answered something else: a later digit must not count as a rating."""
        with self.engine.begin() as conn:
            conn.execute(update(m.conversations).where(and_(
                m.conversations.c.id == conversation_id,
                m.conversations.c.csat_pending == True,  # noqa: E712
            )).values(csat_pending=False))
