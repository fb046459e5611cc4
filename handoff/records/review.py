"""Review records: customer messages the bot did not understand, and a supervisor's labels."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError

from handoff import models as m
from handoff.db import Repository, reads, threaded
from handoff.db import now as _now

IGNORE = "ignore"  # a label that writes nothing: the group was looked at and is not training data


class ReviewRecords(Repository):
    """Open items (``label`` NULL) are what the review page groups; labelled ones are what
    ``data/nlu/reviewed.yml`` is built from, so every hub process writes the same file."""

    @threaded
    def add(self, message_id: str, conversation_id: str, text: str, kind: str,
            intent: str | None = None, confidence: float | None = None) -> bool:
        """One record per message: a retried turn or a second signal for it adds nothing."""
        try:
            with self.engine.begin() as conn:
                conn.execute(m.review_items.insert().values(
                    message_id=message_id, conversation_id=conversation_id, text=text, kind=kind,
                    intent=intent, confidence=confidence, created_at=_now()))
            return True
        except IntegrityError:
            return False

    @reads
    def open_items(self, limit: int) -> list[dict[str, Any]]:
        """The newest unlabelled items (the page groups at most ``limit`` of them)."""
        t = m.review_items
        with self.engine.connect() as conn:
            res = conn.execute(select(t.c.id, t.c.text, t.c.kind, t.c.intent, t.c.confidence, t.c.created_at)
                               .where(t.c.label.is_(None)).order_by(t.c.created_at.desc(), t.c.id.desc())
                               .limit(limit))
            return [dict(r._mapping) for r in res]

    @threaded
    def label(self, ids: list[int], label: str, agent_id: int, answer: str | None = None) -> int:
        """Label the still-open items among ``ids``; with ``answer``, the FAQ key's answer is
        recorded too (a key proposed once keeps its first answer). Returns how many were labelled."""
        t = m.review_items
        with self.engine.begin() as conn:
            if answer is not None:
                key = label.split("/", 1)[1]
                exists = conn.execute(select(m.review_answers.c.faq_key)
                                      .where(m.review_answers.c.faq_key == key)).first()
                if exists is None:
                    conn.execute(m.review_answers.insert().values(
                        faq_key=key, answer=answer, created_by=agent_id, created_at=_now()))
            res = conn.execute(update(t).where(and_(t.c.id.in_(ids), t.c.label.is_(None)))
                               .values(label=label, labelled_by=agent_id, labelled_at=_now()))
            return int(res.rowcount or 0)

    @reads
    def labelled(self) -> list[dict[str, Any]]:
        """Every label that becomes training data, oldest first (so the file is stable)."""
        t = m.review_items
        with self.engine.connect() as conn:
            res = conn.execute(select(t.c.id, t.c.text, t.c.label).where(
                and_(t.c.label.is_not(None), t.c.label != IGNORE)).order_by(t.c.id))
            return [dict(r._mapping) for r in res]

    @reads
    def answers(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            res = conn.execute(select(m.review_answers.c.faq_key, m.review_answers.c.answer))
            return {str(k): str(a) for k, a in res}
