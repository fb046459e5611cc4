"""The stored events the quality figures are counted from (``handoff.quality`` counts), the
targets supervisors set, and the recent-complaint check made when a chat joins the queue."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from handoff import models as m
from handoff.db import Repository, reads, threaded
from handoff.db import now as _now
from handoff.quality import COMPLAINT_REASON, COMPLAINT_WINDOW, customer_key


def last_complaint(conn: Connection, conversation_id: str,
                   customer: tuple[str | None, str, str | None] | None, now: float) -> float | None:
    """When this customer last complained (an angry handoff, in any conversation but this one's
    new entry) in the 7 days before ``now``; None when they did not or cannot be told apart.
    Read in the transaction that queues the chat, so the flag is stored with it."""
    if customer is None:
        return None
    customer_id, channel, external_id = customer
    c, h = m.conversations.c, m.handoffs.c
    if customer_id:
        who = c.customer_id == customer_id
    elif external_id:
        who = and_(func.coalesce(c.customer_id, "") == "", c.channel == channel, c.external_id == external_id)
    else:
        return None
    q = (select(func.max(h.queued_at)).select_from(m.handoffs.join(m.conversations, c.id == h.conversation_id))
         .where(and_(who, h.reason == COMPLAINT_REASON, h.queued_at >= now - COMPLAINT_WINDOW, h.queued_at <= now)))
    found = conn.execute(q).scalar()
    return float(found) if found is not None else None


class QualityRecords(Repository):
    """Reads for the figures; the targets table."""

    @reads
    def facts(self, start: float, end: float, follow: float) -> dict[str, Any]:
        """Handoffs queued in [start, end + follow) with their customer, ratings given and
        conversations started (in which the customer wrote, with their handoff reasons) in [start, end)."""
        h, c, r, msg = m.handoffs.c, m.conversations.c, m.csat.c, m.messages.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(h.id, h.conversation_id, h.reason, h.skill, h.queued_at, h.assigned_at, h.agent_id,
                       h.first_response_at, h.closed_at, h.end_cause, c.customer_id, c.channel, c.external_id)
                .select_from(m.handoffs.join(m.conversations, c.id == h.conversation_id))
                .where(and_(h.queued_at >= start, h.queued_at < end + follow)))
            handoffs = []
            for row in rows:
                item = dict(row._mapping)
                item["customer"] = customer_key(item.pop("customer_id"), item.pop("channel"), item.pop("external_id"),
                                                item["conversation_id"])
                handoffs.append(item)
            ratings = [dict(x._mapping) for x in conn.execute(
                select(r.score, r.nps, r.agent_id, r.created_at).where(and_(r.created_at >= start, r.created_at < end)))]
            wrote = select(msg.id).where(and_(msg.conversation_id == c.id, msg.author == "customer")).exists()
            convs: dict[str, dict[str, Any]] = {}
            reasons: dict[str, list[str]] = defaultdict(list)
            for cid, created, reason in conn.execute(
                    select(c.id, c.created_at, h.reason)
                    .select_from(m.conversations.outerjoin(m.handoffs, h.conversation_id == c.id))
                    .where(and_(c.created_at >= start, c.created_at < end, wrote))):
                convs.setdefault(cid, {"id": cid, "created_at": created})
                if reason is not None:
                    reasons[cid].append(reason)
        conversations = [{**v, "reasons": reasons.get(k, [])} for k, v in convs.items()]
        return {"handoffs": handoffs, "ratings": ratings, "conversations": conversations}

    @reads
    def targets(self) -> dict[str, float | None]:
        """The targets supervisors set (keys absent: the defaults apply)."""
        t = m.quality_targets.c
        with self.engine.connect() as conn:
            return {k: (float(v) if v is not None else None) for k, v in conn.execute(select(t.key, t.value))}

    @threaded
    def set_targets(self, values: dict[str, float | None], agent_id: int) -> None:
        now = _now()
        with self.engine.begin() as conn:
            for key, value in values.items():
                conn.execute(self.upsert(m.quality_targets, {"key": key, "value": value, "updated_by": agent_id,
                                                              "updated_at": now}, ["key"],
                                         {"value": value, "updated_by": agent_id, "updated_at": now}))
