"""The Rasa launcher's speed-ups keep Rasa's behaviour: the same action answers pass or fail
validation, SQLite tracker engines get a pool, and RASA_WORKERS is read strictly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import ValidationError, validate

from bot import rasa_server
from bot.stack import rasa_workers

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
    assert len(applied) == 3
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
