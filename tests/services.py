"""PostgreSQL and Redis for the multi-process tests: required under CI=true, a throw-away
database per test module, dropped afterwards."""

from __future__ import annotations

import os
import socket
from contextlib import AbstractContextManager

import pytest

from bench.common import fresh_pg_database as bench_fresh_pg_database

PG_ADMIN = os.environ.get("HUB_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def reachable(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_services() -> None:
    """Fail under CI=true, skip elsewhere, when PostgreSQL or Redis is not listening."""
    missing = [name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not reachable(port)]
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{', '.join(missing)} must run under CI=true")
        pytest.skip(f"{', '.join(missing)} not running")


def require_haproxy() -> None:
    """Fail under CI=true, skip elsewhere, when Debian's haproxy (.ci/run installs it) is missing."""
    import shutil
    from pathlib import Path

    if shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("haproxy must be installed under CI=true (apt-get install haproxy)")
    pytest.skip("haproxy not installed")


def fresh_pg_database(prefix: str) -> AbstractContextManager[str]:
    """The URL of a new, empty PostgreSQL database; dropped (connections ended) afterwards."""
    return bench_fresh_pg_database(PG_ADMIN, prefix)
