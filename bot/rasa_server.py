"""`rasa run` with per-process speed-ups that leave every answer unchanged.

    python -m bot.rasa_server run --enable-api --model ... --endpoints ...   # same arguments as `rasa`

Profiling the server under the load-test conversation mix (bench/README.md, "Where a turn's
time goes") showed a third of Rasa's CPU in `RemoteAction._validate_action_result`: Rasa 3.6
calls `jsonschema.validate` for every action-server answer, which re-checks the response schema
against the JSON-Schema meta-schema and builds a new validator each time (~25 ms per call, one
or two calls per turn). Here the validator is built once, and a valid answer is recognised by
the same schema compiled with jsonschema-rs (6 µs instead of 1.5 ms); an answer it does not
accept goes through the Python validator, so invalid ones raise the same best-match
`ValidationError` as before.

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

Five more cut the work of a turn, each leaving the answer exactly as stock Rasa gives it:

- **Parse cache.** Greetings, thanks and the top FAQs are most of real traffic, and the NLU
  result depends only on the text and the loaded model (no NLU component reads the tracker or
  the message metadata). Each model's processor keeps an LRU of parse results keyed by the
  exact text (`RASA_PARSE_CACHE` entries, default 4096; 0 switches it off), so a repeated
  message skips the featurizers, DIET, the response selector and our components. A hit is a
  deep copy: Rasa edits the parse it gets.
- **TED only when it can win.** The policy ensemble picks the most confident prediction and,
  on a tie, the higher priority. TED has the lowest priority, so when a rule, the memoized
  stories or our guard is already certain (confidence 1.0), TED's 14 ms cannot change the
  answer. The TED node is given the other policies' predictions as inputs and returns Rasa's
  own "no prediction" (all zeros) in that case. It still runs after a rejected action
  (the ensemble then zeroes that action's confidence in every prediction) and whenever no
  other policy is certain.
- **Trackers read incrementally.** Rasa's SQL tracker store reads, JSON-decodes and rebuilds
  every event of the session on every turn; at turn 200 of one conversation that was most of
  the turn. Each process keeps the latest session's events of its `RASA_TRACKER_CACHE` most
  recent conversations (default 256) and reads only the rows written after the last one it
  has, so other processes' writes are seen; the session boundary follows Rasa's own rule.
  Saving no longer counts the session's rows when the conversation's newest row is still the
  one this process read last.
- **Dialogue states resumed.** RulePolicy and MemoizationPolicy rebuild the state of every
  earlier step of the conversation at each prediction (`Domain.states_for_tracker_history`),
  so a turn's cost grew with the conversation. The previous run per conversation and option
  set is kept (`RASA_STATES_CACHE` runs, default 512); steps whose events are the very same
  event objects (the incremental tracker read keeps them) take their states from it, the
  rest are computed as Rasa does.
- **Graph plans built once.** Rasa rebuilds the minimal sub-graph for the NLU and the core
  target on every call; it is a pure function of the model's schema and the targets, so each
  runner keeps it.

One more cuts a process's memory and start-up: **models loaded for inference only.** Rasa builds
each TensorFlow model (DIET, the response selector, TED) by training it on one example before
reading the checkpoint, which traces the training graph and creates the optimizer's state; here
one prediction creates the weights instead (resident after load ~1.6 GB -> ~1.0 GB, load
31 -> 15 s; every parse of the evaluation files identical, bench/README.md "Memory").

`RASA_TURN_SAVERS=0` leaves these six out (to measure them against stock in one run).

The validator and the SQLite engine replace Rasa functions; when a Rasa upgrade removes one,
`install()` stops the start (`PatchTargetMissing`) instead of running on silently without it.
"""

from __future__ import annotations

import importlib.abc
import json
import logging
import os
import sqlite3
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

