"""`rasa run` with per-process speed-ups that leave every answer unchanged.

    python -m bot.rasa_server run --enable-api --model ... --endpoints ...   # same arguments as `rasa`

Profiling the server under the load-test conversation mix (bench/README.md, "Where a turn's
time goes") showed a third of Rasa's CPU in `RemoteAction._validate_action_result`: Rasa 3.6
calls `jsonschema.validate` for every action-server answer, which re-checks the response schema
against the JSON-Schema meta-schema and builds a new validator each time (~25 ms per call, one
or two calls per turn). Here the validator is built once; valid answers pass and invalid ones
raise the same best-match `ValidationError` as before.

SQLite tracker stores also paid for a new connection and two fsyncs per save (Rasa opens SQLite
without a pool; rollback journal, `synchronous=FULL`) and locked the whole file against other
Rasa processes. Here the SQLite engine keeps a small pool of connections in WAL mode with
`synchronous=NORMAL` (durable across process crashes; a power cut can lose the last turns), so
commits do not fsync and several Rasa processes can share one tracker file. (WAL without the
pool would be slower still: closing the last connection checkpoints the file.)

TensorFlow runs with one intra-op and one inter-op thread unless `TF_INTRA_OP_PARALLELISM_THREADS`
/ `TF_INTER_OP_PARALLELISM_THREADS` say otherwise: a turn's tensors are tiny (batch of one), so
thread pools only add hand-offs, and with one Rasa process per core they would fight each other
(measured: 59 -> 50 ms CPU per turn).

JAX is never imported: TensorFlow 2.12 imports it at start-up only for an optional TFLite
converter entry point (`tensorflow/lite/python/util.py`, inside `try/except ImportError`), which
Rasa never calls. TensorFlow's package requires it (so it stays installed), and importing it
costs ~100 MB resident per Rasa process (bench/README.md, "Memory"). A finder at the front of
`sys.meta_path` answers `ModuleNotFoundError` for `jax`/`jaxlib`, as if they were not
installed, so TensorFlow takes its own fallback. It must be in place before TensorFlow is
imported; in a process that already imported JAX it changes nothing.

The validator and the SQLite engine replace Rasa functions; when a Rasa upgrade removes one,
`install()` stops the start (`PatchTargetMissing`) instead of running on silently without it.
"""

from __future__ import annotations

import importlib.abc
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from functools import lru_cache
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

TF_THREADS = {"TF_INTRA_OP_PARALLELISM_THREADS": "1", "TF_INTER_OP_PARALLELISM_THREADS": "1"}
SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=10000")
UNUSED_PACKAGES = ("jax", "jaxlib")  # imported by TensorFlow at start-up, never used by Rasa


class UnusedPackageBlocker(importlib.abc.MetaPathFinder):
    """Makes `import jax` fail as if JAX were not installed (TensorFlow then skips it)."""

    def __init__(self, packages: Sequence[str] = UNUSED_PACKAGES) -> None:
        self.packages = frozenset(packages)

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname.partition(".")[0] in self.packages:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not loaded in the Rasa server: "
                                      "unused, ~100 MB resident)", name=fullname)
        return None


def block_unused_packages(packages: Sequence[str] = UNUSED_PACKAGES) -> str:
    """Put an `UnusedPackageBlocker` first on `sys.meta_path` unless one is there or a package is
    already imported (blocking later would only break its lazy submodule imports)."""
    loaded = [name for name in packages if name in sys.modules]
    if loaded:
        return f"{', '.join(loaded)} already imported, not blocked"
    if not any(isinstance(finder, UnusedPackageBlocker) for finder in sys.meta_path):
        sys.meta_path.insert(0, UnusedPackageBlocker(packages))
    return f"{', '.join(packages)} not imported"


@lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    spec = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(spec)
    cls.check_schema(spec)
    return cls(spec)


def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """Rasa 3.6's `RemoteAction._validate_action_result`, with the validator built once."""
    from jsonschema import exceptions
    from rasa.shared.constants import DOCS_BASE_URL

    error = exceptions.best_match(_action_response_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()


def _engine_kwargs_with_sqlite_pool(original: Any) -> Any:
    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        kwargs = original(url)
        if str(url).startswith("sqlite") and ":memory:" not in str(url) and "poolclass" not in kwargs:
            from sqlalchemy.pool import QueuePool

            kwargs = {**kwargs, "poolclass": QueuePool, "pool_size": 2, "max_overflow": 4,
                      "connect_args": {**kwargs.get("connect_args", {}), "check_same_thread": False}}
        return kwargs

    create_engine_kwargs.__wrapped__ = original  # type: ignore[attr-defined]
    return create_engine_kwargs


class PatchTargetMissing(RuntimeError):
    """A Rasa function a speed-up replaces is gone (a Rasa upgrade): refuse to start rather
    than run silently without it."""


def _require(owner: Any, *names: str) -> None:
    for name in names:
        if not hasattr(owner, name):
            from rasa import __version__

            raise PatchTargetMissing(
                f"bot.rasa_server: {getattr(owner, '__name__', owner)}.{name} does not exist in Rasa "
                f"{__version__}; port the speed-up to this version or remove it")


def install() -> list[str]:
    """Apply the speed-ups to this process; returns what was applied. Raises
    `PatchTargetMissing` when Rasa lacks a function one of them replaces."""
    applied = [block_unused_packages()]  # before anything below imports TensorFlow
    for name, value in TF_THREADS.items():  # read by Rasa when it sets TensorFlow up
        os.environ.setdefault(name, value)
    applied.append("TensorFlow threads intra {} / inter {}".format(
        os.environ["TF_INTRA_OP_PARALLELISM_THREADS"], os.environ["TF_INTER_OP_PARALLELISM_THREADS"]))
    from rasa.core import tracker_store
    from rasa.core.actions.action import RemoteAction
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _require(RemoteAction, "_validate_action_result", "action_response_format_spec")
    _require(tracker_store, "create_engine_kwargs", "SQLTrackerStore")
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    applied.append("cached action-response validator")
    if not hasattr(tracker_store.create_engine_kwargs, "__wrapped__"):
        tracker_store.create_engine_kwargs = _engine_kwargs_with_sqlite_pool(tracker_store.create_engine_kwargs)
    if not event.contains(Engine, "connect", _sqlite_on_connect):
        event.listen(Engine, "connect", _sqlite_on_connect)
    applied.append("pooled sqlite trackers, WAL, synchronous=NORMAL")
    return applied


def main(argv: list[str] | None = None) -> None:
    """Run Rasa's command line (`rasa run ...`) in this process after `install()`."""
    applied = install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    log.info("rasa speed-ups: %s", ", ".join(applied))
    rasa_main()


if __name__ == "__main__":
    main()
