"""Hubs for the ticket-desk and silent-agent suites: one on SQLite, or two on PostgreSQL + Redis
(requests alternate between them, as behind a load balancer)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.services import REDIS_URL, fresh_pg_database, require_services

from .conftest import HubProcess, RasaStandIn, hub_processes

BACKENDS = ["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.redis])]


@contextmanager
def desk_hubs(backend: str, rasa: RasaStandIn, folder: Path, **env: str) -> Iterator[tuple[list[HubProcess], str]]:
    """(hubs, database url): one hub on SQLite, two on PostgreSQL."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'hub.db'}"
        with hub_processes({"HUB_DATABASE_URL": url, "RASA_URL": rasa.url, **env}, folder, count=1) as hubs:
            yield hubs, url
        return
    require_services()
    with fresh_pg_database("hub_desk") as url, hub_processes(
            {"HUB_DATABASE_URL": url, "REDIS_URL": REDIS_URL, "RASA_URL": rasa.url, **env}, folder) as hubs:
        yield hubs, url


def execute(url: str, sql: str, **params: object) -> None:
    """A direct write to the hub's database: how a test lets time pass for stored rows."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def query(url: str, sql: str, **params: object) -> list[dict]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()
