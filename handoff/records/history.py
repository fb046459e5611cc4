"""Past conversations: what they are found by (``hub_conversation_refs``), the search over them,
full transcripts, a customer's earlier conversations and tickets.

Order numbers and phone tails are not columns of a conversation: customers type them, the bot
shows them. They are picked out of each message as it is stored (``index_messages``, in the
same transaction), so a search by them is an index lookup. Only the last 4 digits of a phone
number are ever kept here.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from handoff import models as m
from handoff.db import Repository, reads
from handoff.state import HUMAN

ORDER_RE = re.compile(r"(?<!\d)(\d{13})(?!\d)")
MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
MASKED_MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d\*{4}(\d{4})(?!\d)")
# A customer's answer to "the last 4 digits of the order's phone": "1234", "尾号是1234"
TAIL_ANSWER_RE = re.compile(r"^(?:[^\d]{0,10}?(?:尾号|后四位|后4位|末四位|后几位)[^\d]{0,4})?(\d{4})[。.!！]?$")

REF_ORDER, REF_PHONE_TAIL, REF_AGENT = "order", "phone_tail", "agent"


def mask_phones(text: str) -> str:
    """Mainland mobile numbers as ``138****1234``: transcripts and snippets never show one whole."""
    return MOBILE_RE.sub(lambda mt: mt.group(0)[:3] + "****" + mt.group(0)[-4:], text)


def message_refs(author: str, text: str | None, title: str | None, agent_id: int | None) -> set[tuple[str, str]]:
    """What one message makes its conversation findable by: order numbers and phone tails in its
    text or button title, and the agent who wrote it (or whom a notice names)."""
    refs: set[tuple[str, str]] = set()
    for raw in (text, title):
        if not raw:
            continue
        norm = unicodedata.normalize("NFKC", raw[:4000])
        refs.update((REF_ORDER, n) for n in ORDER_RE.findall(norm))
        refs.update((REF_PHONE_TAIL, p[-4:]) for p in MOBILE_RE.findall(norm))
        refs.update((REF_PHONE_TAIL, t) for t in MASKED_MOBILE_RE.findall(norm))
        if author == "customer":
            answer = TAIL_ANSWER_RE.match(re.sub(r"\s+", "", norm))
            if answer:
                refs.add((REF_PHONE_TAIL, answer.group(1)))
    if agent_id is not None:
        refs.add((REF_AGENT, str(agent_id)))
    return refs


def ref_rows(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``hub_conversation_refs`` rows for stored messages (each pair once)."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for msg in messages:
        for kind, value in message_refs(msg["author"], msg.get("text"), msg.get("title"), msg.get("agent_id")):
            key = (kind, value, msg["conversation_id"])
            seen.setdefault(key, {"kind": kind, "value": value, "conversation_id": msg["conversation_id"],
                                  "created_at": msg["created_at"]})
    return list(seen.values())


def insert_refs(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert refs, keeping the ones already there (SQLite and PostgreSQL: ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(m.conversation_refs).values(rows).on_conflict_do_nothing())


def index_messages(conn: Connection, messages: list[dict[str, Any]]) -> None:
    """Called with every batch of messages stored, in its transaction."""
    insert_refs(conn, ref_rows(messages))


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's own wildcards taken literally (escape character ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SearchTimeout(Exception):
    """A search ran past its time budget and was stopped by the database."""


@dataclass(frozen=True)
class Filters:
    """One history search; ``viewer`` limits it to the conversations that agent handled."""

    since: float
    until: float
    customer: str | None = None
    order: str | None = None
    phone_tail: str | None = None
    agent_id: int | None = None
    reason: str | None = None
    rating: int | None = None
    text: str | None = None
    viewer: int | None = None
    before: tuple[float, str] | None = None  # keyset cursor: (updated_at, id) of the last row seen
    limit: int = 20


def _ref(kind: str, value: str) -> Any:
    r = m.conversation_refs.c
    return exists().where(and_(r.kind == kind, r.value == value, r.conversation_id == m.conversations.c.id))


def _handled_by(agent_id: int) -> Any:
    """Wrote in it, was named by its join notice, or was assigned its handoff."""
    h = m.handoffs.c
    return or_(_ref(REF_AGENT, str(agent_id)),
               exists().where(and_(h.conversation_id == m.conversations.c.id, h.agent_id == agent_id)))


def customer_key(conv: dict[str, Any]) -> tuple[str, Any] | None:
    """How earlier conversations of the same customer are found: the signed customer id, else the
    WeChat openid, else the web visitor id (the browser's own, unverified); None for neither."""
    c = m.conversations.c
    if conv.get("customer_id"):
        return "customer", c.customer_id == conv["customer_id"]
    if conv.get("external_id"):
        link = "wechat" if conv["channel"] == "wechat" else "browser"
        return link, and_(c.channel == conv["channel"], c.external_id == conv["external_id"],
                          func.coalesce(c.customer_id, "") == "")
    return None


def search_query(f: Filters) -> Any:
    """The SELECT of one search page (one row more than the page: is there a next one?).

    Order numbers, phone tails and agents narrow through ``hub_conversation_refs``' primary key
    (an IN over a few ids); the date range and the order are ``ix_hub_conv_updated``; text is
    looked for only in the messages of conversations that passed everything else."""
    c = m.conversations.c
    r = m.conversation_refs.c
    cond = [c.updated_at >= f.since, c.created_at < f.until, c.last_seq > 0]

    def by_ref(kind: str, value: str) -> Any:
        return c.id.in_(select(r.conversation_id).where(and_(r.kind == kind, r.value == value)))

    if f.customer:
        cond.append(or_(c.customer_id == f.customer, c.external_id == f.customer,
                        c.customer_name.ilike(like_pattern(f.customer), escape="\\")))
    if f.order:
        cond.append(by_ref(REF_ORDER, f.order))
    if f.phone_tail:
        cond.append(by_ref(REF_PHONE_TAIL, f.phone_tail))
    for agent_id in (f.agent_id, f.viewer):
        if agent_id is not None:
            h = m.handoffs.c
            cond.append(or_(by_ref(REF_AGENT, str(agent_id)),
                            c.id.in_(select(h.conversation_id).where(h.agent_id == agent_id))))
    if f.reason:
        h = m.handoffs.c
        cond.append(exists().where(and_(h.conversation_id == c.id, h.reason == f.reason)))
    if f.rating is not None:
        s = m.csat.c
        cond.append(exists().where(and_(s.conversation_id == c.id, s.score == f.rating)))
    if f.text:
        msg = m.messages.c
        pattern = like_pattern(f.text)
        cond.append(exists().where(and_(msg.conversation_id == c.id, or_(
            msg.text.ilike(pattern, escape="\\"), msg.title.ilike(pattern, escape="\\")))))
    if f.before is not None:
        at, cid = f.before
        cond.append(or_(c.updated_at < at, and_(c.updated_at == at, c.id < cid)))
    return select(m.conversations).where(and_(*cond)).order_by(c.updated_at.desc(), c.id.desc()).limit(f.limit + 1)


class History(Repository):
    """Reads over past conversations; nothing here changes a conversation."""

    def _bounded(self, conn: Connection, seconds: float) -> None:
        """Stop this connection's statements after ``seconds`` (PostgreSQL: statement_timeout in
        the transaction; SQLite: a progress handler that interrupts the running statement)."""
        if self.engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}")
        elif self.engine.dialect.name == "sqlite":
            deadline = time.monotonic() + seconds
            conn.connection.dbapi_connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 20000)

    def _unbound(self, conn: Connection) -> None:
        if self.engine.dialect.name == "sqlite":
            conn.connection.dbapi_connection.set_progress_handler(None, 0)

    @reads
    def search(self, f: Filters, seconds: float = 5.0) -> tuple[list[dict[str, Any]], tuple[float, str] | None]:
        """One page of conversations, newest activity first, and the cursor of the next page."""
        q = search_query(f)
        try:
            with self.engine.begin() as conn:
                self._bounded(conn, seconds)
                try:
                    rows = [dict(r._mapping) for r in conn.execute(q)]
                    page = rows[: f.limit]
                    self._enrich(conn, page, f.text)
                finally:
                    self._unbound(conn)
        except OperationalError as exc:
            if "interrupt" in str(exc).lower() or "statement timeout" in str(exc).lower() or "cancel" in str(exc).lower():
                raise SearchTimeout from None
            raise
        cursor = (page[-1]["updated_at"], page[-1]["id"]) if len(rows) > f.limit else None
        return page, cursor

    def _enrich(self, conn: Connection, page: list[dict[str, Any]], text: str | None) -> None:
        """Handoffs, ratings, agents, QA and a snippet for each row of a page (a few IN queries)."""
        ids = [r["id"] for r in page]
        for row in page:
            row.update(handoffs=[], ratings=[], agent_ids=set(), qa=[], snippet=None)
        if not ids:
            return
        by_id = {r["id"]: r for r in page}
        h = m.handoffs.c
        for hrow in conn.execute(select(m.handoffs).where(h.conversation_id.in_(ids)).order_by(h.id)):
            row = by_id[hrow.conversation_id]
            row["handoffs"].append(dict(hrow._mapping))
            if hrow.agent_id is not None:
                row["agent_ids"].add(int(hrow.agent_id))
        r = m.conversation_refs.c
        for ref in conn.execute(select(r.conversation_id, r.value).where(and_(r.conversation_id.in_(ids),
                                                                              r.kind == REF_AGENT))):
            by_id[ref.conversation_id]["agent_ids"].add(int(ref.value))
        s = m.csat.c
        for rating in conn.execute(select(s.conversation_id, s.score).where(s.conversation_id.in_(ids)).order_by(s.id)):
            by_id[rating.conversation_id]["ratings"].append(int(rating.score))
        q = m.qa_scores.c
        for score in conn.execute(select(m.qa_scores).where(q.conversation_id.in_(ids)).order_by(q.id)):
            by_id[score.conversation_id]["qa"].append(dict(score._mapping))
        msg = m.messages.c
        where = [msg.conversation_id.in_(ids)]
        if text:  # the first message that matched (an internal note too: only agents read this)
            pattern = like_pattern(text)
            where.append(or_(msg.text.ilike(pattern, escape="\\"), msg.title.ilike(pattern, escape="\\")))
        else:  # what the customer came with
            where += [msg.author == "customer", msg.internal == False]  # noqa: E712
        firsts = conn.execute(select(msg.conversation_id, func.min(msg.seq)).where(and_(*where))
                              .group_by(msg.conversation_id)).all()
        if firsts:
            for hit in conn.execute(select(msg.conversation_id, msg.text, msg.title).where(
                    tuple_(msg.conversation_id, msg.seq).in_([(cid, seq) for cid, seq in firsts]))):
                by_id[hit.conversation_id]["snippet"] = mask_phones(hit.title or hit.text or "")[:200]

    @reads
    def handled_by(self, conversation_id: str, agent_id: int) -> bool:
        c = m.conversations.c
        with self.engine.connect() as conn:
            return conn.execute(select(c.id).where(and_(c.id == conversation_id, _handled_by(agent_id)))).first() is not None

    @reads
    def serving_same_customer(self, conv: dict[str, Any], agent_id: int) -> bool:
        """Whether the agent serves, right now, a conversation of this conversation's customer."""
        key = customer_key(conv)
        if key is None:
            return False
        c = m.conversations.c
        with self.engine.connect() as conn:
            return conn.execute(select(c.id).where(and_(
                key[1], c.assigned_agent_id == agent_id, c.mode == "agent")).limit(1)).first() is not None

    @reads
    def transcript(self, conversation_id: str, limit: int = 5000) -> dict[str, Any]:
        """Messages (notes included), handoffs, ratings, QA scores, tickets and refs of one conversation."""
        msg, h, s, q, t, r = (m.messages.c, m.handoffs.c, m.csat.c, m.qa_scores.c, m.tickets.c,
                              m.conversation_refs.c)
        with self.engine.connect() as conn:
            def rows(stmt: Any) -> list[dict[str, Any]]:
                return [dict(x._mapping) for x in conn.execute(stmt)]

            return {
                "messages": rows(select(m.messages).where(msg.conversation_id == conversation_id)
                                 .order_by(msg.seq).limit(limit)),
                "handoffs": rows(select(m.handoffs).where(h.conversation_id == conversation_id).order_by(h.id)),
                "ratings": rows(select(m.csat).where(s.conversation_id == conversation_id).order_by(s.id)),
                "qa": rows(select(m.qa_scores).where(q.conversation_id == conversation_id).order_by(q.id)),
                "tickets": rows(select(m.tickets).where(t.conversation_id == conversation_id).order_by(t.id)),
                "refs": rows(select(r.kind, r.value).where(and_(r.conversation_id == conversation_id,
                                                                r.kind != REF_AGENT)).order_by(r.kind, r.value)),
            }

    @reads
    def customer_history(self, conv: dict[str, Any], limit: int = 20) -> dict[str, Any]:
        """The customer's other conversations (newest first) and their tickets, and how they are linked."""
        key = customer_key(conv)
        if key is None:
            return {"link": None, "conversations": [], "tickets": []}
        c, t = m.conversations.c, m.tickets.c
        with self.engine.connect() as conn:
            convs = [dict(x._mapping) for x in conn.execute(
                select(m.conversations).where(and_(key[1], c.id != conv["id"], c.last_seq > 0))
                .order_by(c.updated_at.desc(), c.id.desc()).limit(limit))]
            self._enrich(conn, convs, None)
            ids = [conv["id"]] + [x["id"] for x in convs]
            who = t.conversation_id.in_(ids)
            if conv.get("customer_id"):
                who = or_(who, t.customer_id == conv["customer_id"])
            tickets = [dict(x._mapping) for x in conn.execute(
                select(m.tickets).where(who).order_by(t.created_at.desc(), t.id.desc()).limit(limit))]
        return {"link": key[0], "conversations": convs, "tickets": tickets}


def closed_for_qa(conv: dict[str, Any]) -> bool:
    """A conversation can be scored once no human part is open (it is back with the bot or closed)."""
    return conv.get("mode") not in HUMAN
