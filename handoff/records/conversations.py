"""Conversations and their messages: the transcript, the bot turns owed, and the persisted moves of
the state machine (``handoff.state``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from handoff import models as m
from handoff.db import Repository, reads, row_dict, threaded
from handoff.db import now as _now
from handoff.records.history import index_messages
from handoff.records.quality import last_complaint
from handoff.state import Mode, Move


class AlreadyWaiting(Exception):
    """Another conversation of the same customer waits in the queue."""


class Duplicate(Exception):
    """A customer message with an already stored ``client_msg_id``."""

    def __init__(self, existing: dict[str, Any]) -> None:
        super().__init__("duplicate client_msg_id")
        self.existing = existing


def insert_messages(conn: Connection, conversation_id: str, channel: str, items: list[dict[str, Any]],
                     now: float) -> list[dict[str, Any]]:
    """Messages at the conversation's next seqs (its ``last_seq`` bumped first, which also
    serialises concurrent writers of one conversation)."""
    c = m.conversations.c
    res = conn.execute(update(m.conversations).where(c.id == conversation_id)
                       .values(last_seq=c.last_seq + len(items), updated_at=now))
    if res.rowcount != 1:
        raise KeyError(conversation_id)
    last = conn.execute(select(c.last_seq).where(c.id == conversation_id)).scalar_one()
    first_seq = last - len(items) + 1
    rows = [
        {
            "id": uuid.uuid4().hex,
            "conversation_id": conversation_id,
            "seq": first_seq + offset,
            "author": item["author"],
            "agent_id": item.get("agent_id"),
            "channel": channel,
            "text": item.get("text") or "",
            "title": item.get("title"),
            "buttons": json.dumps(item["buttons"], ensure_ascii=False) if item.get("buttons") else None,
            "internal": bool(item.get("internal")),
            "client_msg_id": item.get("client_msg_id"),
            "reply_to": item.get("reply_to"),
            "created_at": now,
        }
        for offset, item in enumerate(items)
    ]
    conn.execute(m.messages.insert(), rows)
    index_messages(conn, rows)  # order numbers, phone tails, agents: what history search finds it by
    return rows


class Conversations(Repository):
    """Conversation rows; their mode changes only through ``apply_move``."""

    @threaded
    def create(
        self,
        channel: str,
        token_hash: str,
        customer_id: str | None = None,
        customer_name: str | None = None,
        external_id: str | None = None,
    ) -> dict[str, Any]:
        now = _now()
        row = {
            "id": uuid.uuid4().hex,
            "token_hash": token_hash,
            "channel": channel,
            "external_id": external_id,
            "customer_id": customer_id,
            "customer_name": customer_name,
            "mode": Mode.BOT.value,
            "csat_pending": False,
            "last_seq": 0,
            "created_at": now,
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            conn.execute(m.conversations.insert().values(**row))
        return row

    @reads
    def get(self, conversation_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            res = conn.execute(
                select(m.conversations).where(m.conversations.c.id == conversation_id)
            )
            return row_dict(res.first())

    @threaded
    def discard(self, conversation_id: str) -> None:
        """Delete a conversation just created that lost a race to another one (it has no messages)."""
        with self.engine.begin() as conn:
            conn.execute(m.conversations.delete().where(m.conversations.c.id == conversation_id))

    @reads
    def find_by_external(self, channel: str, external_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            res = conn.execute(
                select(m.conversations)
                .where(
                    and_(
                        m.conversations.c.channel == channel,
                        m.conversations.c.external_id == external_id,
                    )
                )
                .order_by(m.conversations.c.created_at.desc())
                .limit(1)
            )
            return row_dict(res.first())

    @reads
    def find(
        self, agent_id: int | None = None, modes: Iterable[str] | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        q = select(m.conversations)
        if agent_id is not None:
            q = q.where(m.conversations.c.assigned_agent_id == agent_id)
        if modes is not None:
            q = q.where(m.conversations.c.mode.in_(list(modes)))
        q = q.order_by(m.conversations.c.updated_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    @threaded
    def apply_move(self, move: Move) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """Persist one move of ``handoff.state`` in one transaction: a conditional UPDATE (the
        conversation still in ``move.before`` with the agent the caller saw), then its records
        (queue entry, assignment, close) and its notices. None when the conversation changed
        meanwhile; ``AlreadyWaiting`` when a handoff finds the customer waiting elsewhere. The
        customer check and the move are one statement (PostgreSQL: under a lock per customer),
        so concurrent requests on any hub process cannot both take a place."""
        now = float(move.values["updated_at"])
        c = m.conversations.c
        cond = [c.id == move.conversation_id, c.mode == move.before.value]
        if move.check_owner:
            cond.append(c.assigned_agent_id.is_(None) if move.owner is None else c.assigned_agent_id == move.owner)
        others = self._same_customer(move.conversation_id, move.customer)
        with self.engine.begin() as conn:
            if others is not None:
                if self.engine.dialect.name == "postgresql":
                    conn.execute(select(func.pg_advisory_xact_lock(func.hashtext("queue:" + repr(move.customer)))))
                cond.append(~select(m.conversations.c.id).where(others).exists())
            res = conn.execute(update(m.conversations).where(and_(*cond)).values(**move.values))
            if res.rowcount != 1:
                if others is not None and conn.execute(
                        select(c.mode).where(c.id == move.conversation_id)).scalar() == move.before.value:
                    raise AlreadyWaiting
                return None
            if move.open_handoff is not None:
                complained = last_complaint(conn, move.conversation_id, move.customer, now)
                ins = conn.execute(m.handoffs.insert().values(conversation_id=move.conversation_id,
                                                              **move.open_handoff))
                conn.execute(update(m.conversations).where(c.id == move.conversation_id)
                             .values(handoff_id=int(ins.inserted_primary_key[0]), recent_complaint_at=complained))
            hid = conn.execute(select(c.handoff_id).where(c.id == move.conversation_id)).scalar_one()
            if move.agent_id is not None:
                if hid is not None:
                    conn.execute(update(m.handoffs)
                                 .where(and_(m.handoffs.c.id == hid, m.handoffs.c.assigned_at.is_(None)))
                                 .values(assigned_at=now, agent_id=move.agent_id))
                conn.execute(update(m.agents).where(m.agents.c.id == move.agent_id).values(last_assigned_at=now))
            if move.close_handoff and hid is not None:
                conn.execute(update(m.handoffs).where(m.handoffs.c.id == hid)
                             .values(closed_at=now, end_cause=move.cause.value))
            notices = (insert_messages(conn, move.conversation_id, move.channel, list(move.notices), now)
                       if move.notices else [])
            after = row_dict(conn.execute(select(m.conversations).where(c.id == move.conversation_id)).first())
        assert after is not None
        return after, notices

    @staticmethod
    def _same_customer(conversation_id: str, customer: tuple[str | None, str, str | None] | None) -> Any:
        """Queued conversations of the same customer as ``limits.customer_key`` tells them apart:
        the signed customer id, else the channel's id of the person; None when there is neither."""
        if customer is None:
            return None
        customer_id, channel, external_id = customer
        o = m.conversations.alias("other").c
        if customer_id:
            who = o.customer_id == customer_id
        elif external_id:
            who = and_(func.coalesce(o.customer_id, "") == "", o.channel == channel, o.external_id == external_id)
        else:
            return None
        return and_(o.mode == Mode.QUEUED.value, o.id != conversation_id, who)


