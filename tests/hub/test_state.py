"""The conversation state machine, its events and the queue reactions, in process on real
SQLite and PostgreSQL databases (PostgreSQL runs, never skips, under CI=true).

A hub engine is built around a store of each backend with a recording channel and an
in-process bus, so every event a customer or console would get is counted exactly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from handoff.delivery import AGENTS_TOPIC
from handoff.limits import RateLimiter
from handoff.realtime import Bus
from handoff.router import Handoff
from handoff.service import Hub
from handoff.settings import Settings
from handoff.state import (
    RULES,
    Cause,
    IllegalTransition,
    Mode,
    ModeChanged,
    PresenceChanged,
    StateMachine,
    allowed,
)
from handoff.store import Store
from tests.conftest import BACKENDS


class RecordingChannel:
    """A customer channel that keeps what each conversation's customer was sent."""

    name = "web"
    leave_message_form = True

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def deliver(self, conversation: dict[str, Any], event: dict[str, Any]) -> None:
        self.sent.append((conversation["id"], event))

    @staticmethod
    def ticket_contact(conversation: dict[str, Any]) -> str | None:
        return None

    def of(self, conversation_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for cid, e in self.sent if cid == conversation_id and (kind is None or e["type"] == kind)]

    def clear(self) -> None:
        self.sent.clear()


class NoDirectory:
    async def profile(self, customer_id: Any) -> None:
        return None

    async def recent_orders(self, customer_id: Any) -> list[Any]:
        return []


class Engine:
    """A hub engine on one database, with everything it sends recorded."""

    def __init__(self, hub: Hub, channel: RecordingChannel) -> None:
        self.hub, self.channel, self.store = hub, channel, hub.store
        self.console = hub.bus.subscribe(AGENTS_TOPIC)
        self.events: list[Any] = []
        hub.events.on_each(self._record)

    async def _record(self, event: Any) -> None:
        self.events.append(event)

    def console_events(self, kind: str | None = None) -> list[dict[str, Any]]:
        out = []
        while not self.console.queue.empty():
            out.append(self.console.queue.get_nowait())
        self._drained = getattr(self, "_drained", []) + out
        return [e for e in self._drained if kind is None or e["type"] == kind]

    def forget(self) -> None:
        self.console_events()
        self._drained = []
        self.channel.clear()
        self.events.clear()

    async def agent(self, name: str, skills: tuple[str, ...] = ("orders", "general"), presence: str = "online",
                    max_chats: int = 5) -> dict[str, Any]:
        row = await self.store.agents.create(name, f"客服 {name}", "x", "agent", skills, max_chats=max_chats)
        await self.store.agents.set_presence(row["id"], presence)
        return {**row, "presence": presence}

    async def waiting(self, n: int, skill: str = "orders", priority: str = "normal") -> list[dict[str, Any]]:
        out = []
        for _ in range(n):
            conv, _token = await self.hub.open_conversation("web", None)
            await self.hub.start_handoff(conv, Handoff("requested", priority, skill, "客户要求人工"))
            current = await self.store.conversations.get(conv["id"])
            assert current is not None and current["mode"] == Mode.QUEUED
            out.append(current)
        return out


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engine]:
    built = await _engine(request, tmp_path, {})
    yield built
    await built.store.close()


@pytest.fixture(params=BACKENDS)
async def auto_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engine]:
    built = await _engine(request, tmp_path, {"HUB_ASSIGN": "auto"})
    yield built
    await built.store.close()


async def _engine(request: pytest.FixtureRequest, tmp_path: Path, env: dict[str, str]) -> Engine:
    url = (f"sqlite:///{tmp_path / 'hub.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_database_url"))
    settings = Settings.from_env({"HUB_DATABASE_URL": url, "HUB_WORKING_HOURS": "00:00-24:00",
                                  "HUB_IDENTITY_SECRET": "s", "HUB_QUEUE_PER_ADDRESS": "0",
                                  "HUB_QUEUE_PER_CUSTOMER": "0", "HUB_OPEN_PER_ADDRESS": "0",
                                  "HUB_OPEN_PER_CUSTOMER": "0", **env})
    store = Store.from_url(url)
    await store.create_schema()
    hub = Hub(settings, store, Bus(), rasa=None, directory=NoDirectory(),  # type: ignore[arg-type]
              limiter=RateLimiter(1000, 10))
    channel = RecordingChannel()
    hub.add_channel(channel)
    return Engine(hub, channel)


