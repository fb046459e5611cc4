"""Session fixtures for end-to-end tests: a real trained model and real running servers.

Loaded for every test module through `-p tests.stack_fixtures` (pyproject), so the hub
and browser suites share one Rasa stack. The model is the one `make run` uses (cached per
data hash under models/), so a second run trains nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime import ROOT, ensure_model
from bot.stack import Stack, start_stack


@pytest.fixture(scope="session")
def trained_model() -> Path:
    return ensure_model(quiet=True)


@pytest.fixture(scope="session")
def shop_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A freshly seeded demo shop in its own SQLite file, shared by the stack's processes."""
    url = f"sqlite:///{tmp_path_factory.mktemp('shop') / 'shop.db'}"
    subprocess.run(
        [sys.executable, "-m", "bot.orders.seed"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": url}, check=True,
    )
    return url


@pytest.fixture(scope="session")
def rasa_stack(
    trained_model: Path, shop_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("stack-logs")
    stack = start_stack(
        trained_model,
        env={"DATABASE_URL": shop_db_url},
        log_dir=logs,
        tracker_db=logs / "trackers.db",
    )
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def rasa_url(rasa_stack: Stack) -> str:
    return rasa_stack.rasa_url
