"""Quality inspection (质检) scores: a supervisor's rubric scores of a closed conversation, and
per-agent averages over a date range."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, desc, func, select

from handoff import models as m
from handoff.db import Repository, reads, row_dict, threaded
from handoff.db import now as _now

RUBRIC = ("greeting", "correct", "resolved", "attitude")  # 问候与规范用语 · 回答正确 · 问题解决 · 服务态度


class NotScorable(Exception):
    """The conversation has no closed human part with an agent to score."""


class QaScores(Repository):
    """One score per conversation and supervisor; scoring again edits it."""

    @staticmethod
    def _target(conn: Any, conversation_id: str) -> tuple[int, int | None, float]:
        """(agent scored, handoff, when it closed): the last closed human part, and the agent who
        last answered the customer in the conversation (after a transfer: the one who finished),
        else the agent assigned to that handoff."""
        h, msg = m.handoffs.c, m.messages.c
        last = conn.execute(select(h.id, h.agent_id, h.closed_at).where(and_(
            h.conversation_id == conversation_id, h.closed_at.isnot(None))).order_by(desc(h.id)).limit(1)).first()
        if last is None:
            raise NotScorable
        wrote = conn.execute(select(msg.agent_id).where(and_(
            msg.conversation_id == conversation_id, msg.author == "agent", msg.internal == False,  # noqa: E712
            msg.agent_id.isnot(None), msg.created_at <= last.closed_at)).order_by(desc(msg.seq)).limit(1)).scalar()
        agent_id = wrote if wrote is not None else last.agent_id
        if agent_id is None:
            raise NotScorable
        return int(agent_id), int(last.id), float(last.closed_at)

    @threaded
    def put(self, conversation_id: str, supervisor_id: int, scores: dict[str, int], comment: str | None) -> dict[str, Any]:
        """Create or replace this supervisor's score of the conversation; the stored row."""
        q = m.qa_scores.c
        now = _now()
        with self.engine.begin() as conn:
            agent_id, handoff_id, served_at = self._target(conn, conversation_id)
            values = {**{k: int(scores[k]) for k in RUBRIC}, "comment": comment, "updated_at": now,
                      "agent_id": agent_id, "handoff_id": handoff_id, "served_at": served_at}
            insert = self.upsert(m.qa_scores, {"conversation_id": conversation_id, "supervisor_id": supervisor_id,
                                               "created_at": now, **values},
                                 ["conversation_id", "supervisor_id"], values)
            conn.execute(insert)
            row = row_dict(conn.execute(select(m.qa_scores).where(and_(
                q.conversation_id == conversation_id, q.supervisor_id == supervisor_id))).first())
        assert row is not None
        return row

    @reads
    def averages(self, since: float, until: float) -> list[dict[str, Any]]:
        """Per scored agent: how many scores and the average of each rubric item, for the human
        parts that closed in [since, until)."""
        q, a = m.qa_scores.c, m.agents.c
        cols = [func.avg(getattr(q, k)).label(k) for k in RUBRIC]
        stmt = (select(q.agent_id, a.display_name, func.count().label("count"), *cols)
                .select_from(m.qa_scores.join(m.agents, a.id == q.agent_id))
                .where(and_(q.served_at >= since, q.served_at < until))
                .group_by(q.agent_id, a.display_name).order_by(q.agent_id))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]