# -- the rules (pure) ------------------------------------------------------------------------


def test_each_cause_has_one_target_and_only_its_sources() -> None:
    machine = StateMachine(store=None, events=None)  # type: ignore[arg-type]
    conv = {"id": "c", "channel": "web", "assigned_agent_id": None, "skill": "orders"}
    agent = {"id": 1, "display_name": "客服 a"}
    for cause, (sources, target) in RULES.items():
        for before in Mode:
            for to in Mode:
                ok = allowed(before.value, to, cause)
                assert ok == (before in sources and to is target), (cause, before, to)
                if not ok:
                    with pytest.raises(IllegalTransition):
                        machine.plan({**conv, "mode": before.value}, to, cause, agent=agent)
    # the machine's shape: bot → queued → agent → bot, closed only by an unfollow
    assert RULES[Cause.HANDOFF][1] is Mode.QUEUED and Mode.AGENT not in RULES[Cause.HANDOFF][0]
    assert RULES[Cause.CLAIM] == (frozenset({Mode.QUEUED}), Mode.AGENT)
    assert {target for _, target in RULES.values()} == set(Mode)


def test_a_move_is_one_conditional_update_on_what_the_caller_saw() -> None:
    machine = StateMachine(store=None, events=None)  # type: ignore[arg-type]
    move = machine.plan({"id": "c", "channel": "web", "mode": "agent", "assigned_agent_id": 7},
                        Mode.BOT, Cause.CLOSE)
    assert (move.before, move.to, move.owner, move.check_owner) == (Mode.AGENT, Mode.BOT, 7, True)
    assert move.values["csat_pending"] is True and move.close_handoff
    move = machine.plan({"id": "c", "channel": "web", "mode": "queued", "assigned_agent_id": None},
                        Mode.BOT, Cause.CLOSE)
    assert move.values["csat_pending"] is False  # nobody served: no rating asked


# -- persisted moves and their events (SQLite and PostgreSQL) -----------------------------------


async def test_handoff_and_claim_each_emit_one_event(engine: Engine) -> None:
    agent = await engine.agent("a1")
    engine.forget()
    [conv] = await engine.waiting(1)
    assert [type(e) for e in engine.events] == [ModeChanged]
    assert engine.events[0].cause is Cause.HANDOFF and engine.events[0].to is Mode.QUEUED
    assert [e["mode"] for e in engine.channel.of(conv["id"], "mode")] == ["queued"]
    [told] = [e["message"]["text"] for e in engine.channel.of(conv["id"], "message")]
    assert "第 1 位" in told
    assert len(engine.console_events("queue")) == 1
    assert engine.console_events("mode") == []  # a chat entering the queue reaches consoles as the queue

    engine.forget()
    assert await engine.hub.claim(conv, agent)
    [event] = engine.events
    assert (event.before, event.to, event.cause) == (Mode.QUEUED, Mode.AGENT, Cause.CLAIM)
    assert [e["mode"] for e in engine.channel.of(conv["id"], "mode")] == ["agent"]
    assert len(engine.channel.of(conv["id"], "agent_joined")) == 1
    assert len(engine.console_events("assigned")) == 1
    assert [e["mode"] for e in engine.console_events("mode")] == ["agent"]
    assert len(engine.console_events("queue")) == 1  # one broadcast for the move
    stored = await engine.store.conversations.get(conv["id"])
    assert stored["mode"] == "agent" and stored["assigned_agent_id"] == agent["id"]
    notices = [m for m in await engine.store.messages.read(conv["id"]) if m["author"] == "system"]
    assert [m["agent_id"] for m in notices][-1] == agent["id"]  # the join notice, stored with the move


