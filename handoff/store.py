"""Persistence for the hub: SQLAlchemy Core (sqlite3 / psycopg2) run in a thread pool.

Each public method is one unit of work executed whole in a worker thread, so the event
loop never waits on the database and pays one thread hop per method instead of one per
statement (measured: per-statement async drivers cost several times more CPU per turn).
Every state change that must be race-safe across hub processes is one conditional
UPDATE, so two hubs on one PostgreSQL behave as one.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import and_, bindparam, case, create_engine, event, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import QueuePool

from handoff import models as m
from handoff.state import Mode, Move


def _now() -> float:
    return time.time()


def _row(row: Any) -> dict[str, Any] | None:
    return dict(row._mapping) if row is not None else None


def sync_url(url: str) -> str:
    """Accept asyncio-driver URLs too; the store uses the standard sync drivers."""
    for aio, sync in (("sqlite+aiosqlite://", "sqlite://"), ("postgresql+asyncpg://", "postgresql://"),
                      ("postgres://", "postgresql://")):
        if url.startswith(aio):
            return sync + url[len(aio):]
    return url


SQLITE_WORKERS = 4  # per executor; SQLite has one writer, but a writer waiting for the lock must not hold up the rest


def make_engine(url: str, busy_timeout: float = 2.0) -> tuple[Engine, int]:
    """The engine and how many worker threads suit it.

    SQLite runs in WAL mode, so reads go on while a writer (even one outside the hub) holds the
    write lock; a write waits at most ``busy_timeout`` for that lock and then fails (503)."""
    url = sync_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1] if "///" in url else ""
        memory = not path or path == ":memory:"  # one connection is the whole database
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        workers = 1 if memory else SQLITE_WORKERS
        engine = create_engine(
            url, poolclass=QueuePool, pool_size=1 if memory else 2 * workers, max_overflow=0, pool_timeout=60,
            connect_args={"check_same_thread": False, "timeout": busy_timeout},
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine, workers
    engine = create_engine(url, pool_size=8, max_overflow=4, pool_pre_ping=True,
                           connect_args={"connect_timeout": 5} if url.startswith("postgresql") else {})
    return engine, 8


def threaded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a sync store method whole in the store's worker threads."""

    @functools.wraps(fn)
    async def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, self, *args, **kwargs))

    wrapper.sync = fn  # type: ignore[attr-defined]
    return wrapper


