"""Leave-a-message tickets (工单) and canned replies (标准话术)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select, update

from handoff import models as m
from handoff.db import Repository, reads, row_dict, threaded
from handoff.db import now as _now


class Tickets(Repository):
    """Tickets, due first."""

    @threaded
    def create(self, row: dict[str, Any]) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(m.tickets.insert().values(**row))
            return int(res.inserted_primary_key[0])

    @threaded
    def file(self, row: dict[str, Any]) -> int:
        """A new ticket, or the conversation's open one not yet due, brought up to date (its
        text gains the new request, the transcript is replaced, the due time stays)."""
        t = m.tickets
        with self.engine.begin() as conn:
            current = row_dict(conn.execute(
                select(t).where(and_(t.c.conversation_id == row["conversation_id"], t.c.status == "open",
                                     t.c.due_at > row["created_at"]))
                .order_by(t.c.id.desc()).limit(1)).first())
            if current is None:
                return int(conn.execute(t.insert().values(**row)).inserted_primary_key[0])
            text = current["text"] if row["text"] in current["text"] else f"{current['text']}\n{row['text']}"
            conn.execute(update(t).where(t.c.id == current["id"]).values(
                text=text, transcript=row["transcript"], updated_at=row["created_at"]))
            return int(current["id"])

    @staticmethod
    def _with_channel() -> Any:
        """Tickets with the channel of their conversation (where a reply goes)."""
        c = m.conversations
        return select(m.tickets, c.c.channel).select_from(
            m.tickets.outerjoin(c, c.c.id == m.tickets.c.conversation_id))

    @reads
    def find(self, status: str | None = None, assignee: int | None = None,
             unassigned: bool = False) -> list[dict[str, Any]]:
        q = self._with_channel()
        if status:
            q = q.where(m.tickets.c.status == status)
        if assignee is not None:
            q = q.where(m.tickets.c.assignee_id == assignee)
        if unassigned:
            q = q.where(m.tickets.c.assignee_id.is_(None))
        with self.engine.connect() as conn:
            res = conn.execute(q.order_by(m.tickets.c.due_at, m.tickets.c.id))
            return [dict(r._mapping) for r in res]

    @reads
    def get(self, ticket_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            res = conn.execute(self._with_channel().where(m.tickets.c.id == ticket_id))
            return row_dict(res.first())


class Canned(Repository):
    """Canned replies supervisors edit."""

    @reads
    def find(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            res = conn.execute(select(m.canned).order_by(m.canned.c.id))
            return [dict(r._mapping) for r in res]

    @reads
    def count(self) -> int:
        with self.engine.connect() as conn:
            return int((conn.execute(select(func.count()).select_from(m.canned))).scalar_one())

    @threaded
    def add(self, title: str, text: str, agent_id: int | None) -> dict[str, Any]:
        row = {"title": title, "text": text, "updated_by": agent_id, "updated_at": _now()}
        with self.engine.begin() as conn:
            res = conn.execute(m.canned.insert().values(**row))
        return {"id": int(res.inserted_primary_key[0]), **row}

    @threaded
    def update(self, canned_id: int, title: str, text: str, agent_id: int) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(
                update(m.canned)
                .where(m.canned.c.id == canned_id)
                .values(title=title, text=text, updated_by=agent_id, updated_at=_now())
            )
            return res.rowcount == 1

    @threaded
    def delete(self, canned_id: int) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(m.canned.delete().where(m.canned.c.id == canned_id))
            return res.rowcount == 1
