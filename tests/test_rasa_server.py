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
    from rasa.core.policies.ted_policy import TEDPolicy
    from rasa.core.processor import MessageProcessor
    from rasa.engine.runner.dask import DaskGraphRunner
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))  # drops the JAX blocker afterwards
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    monkeypatch.setattr(MessageProcessor, "_parse_message_with_graph", MessageProcessor._parse_message_with_graph)
    monkeypatch.setattr(TEDPolicy, "predict_action_probabilities", TEDPolicy.predict_action_probabilities)
    monkeypatch.setattr(DaskGraphRunner, "__init__", DaskGraphRunner.__init__)
    monkeypatch.setattr(DaskGraphRunner, "run", DaskGraphRunner.run)
    monkeypatch.setattr(tracker_store.SQLTrackerStore, "_retrieve", tracker_store.SQLTrackerStore._retrieve)
    monkeypatch.setattr(tracker_store.SQLTrackerStore, "_additional_events",
                        tracker_store.SQLTrackerStore._additional_events)
    from rasa.shared.core.domain import Domain

    monkeypatch.setattr(Domain, "states_for_tracker_history", Domain.states_for_tracker_history)
    monkeypatch.setattr(tracker_store, "create_engine_kwargs", tracker_store.create_engine_kwargs)
    from rasa.utils.tensorflow.models import RasaModel

    monkeypatch.setattr(RasaModel, "load", RasaModel.__dict__["load"])
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
    assert len(applied) == 9
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
    ("rasa.core.processor:MessageProcessor", "_parse_message_with_graph"),
    ("rasa.engine.runner.dask:DaskGraphRunner", "_build_dask_graph"),
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
    """The shipped model loaded by the launcher (JAX blocked, models built for inference only)
    and by stock Rasa: JAX is only in the stock process, and 150 held-out messages parse the same (intent ranking, confidences
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
    assert "models loaded for inference only" in launcher["applied"]
    assert len(launcher["parses"]) == len(texts)
    for text, a, b in zip(texts, stock["parses"], launcher["parses"], strict=True):
        assert _rounded(a) == _rounded(b), text
    print(f"resident after load: stock {stock['rss_after_load_mb']} MB, "
          f"launcher {launcher['rss_after_load_mb']} MB")


def _prediction(confidence: float, priority: int, *, no_user: bool = False) -> Any:
    from rasa.core.policies.policy import PolicyPrediction

    return PolicyPrediction([0.0, confidence], "P", priority, is_no_user_prediction=no_user)


def _tracker(*events: Any) -> Any:
    from rasa.shared.core.trackers import DialogueStateTracker

    return DialogueStateTracker.from_events("t", list(events))


@pytest.mark.parametrize(("others", "expected"), [
    ([_prediction(1.0, 6)], True),                      # a rule is certain: TED cannot win
    ([_prediction(1.0, 3), _prediction(0.0, 6)], True),  # memoized story certain
    ([_prediction(0.99, 6)], False),                     # nobody certain: TED may be best
    ([_prediction(1.0, 1)], False),                      # same priority: TED would tie first
    ([_prediction(0.2, 6, no_user=True)], True),         # loop's "no user" prediction overrules
    ([], False),
])
def test_ted_is_skipped_only_when_it_cannot_win(others: list, expected: bool) -> None:
    from rasa.shared.core.events import ActionExecuted, UserUttered

    tracker = _tracker(ActionExecuted("action_listen"), UserUttered("hi", {"name": "greet"}))
    assert rasa_server.ted_cannot_win(others, 1, tracker) is expected


def test_ted_runs_after_a_rejected_action() -> None:
    """The ensemble zeroes a rejected action in every prediction, so a certain rule may lose."""
    from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected

    tracker = _tracker(ActionExecuted("action_listen"), ActionExecutionRejected("some_form"))
    assert rasa_server.ted_cannot_win([_prediction(1.0, 6)], 1, tracker) is False


def test_parse_cache_is_an_lru_of_copies() -> None:
    cache = rasa_server.ParseCache(2)
    parse = {"text": "你好", "intent": {"name": "greet"}}
    cache.put("你好", parse)
    parse["intent"]["name"] = "changed by the caller"
    hit = cache.get("你好")
    assert hit == {"text": "你好", "intent": {"name": "greet"}}
    hit["intent"]["name"] = "changed again"
    cache.put("谢谢", {"text": "谢谢"})
    cache.put("在吗", {"text": "在吗"})  # evicts the least recently used
    assert cache.get("你好") is None and cache.get("谢谢") == {"text": "谢谢"}
    assert (cache.hits, cache.misses) == (2, 1)


def _story_prefixes(domain: Any) -> list[tuple[str, list]]:
    """Every point of tests/test_stories.yml where the bot predicts an action."""
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

    steps = YAMLStoryReader(domain).read_from_file(str(Path(__file__).parent / "test_stories.yml"))
    prefixes = []
    for step in steps:
        events = [ActionExecuted("action_listen")]
        for event in step.events:
            if isinstance(event, ActionExecuted):
                prefixes.append((f"{step.block_name} before {event.action_name}", list(events)))
            events.append(event)
    return prefixes


def _predict_all(model: Path) -> tuple[list[tuple[str, str, float]], Any]:
    import asyncio

    from rasa.core.agent import Agent
    from rasa.shared.core.trackers import DialogueStateTracker

    agent = Agent.load(str(model))
    processor = agent.processor
    out = []
    for name, events in _story_prefixes(processor.domain):
        tracker = DialogueStateTracker.from_events("story", events, slots=processor.domain.slots)
        prediction = processor._predict_next_with_tracker(tracker)
        action = processor.domain.action_names_or_texts[prediction.max_confidence_index]
        out.append((name, action, prediction.policy_name, round(prediction.max_confidence, 6)))
    first = asyncio.run(processor.parse_message(_user_message("我的退款什么时候到账")))
    again = asyncio.run(processor.parse_message(_user_message("我的退款什么时候到账")))
    assert first == again
    return out, processor


def _user_message(text: str) -> Any:
    from rasa.core.channels.channel import UserMessage

    return UserMessage(text, sender_id="cache-check")


@pytest.mark.slow
def test_turn_savers_leave_every_prediction_unchanged(trained_model: Path, undo_install: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The test stories predicted by stock Rasa and with the parse cache, lazy TED and cached
    graph plans: the same action, policy and confidence at every step; TED really skipped on
    some steps and a repeated message really served from the cache."""
    from rasa.core.policies.ted_policy import TEDPolicy

    stock, _ = _predict_all(trained_model)
    rasa_server.install()
    calls = {"ted": 0}
    inner = TEDPolicy.predict_action_probabilities.__wrapped__

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["ted"] += 1
        return inner(self, *args, **kwargs)

    monkeypatch.setattr(TEDPolicy, "predict_action_probabilities", rasa_server._lazy_ted(counting))
    faster, processor = _predict_all(trained_model)
    assert faster == stock
    assert 0 < calls["ted"] < len(stock) / 2, calls  # run where nothing else was certain
    assert processor._parse_cache.hits == 1


