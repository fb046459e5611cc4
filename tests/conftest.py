"""Shared fixtures: order-store engines on SQLite and PostgreSQL.

`engine` / `seeded_engine` are parametrised over both backends. PostgreSQL runs in a
throw-away database per test (cloned from a per-session `kefu_test_<random>` database,
all dropped afterwards). When PostgreSQL is unreachable the PG variants are skipped,
except with CI=true, where they fail: CI must never silently lose a backend."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
IS_CI = os.environ.get("CI", "").strip().lower() == "true"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _pg_url(dbname: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=dbname).render_as_string(hide_password=False)


class _PgDatabases:
    """Creates and drops the throw-away PostgreSQL databases of one test session."""

    def __init__(self, admin: Engine):
        self.admin = admin
        self.prefix = f"kefu_test_{uuid.uuid4().hex[:10]}"
        self._n = itertools.count(1)
        self.created: list[str] = []
        self.template: str | None = None

    def create(self, template: str | None = None) -> str:
        name = f"{self.prefix}_{next(self._n)}" if self.created else self.prefix
        with self.admin.connect() as conn:
            clause = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in reversed(list(self.created)):
            self.drop(name)


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[_PgDatabases]:
    """Session handle on PostgreSQL; skips (or fails under CI=true) if it is unreachable."""
    admin = create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True,
        connect_args={"connect_timeout": 3},
    )
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # noqa: BLE001 - any failure means "not reachable"
        admin.dispose()
        msg = f"PostgreSQL not reachable at {make_url(PG_ADMIN_URL).render_as_string()}: {err}"
        if IS_CI:
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    dbs = _PgDatabases(admin)
    dbs.create()  # the session database kefu_test_<random>; doubles as the seeded template
    try:
        yield dbs
    finally:
        dbs.drop_all()
        admin.dispose()


@pytest.fixture
def pg_database_url(pg_databases: _PgDatabases) -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database for this test only."""
    name = pg_databases.create()
    try:
        yield _pg_url(name)
    finally:
        pg_databases.drop(name)


@pytest.fixture(scope="session")
def seed_now() -> datetime:
    """The instant the seeded shop is laid out around (start of the test session, UTC)."""
    from bot.orders.timeutil import utcnow

    return utcnow().replace(microsecond=0)


def _new_engine(url: str) -> Engine:
    from bot.orders.db import make_engine

    return make_engine(url)


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty order schema: SQLite temp file, or a fresh PostgreSQL database."""
    from bot.orders.db import init_schema

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
        eng = _new_engine(url)
        init_schema(eng)
        yield eng
        eng.dispose()
        return
    pg_url = request.getfixturevalue("pg_database_url")
    eng = _new_engine(pg_url)
    init_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def _sqlite_seed_template(tmp_path_factory: pytest.TempPathFactory, seed_now: datetime) -> Path:
    from bot.orders.seed import seed

    path = tmp_path_factory.mktemp("shop_template") / "shop.db"
    eng = _new_engine(f"sqlite:///{path}")
    seed(eng, now=seed_now)
    eng.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_seed_template(pg_databases: _PgDatabases, seed_now: datetime) -> str:
    from bot.orders.seed import seed

    name = pg_databases.prefix
    eng = _new_engine(_pg_url(name))
    seed(eng, now=seed_now)
    eng.dispose()  # a template database must have no open connections
    return name


@pytest.fixture(params=BACKENDS)
def seeded_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a private copy of the demo shop seeded at `seed_now` (tests may write)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_seed_template")
        path = tmp_path / "shop.db"
        shutil.copyfile(template, path)
        eng = _new_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
        return
    dbs: _PgDatabases = request.getfixturevalue("pg_databases")
    name = dbs.create(template=request.getfixturevalue("_pg_seed_template"))
    eng = _new_engine(_pg_url(name))
    try:
        yield eng
    finally:
        eng.dispose()
        dbs.drop(name)


@pytest.fixture
def order_service(seeded_engine: Engine, seed_now: datetime):
    """OrderService on the seeded shop with the clock frozen at `seed_now`."""
    from bot.orders.service import OrderService

    return OrderService(seeded_engine, now=lambda: seed_now)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP client per test for the hub suites."""
    async with aiohttp.ClientSession() as s:
        yield s
