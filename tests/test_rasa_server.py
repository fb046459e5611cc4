"""The Rasa launcher's speed-ups keep Rasa's behaviour: the same action answers pass or fail
validation, SQLite tracker engines get a pool, JAX is not imported while every parse stays the
same, and RASA_WORKERS is read strictly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import ValidationError, validate

from bot import rasa_server
from bot.stack import ROOT, rasa_workers

GOOD = [
    {"events": [{"event": "slot", "name": "order_id", "value": "2025061800004", "timestamp": None}],
     "responses": [{"text": "好的", "buttons": [{"title": "是", "payload": "/affirm"}]}]},
    {"events": [], "responses": []},
    {},
]
BAD = [
    {"events": [{"name": "no event type"}], "responses": []},
    {"events": "not a list"},
    {"events": [{"event": "slot", "name": "x", "timestamp": "yesterday"}]},
]


def _stock(result: dict) -> str | None:
    from rasa.core.actions.action import RemoteAction

    try:
        validate(result, RemoteAction.action_response_format_spec())
    except ValidationError as exc:
        return exc.message
    return None


@pytest.mark.parametrize("result", GOOD)
def test_valid_action_answers_pass(result: dict) -> None:
    assert _stock(result) is None
    assert rasa_server.validate_action_result(None, result) is True


@pytest.mark.parametrize("result", BAD)
def test_invalid_action_answers_fail_with_the_same_error(result: dict) -> None:
    expected = _stock(result)
    assert expected is not None
    with pytest.raises(ValidationError) as info:
        rasa_server.validate_action_result(None, result)
    assert info.value.message.startswith(expected)
    assert "custom-actions" in info.value.message


def test_sqlite_tracker_engines_get_a_pool_and_postgres_keeps_rasas_settings() -> None:
    from rasa.core import tracker_store

    wrapped = rasa_server._engine_kwargs_with_sqlite_pool(tracker_store.create_engine_kwargs)
    kwargs = wrapped("sqlite:////tmp/trackers.db")
    assert kwargs["pool_size"] >= 1 and kwargs["connect_args"]["check_same_thread"] is False
    assert wrapped("sqlite:///:memory:") == {}
    pg = "postgresql://u@127.0.0.1:5432/rasa"
    assert wrapped(pg) == tracker_store.create_engine_kwargs(pg)


def test_rasa_workers_from_the_environment() -> None:
    assert rasa_workers({}) == 1
    assert rasa_workers({"RASA_WORKERS": "3"}) == 3
    with pytest.raises(ValueError):
        rasa_workers({"RASA_WORKERS": "0"})
    with pytest.raises(ValueError):
        rasa_workers({"RASA_WORKERS": "two"})


@pytest.fixture
def undo_install(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`install()` changes this process for good; the other tests must see stock Rasa."""
    from rasa.core import tracker_store
    from rasa.core.actions.action import RemoteAction
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))  # drops the JAX blocker afterwards
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    monkeypatch.setattr(tracker_store, "create_engine_kwargs", tracker_store.create_engine_kwargs)
    for name in rasa_server.TF_THREADS:
        monkeypatch.delenv(name, raising=False)
    yield
    if event.contains(Engine, "connect", rasa_server._sqlite_on_connect):
        event.remove(Engine, "connect", rasa_server._sqlite_on_connect)


def test_each_speed_up_is_installed_and_used_by_rasa(tmp_path: Path, undo_install: None) -> None:
    """After `install()` Rasa calls the cached validator, and a SQL tracker store on SQLite gets
    a pooled WAL engine: the patches reach the code paths Rasa really runs."""
    from rasa.core import tracker_store
    from rasa.core.actions.action import RemoteAction
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import QueuePool

    applied = rasa_server.install()
    assert len(applied) == 4
    assert RemoteAction._validate_action_result is rasa_server.validate_action_result
    assert hasattr(tracker_store.create_engine_kwargs, "__wrapped__")
    assert event.contains(Engine, "connect", rasa_server._sqlite_on_connect)
    store = tracker_store.SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "trackers.db"))
    try:
        assert isinstance(store.engine.pool, QueuePool)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        store.engine.dispose()
    assert rasa_server.install() == applied  # idempotent: nothing wrapped twice
    assert not hasattr(tracker_store.create_engine_kwargs.__wrapped__, "__wrapped__")