@pytest.mark.parametrize(("result", "valid"), [(r, True) for r in GOOD] + [(r, False) for r in BAD])
def test_the_compiled_fast_check_agrees_with_rasas_schema(result: dict, valid: bool) -> None:
    """The fast path only ever says "valid"; it must say so exactly when Rasa's schema does."""
    fast = rasa_server._fast_action_response_check()
    assert fast is not None
    assert fast.is_valid(result) is valid is (_stock(result) is None)


def test_sql_trackers_read_incrementally_give_what_rasa_reads(tmp_path: Path, undo_install: None) -> None:
    """A conversation read through the incremental cache equals Rasa's own full read after
    every change: turns saved by this process, rows written by another process, a new session
    (only the latest one comes back) and a cached row that disappeared (read again)."""
    import asyncio

    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.from_path(str(ROOT / "domain.yml"))
    stock_retrieve = SQLTrackerStore._retrieve
    rasa_server.install()
    db = str(tmp_path / "trackers.db")
    ours, other = SQLTrackerStore(domain, dialect="sqlite", db=db), SQLTrackerStore(domain, dialect="sqlite", db=db)

    def turn(n: int) -> list:
        return [UserUttered(f"第{n}句", {"name": "greet", "confidence": 1.0}, timestamp=100.0 + n),
                ActionExecuted("utter_greet", timestamp=100.2 + n),
                SlotSet("order_id", f"20250618000{n:02d}", timestamp=100.3 + n),
                ActionExecuted("action_listen", timestamp=100.4 + n)]

    async def check(store: SQLTrackerStore) -> list:
        with store.engine.connect() as conn:  # every event stored once, none lost
            stored = conn.exec_driver_sql("SELECT count(*) FROM events WHERE sender_id = 'c1'").scalar()
        assert stored == len([e for e in tracker.events]) - deleted[0]
        fast = await store.retrieve("c1")
        slow = await stock_retrieve(store, "c1", False)
        assert [e.as_dict() for e in fast.events] == [e.as_dict() for e in slow.events]
        assert fast.current_slot_values() == slow.current_slot_values()
        return list(fast.events)

    tracker = DialogueStateTracker.from_events("c1", [ActionExecuted("action_listen", timestamp=100.0)],
                                               domain.slots)
    deleted = [0]

    async def scenario() -> None:
        assert await ours.retrieve("c1") is None
        for n in range(1, 4):
            for event in turn(n):
                tracker.update(event)
            await ours.save(tracker)
            assert len(await check(ours)) == 1 + 4 * n
        for event in turn(4):  # another process answers the next turn
            tracker.update(event)
        await other.save(tracker)
        assert len(await check(ours)) == 17
        for event in [ActionExecuted("action_session_start", timestamp=200.0), SessionStarted(timestamp=200.1),
                      SlotSet("order_id", "2025061800004", timestamp=200.2),
                      ActionExecuted("action_listen", timestamp=200.3), *turn(150)]:
            tracker.update(event)
        await ours.save(tracker)
        events = await check(ours)
        assert isinstance(events[0], SessionStarted) and len(events) == 7
        assert len(ours._session_cache["c1"].rows) == 7
        with ours.engine.begin() as conn:  # the cached last row disappears
            conn.exec_driver_sql("DELETE FROM events WHERE id = (SELECT max(id) FROM events)")
        deleted[0] = 1
        assert len(await check(ours)) == 6

    try:
        asyncio.run(scenario())
    finally:
        ours.engine.dispose()
        other.engine.dispose()