class Messages(Repository):
    """The transcript (numbered per conversation) and the bot turns still owed."""

    @reads
    def find_client_message(
        self, conversation_id: str, client_msg_id: str
    ) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            res = conn.execute(
                select(m.messages).where(
                    and_(
                        m.messages.c.conversation_id == conversation_id,
                        m.messages.c.client_msg_id == client_msg_id,
                    )
                )
            )
            return row_dict(res.first())

    @threaded
    def add(
        self, conversation_id: str, channel: str, items: list[dict[str, Any]],
        turn_lease: float | None = None, finish_turn: str | None = None,
    ) -> list[dict[str, Any]]:
        """Store messages in order in one transaction; raises ``Duplicate`` for a repeated
        customer ``client_msg_id`` (then nothing of the batch is stored). ``turn_lease``: the
        (single) message is owed a bot turn, this process holding it for that many seconds;
        ``finish_turn``: these messages answer that message's bot turn."""
        if not items:
            return []
        now = _now()
        try:
            with self.engine.begin() as conn:
                rows = insert_messages(conn, conversation_id, channel, items, now)
                if turn_lease is not None:
                    conn.execute(m.bot_turns.insert().values(
                        message_id=rows[0]["id"], conversation_id=conversation_id, attempts=1,
                        lease_until=now + turn_lease, created_at=now))
                if finish_turn is not None:
                    conn.execute(m.bot_turns.delete().where(m.bot_turns.c.message_id == finish_turn))
        except IntegrityError:
            for item in items:
                if item.get("client_msg_id"):
                    existing = self.find_client_message.sync(self, conversation_id, item["client_msg_id"])
                    if existing:
                        raise Duplicate(existing) from None
            raise
        return rows

    async def add_one(self, conversation_id: str, channel: str, turn_lease: float | None = None,
                          **item: Any) -> dict[str, Any]:
        return (await self.add(conversation_id, channel, [item], turn_lease=turn_lease))[0]

    @reads
    def get(self, message_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return row_dict(conn.execute(select(m.messages).where(m.messages.c.id == message_id)).first())

    @reads
    def read(
        self, conversation_id: str, after: int = 0, include_internal: bool = False,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        q = select(m.messages).where(
            and_(m.messages.c.conversation_id == conversation_id, m.messages.c.seq > after)
        )
        if not include_internal:
            q = q.where(m.messages.c.internal == False)  # noqa: E712
        q = q.order_by(m.messages.c.seq).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    @reads
    def replies_to(self, message_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            res = conn.execute(
                select(m.messages)
                .where(m.messages.c.reply_to == message_id)
                .order_by(m.messages.c.seq)
            )
            return [dict(r._mapping) for r in res]

    @reads
    def agent_served(self, conversation_id: str, agent_id: int) -> bool:
        """Whether the agent handled this conversation: joined it (the join notice names them),
        wrote in it, or was assigned its handoff."""
        with self.engine.connect() as conn:
            wrote = conn.execute(select(m.messages.c.id).where(and_(
                m.messages.c.conversation_id == conversation_id, m.messages.c.agent_id == agent_id)).limit(1)).first()
            if wrote is not None:
                return True
            return conn.execute(select(m.handoffs.c.id).where(and_(
                m.handoffs.c.conversation_id == conversation_id, m.handoffs.c.agent_id == agent_id)).limit(1)).first() is not None

    @reads
    def bot_turn(self, message_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return row_dict(conn.execute(select(m.bot_turns).where(m.bot_turns.c.message_id == message_id)).first())

    @threaded
    def claim_bot_turn(self, message_id: str, lease: float) -> int | None:
        """Take over an unfinished turn whose lease ran out (its hub died or lost the database);
        the attempt number, or None when it is done or another process holds it."""
        now, t = _now(), m.bot_turns
        with self.engine.begin() as conn:
            res = conn.execute(update(t).where(and_(t.c.message_id == message_id, t.c.lease_until < now))
                               .values(lease_until=now + lease, attempts=t.c.attempts + 1))
            if res.rowcount != 1:
                return None
            return int(conn.execute(select(t.c.attempts).where(t.c.message_id == message_id)).scalar_one())

    @threaded
    def finish_bot_turn(self, message_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(m.bot_turns.delete().where(m.bot_turns.c.message_id == message_id))

    @threaded
    def stale_bot_turns(self, max_age: float, limit: int = 20) -> list[str]:
        """Ids of messages whose bot turn is owed and unleased, newest first; turns older than
        ``max_age`` are given up (an answer that late would only confuse)."""
        now, t = _now(), m.bot_turns
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(and_(t.c.lease_until < now, t.c.created_at <= now - max_age)))
            return [r for (r,) in conn.execute(
                select(t.c.message_id).where(t.c.lease_until < now)
                .order_by(t.c.created_at.desc()).limit(limit))]