TF_THREADS = {"TF_INTRA_OP_PARALLELISM_THREADS": "1", "TF_INTER_OP_PARALLELISM_THREADS": "1"}
# oneDNN (TensorFlow's matrix kernels, used even with TF_ENABLE_ONEDNN_OPTS=0) picks its code by
# the CPU it finds: AVX-512 and AVX2 kernels sum in another order, so two machines would train and
# serve slightly different models from the same data and seeds. Every x86-64 server here has AVX2.
SAME_KERNELS = {"ONEDNN_MAX_CPU_ISA": "AVX2"}
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


@lru_cache(maxsize=1)
def _fast_action_response_check() -> Any:
    """The same schema compiled by jsonschema-rs (Rust, ~250x faster): it only says "valid";
    anything else goes through the Python validator, which gives Rasa's own error."""
    try:
        import jsonschema_rs
        from rasa.core.actions.action import RemoteAction

        return jsonschema_rs.validator_for(RemoteAction.action_response_format_spec())
    except Exception:  # noqa: BLE001 - without it the Python validator does all the work
        log.warning("jsonschema-rs unavailable: action answers checked by jsonschema alone")
        return None


def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """Rasa 3.6's `RemoteAction._validate_action_result`, with the validator built once and a
    compiled fast path for valid answers."""
    fast = _fast_action_response_check()
    if fast is not None and fast.is_valid(result):
        return True
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


PARSE_CACHE_ENV = "RASA_PARSE_CACHE"
TURN_SAVERS_ENV = "RASA_TURN_SAVERS"  # "0": none of the turn savers below (for before/after benches)
DECIDED_BY = "_decided_by_"  # input names of the other policies' predictions given to TED


class BoundedLru(OrderedDict):
    """An ordered dict that keeps only its `size` most recently put keys (the turn savers'
    caches: parses, conversations' events, dialogue-state runs)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class ParseCache:
    """A small LRU of parse results by exact text, handing out copies."""

    def __init__(self, size: int) -> None:
        self._items: BoundedLru = BoundedLru(size)
        self.hits = self.misses = 0

    def get(self, text: str) -> dict[str, Any] | None:
        item = self._items.get(text)
        if item is None:
            self.misses += 1
            return None
        self._items.move_to_end(text)
        self.hits += 1
        return deepcopy(item)

    def put(self, text: str, parse: dict[str, Any]) -> None:
        self._items.put(text, deepcopy(parse))


def _env_int(name: str, default: int) -> int:
    try:
        return max(0, int(os.environ.get(name, str(default))))
    except ValueError:
        return default


def parse_cache_size() -> int:
    return _env_int(PARSE_CACHE_ENV, 4096)


def _cached_parse(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    size = parse_cache_size()

    def parse_message_with_graph(self: Any, message: Any, tracker: Any,
                                 only_output_properties: bool = True) -> dict[str, Any]:
        """`MessageProcessor._parse_message_with_graph` through the processor's parse cache
        (only for the output properties: the full message also carries id and metadata)."""
        text = message.text
        if not only_output_properties or not isinstance(text, str) or size == 0:
            return original(self, message, tracker, only_output_properties)
        cache = self.__dict__.get("_parse_cache")
        if cache is None:
            cache = self.__dict__["_parse_cache"] = ParseCache(size)
        hit = cache.get(text)
        if hit is not None:
            return hit
        parse = original(self, message, tracker, only_output_properties)
        cache.put(text, parse)
        return parse

    parse_message_with_graph.__wrapped__ = original  # type: ignore[attr-defined]
    return parse_message_with_graph


def ted_cannot_win(others: Sequence[Any], ted_priority: int, tracker: Any) -> bool:
    """Whether another policy's prediction beats anything TED could predict: a "no user"
    prediction, or a certain one from a policy of higher priority (the ensemble breaks ties by
    priority). Never after a rejected action, whose confidence the ensemble zeroes."""
    from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected

    for event in reversed(tracker.events):
        if isinstance(event, ActionExecutionRejected):
            return False
        if isinstance(event, ActionExecuted):
            break
    return any(p.is_no_user_prediction
               or (p.max_confidence >= 1.0 and p.policy_priority > ted_priority
                   and not p.is_end_to_end_prediction)
               for p in others)


def _lazy_ted(original: Callable[..., Any]) -> Callable[..., Any]:
    def predict_action_probabilities(self: Any, tracker: Any, domain: Any, rule_only_data: Any = None,
                                     precomputations: Any = None, **kwargs: Any) -> Any:
        """`TEDPolicy.predict_action_probabilities`, skipped when it cannot win."""
        others = [kwargs.pop(name) for name in [k for k in kwargs if k.startswith(DECIDED_BY)]]
        if others and ted_cannot_win(others, self.priority, tracker):
            return self._prediction(self._default_predictions(domain))
        return original(self, tracker, domain, rule_only_data, precomputations, **kwargs)

    predict_action_probabilities.__wrapped__ = original  # type: ignore[attr-defined]
    return predict_action_probabilities


def ted_after_other_policies(schema: Any) -> Any:
    """The predict graph with each TED node fed the other policies' predictions (the
    ensemble's other inputs), so it runs after them and can see whether it is needed."""
    from dataclasses import replace

    from rasa.core.policies.ensemble import PolicyPredictionEnsemble
    from rasa.core.policies.ted_policy import TEDPolicy
    from rasa.engine.graph import GraphSchema

    nodes = dict(schema.nodes)
    ted = {name for name, node in nodes.items()
           if isinstance(node.uses, type) and issubclass(node.uses, TEDPolicy)
           and node.fn == "predict_action_probabilities"}
    if not ted:
        return schema
    for node in list(nodes.values()):
        if not (isinstance(node.uses, type) and issubclass(node.uses, PolicyPredictionEnsemble)):
            continue
        others = [source for source in node.needs.values()
                  if source not in ted and source in nodes
                  and nodes[source].fn == "predict_action_probabilities"]
        for name in ted & set(node.needs.values()):
            extra = {f"{DECIDED_BY}{i}": source for i, source in enumerate(others)}
            nodes[name] = replace(nodes[name], needs={**nodes[name].needs, **extra})
    return GraphSchema(nodes)