async def test_of_two_racing_claims_exactly_one_wins_and_the_loser_writes_nothing(engine: Engine) -> None:
    a1, a2 = await engine.agent("a1"), await engine.agent("a2")
    [conv] = await engine.waiting(1)
    engine.forget()
    won = await asyncio.gather(engine.hub.claim(conv, a1), engine.hub.claim(conv, a2))
    assert sorted(won) == [False, True]
    winner = a1 if won[0] else a2
    assert len([e for e in engine.events if isinstance(e, ModeChanged)]) == 1
    stored = await engine.store.conversations.get(conv["id"])
    assert stored["mode"] == "agent" and stored["assigned_agent_id"] == winner["id"]
    joined = [m for m in await engine.store.messages.read(conv["id"]) if "已接入" in m["text"]]
    assert len(joined) == 1 and joined[0]["agent_id"] == winner["id"]
    assert len(engine.channel.of(conv["id"], "agent_joined")) == 1
    assert len(engine.console_events("assigned")) == 1


async def test_a_move_from_a_stale_view_loses_cleanly(engine: Engine) -> None:
    a1 = await engine.agent("a1")
    [conv] = await engine.waiting(1)  # the caller's view: queued
    assert await engine.hub.claim(conv, a1)
    engine.forget()
    before = await engine.store.conversations.get(conv["id"])
    # a supervisor's "return to bot" based on the queued view: the chat is an agent's now
    assert await engine.hub.state.transition(conv, Mode.BOT, Cause.RETURN) is None
    assert await engine.store.conversations.get(conv["id"]) == before  # nothing written
    assert engine.events == [] and engine.channel.sent == [] and engine.console_events() == []
    # a move the rules forbid from the mode the caller saw is refused before any write
    with pytest.raises(IllegalTransition):
        await engine.hub.state.transition(before, Mode.AGENT, Cause.CLAIM, agent=a1)
    assert await engine.hub.claim(before, a1) is False
    assert engine.events == []


async def test_close_asks_a_rating_and_hands_back_to_the_bot(engine: Engine) -> None:
    a1 = await engine.agent("a1")
    [conv] = await engine.waiting(1)
    await engine.hub.claim(conv, a1)
    conv = await engine.store.conversations.get(conv["id"])
    engine.forget()
    await engine.hub.finish(conv, a1, ask_csat=True)
    [event] = engine.events
    assert (event.before, event.to, event.cause) == (Mode.AGENT, Mode.BOT, Cause.CLOSE)
    kinds = [e["type"] for e in engine.channel.of(conv["id"])]
    assert kinds == ["message", "csat_request", "mode"]  # closing words, rating request, then the bot
    stored = await engine.store.conversations.get(conv["id"])
    assert stored["mode"] == "bot" and stored["csat_pending"] and stored["assigned_agent_id"] is None
    [handoff] = await engine.store.queue.handoffs_since(0)
    assert handoff["closed_at"] is not None and handoff["agent_id"] == a1["id"]


# -- the queue broadcast ---------------------------------------------------------------------------


async def test_queue_broadcast_reaches_only_customers_whose_place_changed(engine: Engine) -> None:
    a1 = await engine.agent("a1")
    first, second, third = await engine.waiting(3)
    engine.forget()
    # the last one leaves: the two ahead keep their place and wait
    assert await engine.hub.claim(third, a1)
    assert engine.channel.of(first["id"], "queue") == engine.channel.of(second["id"], "queue") == []
    assert len(engine.console_events("queue")) == 1  # consoles always get the queue
    engine.forget()
    # the first one leaves: the second moves up, and only it is told
    assert await engine.hub.claim(first, a1)
    [moved] = engine.channel.of(second["id"], "queue")
    assert moved["position"] == 1
    assert [cid for cid, e in engine.channel.sent if e["type"] == "queue"] == [second["id"]]
    engine.forget()
    # another agent comes online: every waiting customer's estimate changes
    a2 = await engine.agent("a2", presence="offline")
    await engine.hub.set_presence(a2, "online")
    [again] = engine.channel.of(second["id"], "queue")
    assert again["position"] == 1 and again["eta_seconds"] < moved["eta_seconds"]
    engine.forget()
    await engine.hub.set_presence(a2, "online")  # nothing changed: nobody is told again
    assert [e for _, e in engine.channel.sent if e["type"] == "queue"] == []