def reads(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Like ``threaded`` for a method that only reads: on SQLite it runs on its own threads, so
    reads never queue behind writes waiting for a locked database."""

    @functools.wraps(fn)
    async def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.read_executor, functools.partial(fn, self, *args, **kwargs))

    wrapper.sync = fn  # type: ignore[attr-defined]
    return wrapper


class AlreadyWaiting(Exception):
    """Another conversation of the same customer waits in the queue."""


class Duplicate(Exception):
    """A customer message with an already stored ``client_msg_id``."""

    def __init__(self, existing: dict[str, Any]) -> None:
        super().__init__("duplicate client_msg_id")
        self.existing = existing


class Store:
    """All hub reads and writes."""

    def __init__(self, engine: Engine, workers: int = 1) -> None:
        self.engine = engine
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hub-db")
        self.read_executor = (ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hub-db-read")
                              if engine.dialect.name == "sqlite" else self.executor)
        self._health = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-db-health")

    @classmethod
    def from_url(cls, url: str, busy_timeout: float = 2.0) -> Store:
        engine, workers = make_engine(url, busy_timeout)
        return cls(engine, workers)

    async def health(self, timeout: float = 1.5) -> str:
        """``ok``, ``locked`` (SQLite write lock held elsewhere) or ``down``, within ``timeout``
        seconds: on its own thread, so it never waits behind queued work."""
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._health, self._check, timeout), timeout)
        except (asyncio.TimeoutError, Exception):
            return "down"

    def _check(self, timeout: float) -> str:
        if self.engine.dialect.name == "sqlite":
            import sqlite3

            path = self.engine.url.database or ":memory:"
            try:
                conn = sqlite3.connect(path, timeout=max(0.1, timeout / 2), isolation_level=None)
            except sqlite3.Error:
                return "down"
            try:
                conn.execute("BEGIN IMMEDIATE")  # can this database take a write now?
                conn.execute("ROLLBACK")
                return "ok"
            except sqlite3.OperationalError as exc:
                return "locked" if "locked" in str(exc) or "busy" in str(exc) else "down"
            finally:
                conn.close()
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"

    @threaded
    def create_schema(self) -> None:
        """Upgrade to the newest migration; a database ``create_all`` made is adopted as it is."""
        from bot.migrate import HUB, upgrade

        upgrade(self.engine, HUB)

    @threaded
    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self.executor, self.engine.dispose)
        self.executor.shutdown(wait=False)
        self.read_executor.shutdown(wait=False)
        self._health.shutdown(wait=False)

    # -- conversations -------------------------------------------------------------------

    @threaded
    def create_conversation(
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
    def get_conversation(self, conversation_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            res = conn.execute(
                select(m.conversations).where(m.conversations.c.id == conversation_id)
            )
            return _row(res.first())

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
            return _row(res.first())

    @reads
    def list_conversations(
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

    # -- messages -----------------------------------------------------------------------

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
            return _row(res.first())

    @threaded
    def add_messages(
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
                rows = self._insert_messages(conn, conversation_id, channel, items, now)
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

    @staticmethod
    def _insert_messages(conn: Connection, conversation_id: str, channel: str, items: list[dict[str, Any]],
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
        return rows

    async def add_message(self, conversation_id: str, channel: str, turn_lease: float | None = None,
                          **item: Any) -> dict[str, Any]:
        return (await self.add_messages(conversation_id, channel, [item], turn_lease=turn_lease))[0]

    @reads
    def get_message(self, message_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return _row(conn.execute(select(m.messages).where(m.messages.c.id == message_id)).first())

    # -- bot turns owed ------------------------------------------------------------------

    @reads
    def bot_turn(self, message_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return _row(conn.execute(select(m.bot_turns).where(m.bot_turns.c.message_id == message_id)).first())

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

    @reads
    def list_messages(
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
    def replies_to(self, message_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            res = conn.execute(
                select(m.messages)
                .where(m.messages.c.reply_to == message_id)
                .order_by(m.messages.c.seq)
            )
            return [dict(r._mapping) for r in res]

    # -- moves of the state machine and the queue ------------------------------------------------

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
                ins = conn.execute(m.handoffs.insert().values(conversation_id=move.conversation_id,
                                                              **move.open_handoff))
                conn.execute(update(m.conversations).where(c.id == move.conversation_id)
                             .values(handoff_id=int(ins.inserted_primary_key[0])))
            hid = conn.execute(select(c.handoff_id).where(c.id == move.conversation_id)).scalar_one()
            if move.agent_id is not None:
                if hid is not None:
                    conn.execute(update(m.handoffs)
                                 .where(and_(m.handoffs.c.id == hid, m.handoffs.c.assigned_at.is_(None)))
                                 .values(assigned_at=now, agent_id=move.agent_id))
                conn.execute(update(m.agents).where(m.agents.c.id == move.agent_id).values(last_assigned_at=now))
            if move.close_handoff and hid is not None:
                conn.execute(update(m.handoffs).where(m.handoffs.c.id == hid).values(closed_at=now))
            notices = (self._insert_messages(conn, move.conversation_id, move.channel, list(move.notices), now)
                       if move.notices else [])
            after = _row(conn.execute(select(m.conversations).where(c.id == move.conversation_id)).first())
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
        broadcast skips those whose place did not change (on every hub process)."""
        if not places:
            return
        c = m.conversations.c
        stmt = (update(m.conversations)
                .where(and_(c.id == bindparam("b_id"), c.mode == Mode.QUEUED.value))
                .values(queue_position=bindparam("b_pos"), queue_eta=bindparam("b_eta")))
        with self.engine.begin() as conn:
            conn.execute(stmt, [{"b_id": cid, "b_pos": pos, "b_eta": eta} for cid, pos, eta in places])

    @threaded
    def mark_first_response(self, handoff_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(m.handoffs)
                .where(and_(m.handoffs.c.id == handoff_id, m.handoffs.c.first_response_at.is_(None)))
                .values(first_response_at=_now())
            )

    @reads
    def agent_loads(self) -> list[dict[str, Any]]:
        """Agents with their number of open chats."""
        load = (
            select(
                m.conversations.c.assigned_agent_id.label("aid"),
                func.count().label("load"),
            )
            .where(m.conversations.c.mode == Mode.AGENT.value)
            .group_by(m.conversations.c.assigned_agent_id)
            .subquery()
        )
        q = select(m.agents, func.coalesce(load.c.load, 0).label("load")).select_from(
            m.agents.outerjoin(load, load.c.aid == m.agents.c.id)
        ).order_by(m.agents.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

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

    # -- agents and sessions ----------------------------------------------------------------

    @threaded
    def create_agent(
        self, username: str, display_name: str, password_hash: str, role: str,
        skills: Iterable[str], max_chats: int = 5,
    ) -> dict[str, Any]:
        with self.engine.begin() as conn:
            res = conn.execute(
                m.agents.insert().values(
                    username=username,
                    display_name=display_name,
                    password_hash=password_hash,
                    role=role,
                    skills=",".join(skills),
                    presence="offline",
                    max_chats=max_chats,
                    last_assigned_at=0.0,
                    created_at=_now(),
                )
            )
            agent_id = res.inserted_primary_key[0]
        agent = self.get_agent.sync(self, int(agent_id))
        assert agent is not None
        return agent

    @reads
    def get_agent(self, agent_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            res = conn.execute(select(m.agents).where(m.agents.c.id == agent_id))
            return _row(res.first())

    @reads
    def get_agent_by_username(self, username: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            res = conn.execute(select(m.agents).where(m.agents.c.username == username))
            return _row(res.first())

    @threaded
    def set_presence(self, agent_id: int, presence: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(m.agents).where(m.agents.c.id == agent_id).values(presence=presence)
            )

    @threaded
    def set_password(self, agent_id: int, password_hash: str) -> None:
        """New password; the agent's open sessions end, as whoever knew the old one may hold one."""
        with self.engine.begin() as conn:
            conn.execute(
                update(m.agents).where(m.agents.c.id == agent_id).values(password_hash=password_hash)
            )
            conn.execute(m.sessions.delete().where(m.sessions.c.agent_id == agent_id))

    @threaded
    def create_session(self, token_hash: str, agent_id: int, csrf: str, ttl: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                m.sessions.delete().where(m.sessions.c.expires_at < _now())
            )
            conn.execute(
                m.sessions.insert().values(
                    token_hash=token_hash, agent_id=agent_id, csrf_token=csrf,
                    expires_at=_now() + ttl,
                )
            )

    @reads
    def session_agent(self, token_hash: str) -> tuple[dict[str, Any], str] | None:
        """The agent and CSRF token of a live session."""
        q = (
            select(m.agents, m.sessions.c.csrf_token)
            .select_from(m.sessions.join(m.agents, m.agents.c.id == m.sessions.c.agent_id))
            .where(and_(m.sessions.c.token_hash == token_hash, m.sessions.c.expires_at > _now()))
        )
        with self.engine.connect() as conn:
            row = _row((conn.execute(q)).first())
        if row is None:
            return None
        csrf = row.pop("csrf_token")
        return row, csrf

    @threaded
    def delete_session(self, token_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(m.sessions.delete().where(m.sessions.c.token_hash == token_hash))

    def _upsert(self, table: Any, values: dict[str, Any], keys: list[str], set_: dict[str, Any]) -> Any:
        """INSERT … ON CONFLICT DO UPDATE in the engine's dialect (SQLite and PostgreSQL agree)."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table).values(**values).on_conflict_do_update(index_elements=keys, set_=set_)

    @threaded
    def count_login_attempt(self, keys: list[str], window: float) -> list[int]:
        """Count one attempt against each key before the password is checked, in one
        transaction: concurrent attempts on any hub process each get their own number, so
        a burst cannot slip past a limit that is checked before failures are recorded."""
        now, t = _now(), m.login_counters
        expired = t.c.reset_at <= now
        out = []
        with self.engine.begin() as conn:
            for key in keys:
                conn.execute(self._upsert(
                    t, {"key": key, "hits": 1, "reset_at": now + window}, ["key"],
                    {"hits": case((expired, 1), else_=t.c.hits + 1),
                     "reset_at": case((expired, now + window), else_=t.c.reset_at)}))
                out.append(int(conn.execute(select(t.c.hits).where(t.c.key == key)).scalar_one()))
        return out

    @threaded
    def login_succeeded(self, undo: list[str], clear: list[str], agent_id: int, address: str) -> None:
        """A right password: its attempt no longer counts, the (username, address) counter
        starts again and the address becomes one this agent is known to log in from."""
        now, t = _now(), m.login_counters
        with self.engine.begin() as conn:
            if undo:
                conn.execute(update(t).where(and_(t.c.key.in_(undo), t.c.hits > 0)).values(hits=t.c.hits - 1))
            conn.execute(t.delete().where(t.c.key.in_(clear) | (t.c.reset_at <= now)))
            conn.execute(self._upsert(
                m.known_logins, {"agent_id": agent_id, "address": address[:64], "last_at": now},
                ["agent_id", "address"], {"last_at": now}))

    @reads
    def known_login_address(self, agent_id: int, address: str, since: float) -> bool:
        k = m.known_logins
        with self.engine.connect() as conn:
            return conn.execute(select(k.c.agent_id).where(and_(
                k.c.agent_id == agent_id, k.c.address == address[:64], k.c.last_at >= since))).first() is not None

    # -- canned replies --------------------------------------------------------------------

    @reads
    def list_canned(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            res = conn.execute(select(m.canned).order_by(m.canned.c.id))
            return [dict(r._mapping) for r in res]

    @reads
    def count_canned(self) -> int:
        with self.engine.connect() as conn:
            return int((conn.execute(select(func.count()).select_from(m.canned))).scalar_one())

    @threaded
    def add_canned(self, title: str, text: str, agent_id: int | None) -> dict[str, Any]:
        with self.engine.begin() as conn:
            res = conn.execute(
                m.canned.insert().values(title=title, text=text, updated_by=agent_id, updated_at=_now())
            )
            cid = int(res.inserted_primary_key[0])
        return {"id": cid, "title": title, "text": text}

    @threaded
    def update_canned(self, canned_id: int, title: str, text: str, agent_id: int) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(
                update(m.canned)
                .where(m.canned.c.id == canned_id)
                .values(title=title, text=text, updated_by=agent_id, updated_at=_now())
            )
            return res.rowcount == 1

    @threaded
    def delete_canned(self, canned_id: int) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(m.canned.delete().where(m.canned.c.id == canned_id))
            return res.rowcount == 1

    # -- tickets -------------------------------------------------------------------------

    @threaded
    def create_ticket(self, row: dict[str, Any]) -> int:
        with self.engine.begin() as conn:
            res = conn.execute(m.tickets.insert().values(**row))
            return int(res.inserted_primary_key[0])

    @threaded
    def file_ticket(self, row: dict[str, Any]) -> int:
        """A new ticket, or the conversation's open one not yet due, brought up to date (its
        text gains the new request, the transcript is replaced, the due time stays)."""
        t = m.tickets
        with self.engine.begin() as conn:
            current = _row(conn.execute(
                select(t).where(and_(t.c.conversation_id == row["conversation_id"], t.c.status == "open",
                                     t.c.due_at > row["created_at"]))
                .order_by(t.c.id.desc()).limit(1)).first())
            if current is None:
                return int(conn.execute(t.insert().values(**row)).inserted_primary_key[0])
            text = current["text"] if row["text"] in current["text"] else f"{current['text']}\n{row['text']}"
            conn.execute(update(t).where(t.c.id == current["id"]).values(
                text=text, transcript=row["transcript"], updated_at=row["created_at"]))
            return int(current["id"])

    @reads
    def list_tickets(self, status: str | None = None) -> list[dict[str, Any]]:
        q = select(m.tickets)
        if status:
            q = q.where(m.tickets.c.status == status)
        with self.engine.connect() as conn:
            res = conn.execute(q.order_by(m.tickets.c.due_at, m.tickets.c.id))
            return [dict(r._mapping) for r in res]

    @reads
    def get_ticket(self, ticket_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            res = conn.execute(select(m.tickets).where(m.tickets.c.id == ticket_id))
            return _row(res.first())

    @threaded
    def update_ticket(self, ticket_id: int, status: str, agent_id: int) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(
                update(m.tickets)
                .where(m.tickets.c.id == ticket_id)
                .values(status=status, agent_id=agent_id, updated_at=_now())
            )
            return res.rowcount == 1

    # -- CSAT ------------------------------------------------------------------------------

    @threaded
    def add_csat(self, conversation_id: str, score: int, comment: str | None) -> bool:
        """One rating per request: only while the conversation awaits one."""
        with self.engine.begin() as conn:
            conv = _row(
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
                    comment=comment,
                    created_at=_now(),
                )
            )
            return True

    @reads
    def csat_since(self, since: float) -> list[int]:
        with self.engine.connect() as conn:
            res = conn.execute(select(m.csat.c.score).where(m.csat.c.created_at >= since))
            return [int(s) for (s,) in res]