TRACKER_CACHE_ENV = "RASA_TRACKER_CACHE"


@dataclass
class CachedSession:
    """The latest session's events of one conversation as this process last read them."""

    last_id: int
    session_start: float | None
    rows: list[tuple[float | None, Any]] = field(default_factory=list)  # (timestamp, event)

    def add(self, rows: Sequence[tuple[int, str, float | None, str]]) -> None:
        """Append rows (id, type, timestamp, data) read after `last_id`, keeping Rasa's rule:
        the session is what has a timestamp at or after the latest `session_started`."""
        from rasa.shared.core.events import SessionStarted, deserialise_events

        for row_id, type_name, timestamp, data in rows:
            self.last_id = row_id
            if type_name == SessionStarted.type_name and timestamp is not None:
                self.session_start = max(timestamp, self.session_start or timestamp)
            self.rows.extend((timestamp, e) for e in deserialise_events([json.loads(data)]))
        if self.session_start is not None:
            start = self.session_start
            self.rows = [(t, e) for t, e in self.rows if t is not None and t >= start]


def _cached_sql_retrieve(original: Callable[..., Any]) -> Callable[..., Any]:
    size = _env_int(TRACKER_CACHE_ENV, 256)

    async def _retrieve(self: Any, sender_id: str, fetch_events_from_all_sessions: bool) -> Any:
        """`SQLTrackerStore._retrieve` reading only the rows written since this process last
        read the conversation (a 200-turn conversation no longer re-reads and re-parses ~1,400
        events a turn). The rows after the cached last id come from the database every time, so
        writes by other processes are seen; if the cached last row is gone, it reads all again."""
        if fetch_events_from_all_sessions or size == 0 or not self.domain:
            return await original(self, sender_id, fetch_events_from_all_sessions)
        from rasa.shared.core.trackers import DialogueStateTracker

        cache = self.__dict__.setdefault("_session_cache", BoundedLru(size))
        entry: CachedSession | None = cache.get(sender_id)
        Event = self.SQLEvent
        columns = (Event.id, Event.type_name, Event.timestamp, Event.data)
        with self.session_scope() as session:
            if entry is not None:
                rows = (session.query(*columns)
                        .filter(Event.sender_id == sender_id, Event.id >= entry.last_id)
                        .order_by(Event.id).all())
                if not rows or rows[0][0] != entry.last_id:
                    entry = None
                else:
                    entry.add(rows[1:])
            if entry is None:
                rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False) \
                    .with_entities(*columns).all()
                entry = CachedSession(last_id=-1, session_start=None)
                entry.add(rows)
        if entry.last_id < 0 or not entry.rows:
            cache.pop(sender_id, None)
            return None
        cache.put(sender_id, entry)
        return DialogueStateTracker.from_events(sender_id, [e for _, e in entry.rows], self.domain.slots)

    _retrieve.__wrapped__ = original  # type: ignore[attr-defined]
    return _retrieve