async def test_a_requeued_customer_is_told_their_place_again(engine: Engine) -> None:
    a1 = await engine.agent("a1")
    [conv] = await engine.waiting(1)
    await engine.hub.claim(conv, a1)
    conv = await engine.store.conversations.get(conv["id"])
    engine.forget()
    await engine.hub.transfer(conv, a1, None, "refunds")
    # same place as when it first waited, but the customer's widget left the queue meanwhile
    assert [e["position"] for e in engine.channel.of(conv["id"], "queue")] == [1]
    assert engine.events[0].cause is Cause.REQUEUE


# -- auto-assignment -------------------------------------------------------------------------------


async def test_auto_assignment_decides_a_round_on_one_snapshot(auto_engine: Engine,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    engine = auto_engine
    a1 = await engine.agent("a1", presence="offline", max_chats=2)
    a2 = await engine.agent("a2", presence="offline", max_chats=2)
    convs = await engine.waiting(5)  # nobody online: all wait
    reads = {"queued": 0, "loads": 0}
    for repo, name in ((engine.store.queue, "queued"), (engine.store.agents, "loads")):
        original = getattr(repo, name)

        async def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            reads[_name] += 1
            return await _original(*args, **kwargs)

        monkeypatch.setattr(repo, name, counted)
    broadcasts = []
    monkeypatch.setattr(engine.hub.queue, "broadcast", lambda: _note(broadcasts))
    await engine.store.agents.set_presence(a1["id"], "online")
    await engine.store.agents.set_presence(a2["id"], "online")
    engine.forget()
    await engine.hub.queue.auto_assign()
    assert reads == {"queued": 1, "loads": 1}  # one snapshot for the whole round
    claims = [e for e in engine.events if isinstance(e, ModeChanged)]
    assert len(claims) == 4 and all(e.cause is Cause.CLAIM for e in claims)
    by_agent = sorted(e.conversation["assigned_agent_id"] for e in claims)
    assert by_agent == sorted([a1["id"], a1["id"], a2["id"], a2["id"]])  # least busy first, up to max_chats
    assert [e.conversation["id"] for e in claims] == [c["id"] for c in convs[:4]]  # in serving order
    assert len(broadcasts) == 1  # one queue broadcast for the round
    left = await engine.store.conversations.get(convs[4]["id"])
    assert left["mode"] == "queued"


async def test_auto_assignment_runs_on_presence_events_once(auto_engine: Engine) -> None:
    engine = auto_engine
    a1 = await engine.agent("a1", presence="offline")
    convs = await engine.waiting(2)
    engine.forget()
    await engine.hub.set_presence(a1, "online")
    assert [type(e) for e in engine.events] == [PresenceChanged, ModeChanged, ModeChanged]
    for conv in convs:
        assert len(engine.channel.of(conv["id"], "agent_joined")) == 1
    # the presence change's broadcast, then one for the round's two claims
    assert len(engine.console_events("queue")) == 2
    assert len(engine.console_events("presence")) == 1


async def _note(calls: list[None]) -> None:
    calls.append(None)


async def test_announced_places_are_written_for_a_long_queue_at_once(engine: Engine) -> None:
    from sqlalchemy import update

    from handoff import models as m
    ids = [(await engine.store.conversations.create("web", "t"))["id"] for _ in range(450)]
    with engine.store.engine.begin() as conn:  # a long queue, without a broadcast per entry
        conn.execute(update(m.conversations).where(m.conversations.c.id.in_(ids[1:])).values(mode="queued"))
    await engine.store.queue.announce_places([(cid, i + 1, 60 * (i + 1)) for i, cid in enumerate(ids)])
    rows = {r["id"]: r for r in await engine.store.queue.queued()}
    assert len(rows) == len(ids) - 1
    assert all((rows[cid]["queue_position"], rows[cid]["queue_eta"]) == (i + 1, 60 * (i + 1))
               for i, cid in enumerate(ids) if cid in rows)
    first = await engine.store.conversations.get(ids[0])
    assert first["queue_position"] is None  # not waiting: nothing announced
