"""A ticket's work in the console: assignee, status and due changes, replies and notes (the
thread, ``hub_ticket_events``), and web replies waiting for the customer's next visit.

Every change is one transaction: the ticket row and its thread entry together, and the
conditional ones (taking an unassigned ticket, showing a pending reply) are one conditional
UPDATE, so of two hub processes exactly one wins.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection

from handoff import models as m
from handoff.db import Repository, reads, row_dict, threaded

t = m.tickets
ev = m.ticket_events


def _event(conn: Connection, ticket_id: int, kind: str, agent_id: int | None, now: float,
           **values: Any) -> dict[str, Any]:
    row = {"ticket_id": ticket_id, "kind": kind, "agent_id": agent_id, "created_at": now, **values}
    res = conn.execute(ev.insert().values(**row))
    return {"id": int(res.inserted_primary_key[0]), "text": None, "value": None, "delivery": None,
            "delivery_detail": None, "shown_in": None, **row}


class TicketThreads(Repository):
    """Changes to tickets with their thread entries."""

    @threaded
    def take(self, ticket_id: int, agent_id: int, now: float) -> bool:
        """An unassigned ticket to this agent; False when someone has it already."""
        with self.engine.begin() as conn:
            res = conn.execute(update(t).where(and_(t.c.id == ticket_id, t.c.assignee_id.is_(None)))
                               .values(assignee_id=agent_id, updated_at=now))
            if res.rowcount != 1:
                return False
            _event(conn, ticket_id, "assign", agent_id, now, value=str(agent_id))
            return True

    @threaded
    def assign(self, ticket_id: int, assignee_id: int | None, by: int, now: float) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(update(t).where(t.c.id == ticket_id)
                               .values(assignee_id=assignee_id, updated_at=now))
            if res.rowcount != 1:
                return False
            _event(conn, ticket_id, "assign", by, now, value=None if assignee_id is None else str(assignee_id))
            return True

    @threaded
    def set_status(self, ticket_id: int, status: str, by: int, now: float) -> bool:
        """A status change, written to the thread only when it changes something."""
        with self.engine.begin() as conn:
            res = conn.execute(update(t).where(and_(t.c.id == ticket_id, t.c.status != status))
                               .values(status=status, agent_id=by, updated_at=now))
            if res.rowcount == 1:
                _event(conn, ticket_id, "status", by, now, value=status)
                return True
            return conn.execute(select(t.c.id).where(t.c.id == ticket_id)).first() is not None

    @threaded
    def set_due(self, ticket_id: int, due_at: float, by: int, now: float) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(update(t).where(t.c.id == ticket_id).values(due_at=due_at, updated_at=now))
            if res.rowcount != 1:
                return False
            _event(conn, ticket_id, "due", by, now, value=repr(float(due_at)))
            return True

    @threaded
    def note(self, ticket_id: int, text: str, by: int, now: float) -> dict[str, Any]:
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == ticket_id).values(updated_at=now))
            return _event(conn, ticket_id, "note", by, now, text=text)

    @threaded
    def reply(self, ticket_id: int, text: str, by: int, now: float, delivery: str,
              detail: str | None) -> dict[str, Any]:
        """A reply with how it went out. A reply that reaches (or will reach) the customer is the
        contact's outcome (``answered``, first time kept); one WeChat refused leaves the ticket
        ``undelivered`` unless an earlier reply got through. A waiting ticket is now in hand."""
        reached = delivery in ("pending", "sent", "shown")
        with self.engine.begin() as conn:
            values: dict[str, Any] = {"updated_at": now, "agent_id": by}
            if reached:
                values.update(outcome="answered", answered_at=func.coalesce(t.c.answered_at, now))
            else:
                values["outcome"] = func.coalesce(t.c.outcome, "undelivered")
            conn.execute(update(t).where(t.c.id == ticket_id).values(**values))
            row = _event(conn, ticket_id, "reply", by, now, text=text, delivery=delivery, delivery_detail=detail)
            if reached and conn.execute(update(t).where(and_(t.c.id == ticket_id, t.c.status == "open"))
                                        .values(status="pending")).rowcount == 1:
                _event(conn, ticket_id, "status", by, now, value="pending")
            return row

    @reads
    def thread(self, ticket_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(ev).where(ev.c.ticket_id == ticket_id).order_by(ev.c.id))]

    @reads
    def conversation(self, conversation_id: str | None) -> dict[str, Any] | None:
        if not conversation_id:
            return None
        with self.engine.connect() as conn:
            return row_dict(conn.execute(select(m.conversations).where(m.conversations.c.id == conversation_id))
                            .first())

    @reads
    def last_customer_message_at(self, channel: str, external_id: str) -> float | None:
        """The customer's latest message on a channel (any of their conversations there)."""
        c, msg = m.conversations, m.messages
        q = (select(func.max(msg.c.created_at)).select_from(msg.join(c, c.c.id == msg.c.conversation_id))
             .where(and_(c.c.channel == channel, c.c.external_id == external_id, msg.c.author == "customer")))
        with self.engine.connect() as conn:
            value = conn.execute(q).scalar()
        return float(value) if value is not None else None

    @reads
    def pending_for(self, customer_id: str | None, visitor: str | None) -> list[dict[str, Any]]:
        """Web replies not yet shown whose ticket came from this signed customer or this browser."""
        who = []
        c = m.conversations
        if customer_id:
            who.append(t.c.customer_id == customer_id)
        if visitor:
            who.append(and_(c.c.channel == "web", c.c.external_id == visitor))
        if not who:
            return []
        q = (select(ev, t.c.id.label("tid"))
             .select_from(ev.join(t, t.c.id == ev.c.ticket_id).outerjoin(c, c.c.id == t.c.conversation_id))
             .where(and_(ev.c.kind == "reply", ev.c.delivery == "pending", or_(*who))).order_by(ev.c.id))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    @threaded
    def mark_shown(self, event_id: int, conversation_id: str) -> bool:
        """Exactly one conversation shows a pending reply (two tabs, two hub processes)."""
        with self.engine.begin() as conn:
            res = conn.execute(update(ev).where(and_(ev.c.id == event_id, ev.c.delivery == "pending"))
                               .values(delivery="shown", shown_in=conversation_id))
            return res.rowcount == 1