def _counted_from_cache(original: Callable[..., Any]) -> Callable[..., Any]:
    def _additional_events(self: Any, session: Any, tracker: Any) -> Any:
        """`SQLTrackerStore._additional_events` without counting the session's rows when this
        process read them last (the conversation's highest id is still the cached last id):
        the count is then the cached session's length."""
        import itertools

        from sqlalchemy import func

        entry: CachedSession | None = self.__dict__.get("_session_cache", {}).get(tracker.sender_id)
        if entry is not None and entry.last_id >= 0:
            Event = self.SQLEvent
            newest = session.query(func.max(Event.id)).filter(Event.sender_id == tracker.sender_id).scalar()
            if newest == entry.last_id:
                return itertools.islice(tracker.events, len(entry.rows), len(tracker.events))
        return original(self, session, tracker)

    _additional_events.__wrapped__ = original  # type: ignore[attr-defined]
    return _additional_events


STATES_CACHE_ENV = "RASA_STATES_CACHE"


@dataclass
class StatesRun:
    """One `states_for_tracker_history` run, kept to resume the next one on the same events:
    the applied events, and before each step (a tracker before an action, then the last one)
    the event position and the loop's variables (states so far, last ML action, hidden turn)."""

    events: list[Any]
    rule_only_data: Any
    steps: list[tuple[int, int, Any, bool]] = field(default_factory=list)  # (position, n states, ml, hidden)
    states: list[dict[str, Any]] = field(default_factory=list)

    def reusable_steps(self, events: list[Any]) -> int:
        """Leading steps whose trackers and actions are the same event objects as in this run:
        a step before an action reads the events up to and including that action, the last
        step all of them."""
        same = 0
        for old, new in zip(self.events, events, strict=False):
            if old is not new:
                break
            same += 1
        reusable = 0
        for position, *_ in self.steps:
            last = position == len(self.events)
            if not (same == len(events) == len(self.events) if last else position < same):
                break
            reusable += 1
        return reusable


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    """A state with its own sub-state dicts (featurizers delete keys from them in place)."""
    return {key: dict(sub) if isinstance(sub, dict) else sub for key, sub in state.items()}