@pytest.mark.parametrize(("module", "name"), [
    ("rasa.core.actions.action:RemoteAction", "_validate_action_result"),
    ("rasa.core.actions.action:RemoteAction", "action_response_format_spec"),
    ("rasa.core.tracker_store", "create_engine_kwargs"),
])
def test_a_missing_patch_target_stops_the_start(monkeypatch: pytest.MonkeyPatch, undo_install: None,
                                                module: str, name: str) -> None:
    import importlib

    path, _, attr = module.partition(":")
    owner = importlib.import_module(path)
    owner = getattr(owner, attr) if attr else owner
    monkeypatch.delattr(owner, name)
    with pytest.raises(rasa_server.PatchTargetMissing, match=name):
        rasa_server.install()


BLOCK_PROBE = """
import importlib, json, sys
from bot.rasa_server import block_unused_packages
first = block_unused_packages()
again = block_unused_packages()
out = {"first": first, "again": again, "blockers": sum(type(f).__name__ == "UnusedPackageBlocker"
                                                       for f in sys.meta_path)}
for name in ("jax", "jaxlib", "jax.numpy"):
    try:
        importlib.import_module(name)
        out[name] = "imported"
    except ModuleNotFoundError as exc:
        out[name] = exc.name
import tensorflow as tf
from tensorflow.lite.python import util
out["tf_xla_computation"] = util._xla_computation is None
out["tf_works"] = float(tf.reduce_sum(tf.constant([1.0, 2.0])).numpy())
out["jax_loaded"] = sorted(m for m in sys.modules if m.partition(".")[0] in ("jax", "jaxlib"))
print(json.dumps(out))
"""


def test_jax_looks_uninstalled_and_tensorflow_takes_its_fallback() -> None:
    """TensorFlow imports JAX only inside `try/except ImportError`; blocked, it keeps
    `_xla_computation = None` and works; the blocker goes in once."""
    proc = subprocess.run([sys.executable, "-c", BLOCK_PROBE], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["first"] == out["again"] == "jax, jaxlib not imported"
    assert out["blockers"] == 1
    assert (out["jax"], out["jaxlib"], out["jax.numpy"]) == ("jax", "jaxlib", "jax")  # the parent fails first
    assert out["tf_xla_computation"] is True and out["tf_works"] == 3.0
    assert out["jax_loaded"] == []


def test_already_imported_packages_are_not_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setitem(sys.modules, "fake_unused_pkg", object())
    assert rasa_server.block_unused_packages(("fake_unused_pkg",)) == "fake_unused_pkg already imported, not blocked"
    assert not any(isinstance(f, rasa_server.UnusedPackageBlocker) for f in sys.meta_path)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


@pytest.mark.slow
def test_model_loads_without_jax_and_parses_identically(trained_model: Path) -> None:
    """The shipped model loaded by the launcher (JAX blocked) and by stock Rasa: JAX is only in
    the stock process, and 150 held-out messages parse the same (intent ranking, confidences
    to 6 decimals, entities, FAQ key, emotion, speech act, scope)."""
    from bench.cost import probe_both

    rows = [line.split("\t")[0] for line in
            (Path(__file__).parent / "data" / "nlu_test.tsv").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    texts = rows[:150]
    both = probe_both(trained_model, texts)
    stock, launcher = both["stock"], both["launcher"]
    assert "error" not in stock and "error" not in launcher, (stock.get("error"), launcher.get("error"))
    assert stock["jax_imported"] is True  # the lever is real: stock TensorFlow imports it
    assert launcher["jax_imported"] is False
    assert launcher["applied"][0] == "jax, jaxlib not imported"
    assert len(launcher["parses"]) == len(texts)
    for text, a, b in zip(texts, stock["parses"], launcher["parses"], strict=True):
        assert _rounded(a) == _rounded(b), text
    print(f"resident after load: stock {stock['rss_after_load_mb']} MB, "
          f"launcher {launcher['rss_after_load_mb']} MB")
