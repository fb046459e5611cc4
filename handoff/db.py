"""The hub database: engine, worker threads and health, shared by every kind of record.

Persistence is SQLAlchemy Core on the standard sync drivers (sqlite3 / psycopg2). Each public
method of a repository (``handoff.records``) is one unit of work executed whole in a worker
thread, so the event loop never waits on the database and pays one thread hop per method
instead of one per statement (measured: per-statement async drivers cost several times more
CPU per turn). Every state change that must be race-safe across hub processes is one
conditional UPDATE, so two hubs on one PostgreSQL behave as one.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool


def now() -> float:
    return time.time()


def row_dict(row: Any) -> dict[str, Any] | None:
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
    pg = url.startswith("postgresql")
    # values_plus_batch: an UPDATE run for many rows goes in pages (psycopg2 execute_batch), not a
    # round trip per row; INSERTs of many rows are one multi-VALUES statement, as by default
    engine = create_engine(url, pool_size=8, max_overflow=4, pool_pre_ping=True,
                           connect_args={"connect_timeout": 5} if pg else {},
                           **({"executemany_mode": "values_plus_batch"} if pg else {}))
    return engine, 8


def threaded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a sync repository method whole in the database's worker threads."""

    @functools.wraps(fn)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.db.executor, functools.partial(fn, self, *args, **kwargs))

    wrapper.sync = fn  # type: ignore[attr-defined]
    return wrapper


def reads(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Like ``threaded`` for a method that only reads: on SQLite it runs on its own threads, so
    reads never queue behind writes waiting for a locked database."""

    @functools.wraps(fn)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.db.read_executor, functools.partial(fn, self, *args, **kwargs))

    wrapper.sync = fn  # type: ignore[attr-defined]
    return wrapper


class Database:
    """One engine and its worker threads (reads on their own threads on SQLite)."""

    def __init__(self, engine: Engine, workers: int = 1) -> None:
        self.engine = engine
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hub-db")
        self.read_executor = (ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hub-db-read")
                              if engine.dialect.name == "sqlite" else self.executor)
        self._health = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-db-health")

    @property
    def db(self) -> Database:  # so ``threaded`` methods work on the database itself too
        return self

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


class Repository:
    """The reads and writes of one kind of record, on the shared database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.engine = db.engine

    def upsert(self, table: Any, values: dict[str, Any], keys: list[str], set_: dict[str, Any]) -> Any:
        """INSERT … ON CONFLICT DO UPDATE in the engine's dialect (SQLite and PostgreSQL agree)."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table).values(**values).on_conflict_do_update(index_elements=keys, set_=set_)