def _incremental_states(original: Callable[..., Any]) -> Callable[..., Any]:
    size = _env_int(STATES_CACHE_ENV, 512)
    runs = BoundedLru(size)

    def states_for_tracker_history(self: Any, tracker: Any, omit_unset_slots: bool = False,
                                   ignore_rule_only_turns: bool = False,
                                   rule_only_data: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rasa 3.6's `Domain.states_for_tracker_history`, resumed where the conversation's
        previous run for the same options saw the same event objects: the trackers of those
        steps are still replayed, but their states are not computed again (at turn 200 this
        was most of RulePolicy's and MemoizationPolicy's time)."""
        from rasa.shared.core.constants import PREVIOUS_ACTION
        from rasa.shared.core.events import ActionExecuted

        if size == 0:
            return original(self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        key = (tracker.sender_id, id(self), omit_unset_slots, ignore_rule_only_turns)
        events = tracker.applied_events()
        previous = runs.get(key)
        if previous is not None and previous.rule_only_data != rule_only_data:
            previous = None  # RulePolicy builds an equal dict per call: compared by value
        reuse = previous.reusable_steps(events) if previous is not None else 0
        run = StatesRun(events=events, rule_only_data=deepcopy(rule_only_data) if previous is None
                        else previous.rule_only_data)
        if reuse:
            run.steps = previous.steps[:reuse]
            run.states = previous.states[:previous.steps[reuse - 1][1]]
        states: list[dict[str, Any]] = [_copy_state(s) for s in run.states]
        last_ml_action_sub_state: Any = None
        turn_was_hidden = False

        def step(position: int, tr: Any, hide_rule_turn: bool) -> None:
            nonlocal last_ml_action_sub_state, turn_was_hidden
            if ignore_rule_only_turns:
                if not turn_was_hidden:
                    last_ml_action_sub_state = self._get_prev_action_sub_state(tr)
                if not tr.followup_action and not tr.latest_action_name == tr.active_loop_name:
                    turn_was_hidden = hide_rule_turn
                if turn_was_hidden:
                    run.steps.append((position, len(states), last_ml_action_sub_state, turn_was_hidden))
                    return
            state = self.get_active_state(tr, omit_unset_slots=omit_unset_slots)
            if ignore_rule_only_turns:
                self._remove_rule_only_features(state, rule_only_data)
                if states:
                    self._substitute_rule_only_user_input(state, states[-1])
                if last_ml_action_sub_state:
                    state[PREVIOUS_ACTION] = last_ml_action_sub_state
            states.append(self._clean_state(state))
            run.states.append(_copy_state(states[-1]))
            run.steps.append((position, len(states), last_ml_action_sub_state, turn_was_hidden))

        if reuse:
            _, _, last_ml_action_sub_state, turn_was_hidden = run.steps[-1]
        tr = tracker.init_copy()
        done = 0
        for position, event in enumerate(events):
            if isinstance(event, ActionExecuted):
                if done < reuse:
                    done += 1
                else:
                    step(position, tr, event.hide_rule_turn)
            tr.update(event)
        if done == reuse:  # the last step, unless the events are all the same as last time
            step(len(events), tr, False)
        runs.put(key, run)
        return states

    states_for_tracker_history.__wrapped__ = original  # type: ignore[attr-defined]
    states_for_tracker_history.runs = runs  # type: ignore[attr-defined]
    return states_for_tracker_history


def _runner_with_plans(original_init: Callable[..., None]) -> Callable[..., None]:
    def __init__(self: Any, graph_schema: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, ted_after_other_policies(graph_schema), *args, **kwargs)

    __init__.__wrapped__ = original_init  # type: ignore[attr-defined]
    return __init__


def run_graph(self: Any, inputs: dict[str, Any] | None = None,
              targets: list[str] | None = None) -> dict[str, Any]:
    """`DaskGraphRunner.run` with the minimal graph for the targets built once per runner."""
    import dask
    from rasa.engine.exceptions import GraphRunError

    run_targets = targets if targets else self._graph_schema.target_names
    plans = self.__dict__.setdefault("_plans", {})
    plan = plans.get(tuple(run_targets))
    if plan is None:
        plan = plans[tuple(run_targets)] = self._build_dask_graph(
            self._graph_schema.minimal_graph_schema(run_targets))
    graph = dict(plan)
    if inputs:
        self._add_inputs_to_graph(inputs, graph)
    try:
        return dict(dask.get(graph, run_targets))
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e


def _inference_only_load(original: Callable[..., Any]) -> Callable[..., Any]:
    """`RasaModel.load` without the training step Rasa runs to create the weights.

    Rasa builds a loaded model by fitting it on one example (traced training graph, gradients,
    Adam slots) and then reads the checkpoint; most of a Rasa process's memory is that graph.
    Here one prediction creates every weight a prediction uses, the checkpoint fills them (the
    optimizer's and training-only weights stay on disk), and the prediction state made with the
    random weights (the cached label embeddings, the traced predict function holding them) is
    dropped, so the first real prediction prepares it from the loaded weights as Rasa's own
    load does. Fine-tuning, and a model without a prediction example, load Rasa's way."""
    def load(cls: Any, model_file_name: str, model_data_example: Any, predict_data_example: Any = None,
             finetune_mode: bool = False, *args: Any, **kwargs: Any) -> Any:
        if finetune_mode or predict_data_example is None:
            return original.__func__(cls, model_file_name, model_data_example, predict_data_example,
                                     finetune_mode, *args, **kwargs)
        model = cls(*args, **kwargs)
        model.run_inference(predict_data_example)
        model.load_weights(model_file_name).expect_partial()
        model.prepared_for_prediction = False
        model._tf_predict_step = None
        model.run_inference(predict_data_example)  # trace with the loaded weights, as Rasa does
        return model

    load.__wrapped__ = original  # type: ignore[attr-defined]
    return classmethod(load)


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
    for name, value in {**TF_THREADS, **SAME_KERNELS}.items():  # read when TensorFlow is set up
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
    if os.environ.get(TURN_SAVERS_ENV, "1") != "0":
        applied.extend(_install_turn_savers())
    return applied


def _install_turn_savers() -> list[str]:
    from rasa.core.policies.ted_policy import TEDPolicy
    from rasa.core.processor import MessageProcessor
    from rasa.engine.runner.dask import DaskGraphRunner

    _require(MessageProcessor, "_parse_message_with_graph")
    _require(DaskGraphRunner, "_build_dask_graph", "_add_inputs_to_graph", "run")
    _require(TEDPolicy, "predict_action_probabilities", "_default_predictions", "_prediction")
    applied = []
    if not hasattr(MessageProcessor._parse_message_with_graph, "__wrapped__"):
        MessageProcessor._parse_message_with_graph = _cached_parse(  # type: ignore[method-assign]
            MessageProcessor._parse_message_with_graph)
    applied.append(f"parse cache ({parse_cache_size()} texts)")
    if not hasattr(TEDPolicy.predict_action_probabilities, "__wrapped__"):
        TEDPolicy.predict_action_probabilities = _lazy_ted(  # type: ignore[method-assign]
            TEDPolicy.predict_action_probabilities)
    if not hasattr(DaskGraphRunner.__init__, "__wrapped__"):
        DaskGraphRunner.__init__ = _runner_with_plans(DaskGraphRunner.__init__)  # type: ignore[method-assign]
        DaskGraphRunner.run = run_graph  # type: ignore[method-assign]
    applied.append("TED only when it can win, graph plans built once")
    from rasa.core.tracker_store import SQLTrackerStore

    _require(SQLTrackerStore, "_retrieve", "_event_query", "SQLEvent", "session_scope")
    _require(SQLTrackerStore, "_additional_events")
    if not hasattr(SQLTrackerStore._retrieve, "__wrapped__"):
        SQLTrackerStore._retrieve = _cached_sql_retrieve(SQLTrackerStore._retrieve)  # type: ignore[method-assign]
        SQLTrackerStore._additional_events = _counted_from_cache(  # type: ignore[method-assign]
            SQLTrackerStore._additional_events)
    applied.append(f"SQL trackers read incrementally ({_env_int(TRACKER_CACHE_ENV, 256)} conversations)")
    from rasa.shared.core.domain import Domain

    _require(Domain, "states_for_tracker_history", "get_active_state", "_get_prev_action_sub_state",
             "_remove_rule_only_features", "_substitute_rule_only_user_input", "_clean_state")
    if not hasattr(Domain.states_for_tracker_history, "__wrapped__"):
        Domain.states_for_tracker_history = _incremental_states(  # type: ignore[method-assign]
            Domain.states_for_tracker_history)
    applied.append("dialogue states resumed from the previous run")
    from rasa.utils.tensorflow.models import RasaModel

    _require(RasaModel, "load", "run_inference", "load_weights")
    if not hasattr(RasaModel.load, "__wrapped__"):
        RasaModel.load = _inference_only_load(RasaModel.load)  # type: ignore[method-assign]
    applied.append("models loaded for inference only")
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
