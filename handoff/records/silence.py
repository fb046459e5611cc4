"""Silent-agent records: who is waiting on an agent's reply, the alerts raised (one row per breach
and level, whichever hub process sees it first) and the per-team limits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError

from handoff import models as m
from handoff.db import Repository, reads, threaded
from handoff.state import Mode

a = m.silence_alerts


class SilenceRecords(Repository):
    @reads
    def waiting(self) -> list[dict[str, Any]]:
        """Chats with an agent, with the times their wait is judged by: the agent's last reply,
        when the current agent joined (the notice of the claim or transfer names them) and the
        first customer message after that reply. ``handoff.silence.waiting_since`` decides."""
        c = m.conversations

        def latest(*cond: Any) -> Any:
            msg = m.messages.alias()
            return (select(func.max(msg.c.created_at))
                    .where(and_(msg.c.conversation_id == c.c.id, *(f(msg) for f in cond)))
                    .correlate(c).scalar_subquery())

        replied = latest(lambda x: x.c.author == "agent", lambda x: x.c.internal.is_(False))
        joined = latest(lambda x: x.c.author == "system", lambda x: x.c.agent_id == c.c.assigned_agent_id)
        later = m.messages.alias()
        asked = (select(func.min(later.c.created_at))
                 .where(and_(later.c.conversation_id == c.c.id, later.c.author == "customer",
                             later.c.created_at > func.coalesce(
                                 latest(lambda x: x.c.author == "agent", lambda x: x.c.internal.is_(False)), 0.0)))
                 .correlate(c).scalar_subquery())
        q = (select(c.c.id, c.c.assigned_agent_id, c.c.skill, c.c.customer_name, c.c.customer_id, replied.label("replied"), joined.label("joined"),
                    asked.label("asked"))
             .where(and_(c.c.mode == Mode.AGENT.value, c.c.assigned_agent_id.isnot(None))))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    @threaded
    def raise_alert(self, conversation_id: str, level: str, since: float, agent_id: int | None,
                    skill: str | None, now: float) -> int | None:
        """The new alert's id, or None when this breach was already alerted (by any process)."""
        try:
            with self.engine.begin() as conn:
                res = conn.execute(a.insert().values(conversation_id=conversation_id, level=level, since=since,
                                                     agent_id=agent_id, skill=skill, created_at=now))
                return int(res.inserted_primary_key[0])
        except IntegrityError:
            return None

    @reads
    def open_alerts(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(a).where(a.c.resolved_at.is_(None)).order_by(a.c.id))]

    @threaded
    def resolve(self, alert_ids: list[int], resolution: str, now: float) -> list[int]:
        """Close these alerts; the ids this call closed (another process may have closed some)."""
        closed = []
        with self.engine.begin() as conn:
            for aid in alert_ids:
                res = conn.execute(update(a).where(and_(a.c.id == aid, a.c.resolved_at.is_(None)))
                                   .values(resolved_at=now, resolution=resolution))
                if res.rowcount == 1:
                    closed.append(aid)
        return closed

    @threaded
    def reopen(self, alert_ids: list[int], resolution: str) -> None:
        """Undo `resolve` for these alerts when the move they were closed for did not happen."""
        if not alert_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(update(a).where(and_(a.c.id.in_(alert_ids), a.c.resolution == resolution))
                         .values(resolved_at=None, resolution=None))

    @reads
    def teams(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            return {r.skill: dict(r._mapping) for r in conn.execute(select(m.team_settings))}

    @threaded
    def set_team(self, skill: str, enabled: bool, agent_after: float | None, supervisor_after: float | None,
                 by: int, now: float) -> None:
        values = {"skill": skill, "silence_alerts": enabled, "agent_after": agent_after,
                  "supervisor_after": supervisor_after, "updated_by": by, "updated_at": now}
        with self.engine.begin() as conn:
            conn.execute(self.upsert(m.team_settings, values, ["skill"],
                                     {k: v for k, v in values.items() if k != "skill"}))
