"""The Rasa launcher's speed-ups keep Rasa's behaviour: the same action answers pass or fail
validation, SQLite tracker engines get a pool, and RASA_WORKERS is read strictly."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError, validate

from bot import rasa_server
from bot.runtime import rasa_workers

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