def test_dialogue_states_resumed_equal_rasas_own(undo_install: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test story grown turn by turn as a conversation is (the same event objects, the
    last turn re-read as new objects, an undone user message, an unrelated conversation under
    the same id): the resumed states equal Rasa's for every option the policies use."""
    import copy

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, UserUtteranceReverted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.from_path(str(ROOT / "domain.yml"))
    stock = Domain.states_for_tracker_history
    rasa_server.install()
    reused: list[int] = []
    count_steps = rasa_server.StatesRun.reusable_steps
    monkeypatch.setattr(rasa_server.StatesRun, "reusable_steps",
                        lambda run, events: reused.append(count_steps(run, events)) or reused[-1])
    rule_only = {"slots": [domain.slots[0].name], "loops": list(domain.form_names[:1])}
    options = [dict(omit_unset_slots=o, ignore_rule_only_turns=i, rule_only_data=r)
               for o in (False, True) for i, r in ((False, None), (True, rule_only))]
    stories = [events for _, events in _story_prefixes(domain)]
    checked = 0
    for events in stories:
        for cut in range(1, len(events) + 1):
            grown = list(events[:cut])
            if cut > 2:  # the last event re-read from the database: a new object
                grown[-1] = copy.deepcopy(grown[-1])
            if cut % 5 == 0:  # the customer's last message undone
                grown += [UserUttered("不对", {"name": "deny", "confidence": 1.0}), UserUtteranceReverted(),
                          ActionExecuted("action_listen")]
            tracker = DialogueStateTracker.from_events("same-id", grown, domain.slots)
            for kwargs in options:  # RulePolicy passes an equal, new rule_only_data each time
                kwargs = {**kwargs, "rule_only_data": copy.deepcopy(kwargs["rule_only_data"])}
                ours = tracker.past_states(domain, **kwargs)
                assert ours == stock(domain, tracker, **kwargs), (cut, kwargs)
                checked += 1
    assert checked > 500
    assert sum(1 for n in reused if n > 0) > checked / 2  # most runs resumed
    runs = Domain.states_for_tracker_history.runs
    assert runs and all(run.steps for run in runs.values())
