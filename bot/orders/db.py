"""Engine construction for the order store: SQLite file by default, PostgreSQL via
DATABASE_URL. Engines are cached per URL so the action server shares one pool."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

REPO_ROOT = Path(__file__).resolve().parents[2]

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


class DatabaseUnavailable(Exception):
    """The order database cannot be reached (server down, file unreadable, schema missing)."""


def database_url() -> str:
    """DATABASE_URL if set, else the embedded SQLite shop at <repo>/var/shop.db (var/ created)."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    var = REPO_ROOT / "var"
    var.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{var / 'shop.db'}"


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    """Foreign keys on, and wait for a writer instead of failing at once with 'database is locked'."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    """A new (uncached) engine; tests use it for throw-away databases they dispose of."""
    url = url or database_url()
    parsed = make_url(url)
    kwargs: dict = {"future": True, "pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        # the action server calls the service from worker threads
        kwargs["connect_args"] = {"check_same_thread": False}
    elif parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg2":
        # fail fast when the server is down instead of hanging an action
        kwargs["connect_args"] = {"connect_timeout": 5}
    engine = sqlalchemy.create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for `url` (default: database_url()), created once per URL."""
    url = url or database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = make_engine(url)
            _engines[url] = engine
        return engine


def init_schema(engine: Engine) -> None:
    """Upgrade the order tables to the newest migration (idempotent; adopts a database that
    ``create_all`` made before migrations existed)."""
    from bot.migrate import SHOP, upgrade

    upgrade(engine, SHOP)


def safe_url(engine: Engine) -> str:
    """The engine URL without its password, for logs."""
    return engine.url.render_as_string(hide_password=True)
