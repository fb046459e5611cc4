"""A known day of chats for the quality figures, written with the hub's own repositories and state
machine at chosen times (the repositories' clock is set per step), and the figures worked out by
hand for it (``EXPECTED_DAY``, ``EXPECTED_AGENTS``).

The day D (shop time, Asia/Shanghai; working hours 09:00–22:00), agents A1 (agent1), A2 (agent2):

  conv0  C0005  D-1 21:59:00 requested/orders  A1 takes 21:59:10, replies 21:59:20, closes D 00:05:00
  conv1  C0001  10:00  the bot answers, no handoff                                   (self-served)
  conv2  C0002  10:05:00 requested/orders  A1 10:05:10, reply 10:05:20 (20 s), close 10:15:10,
                                           rating 5, NPS 10
  conv3  C0003  11:00:00 angry/refunds     A2 11:00:30, reply 11:00:50 (50 s), close 11:20:30,
                                           rating 3, NPS 6
  conv4  C0003  12:00:00 angry/refunds     A1 12:00:05, reply 12:00:15 (15 s), close 12:10:05, rating 4
         (C0003 back on refunds 40 min after conv3 closed: conv3 unresolved; and a complaint again)
  conv5  visitor-5 13:00:00 not_understood/general  nobody answers; at 13:02:00 a message is left (ticket)
  conv6  C0006  14:00:00 requested/payments A2 14:00:10, reply 14:00:40 (40 s), back to the bot 14:05:10
  conv7  C0007  23:00:00 requested/general  A1 23:01:00, reply 23:02:00, close 23:03:00, rating 5, NPS 9
                                           (outside working hours: not in first response)
  conv8  C0001  15:00  the bot answers, no handoff                                   (self-served)
  conv9  C0009  16:00  opened, nothing written                                       (not counted)
  conv10 C0002  D+1 09:00:00 requested/general (another topic than conv2) A2 09:00:05, reply 09:00:20,
                                           close 09:10:05
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from handoff.router import Handoff
from handoff.state import Cause, Mode, StateMachine
from handoff.store import Store

TZ = "Asia/Shanghai"
HOURS = "09:00-22:00"
CLOCKED = ("handoff.records.conversations._now", "handoff.records.queue._now", "handoff.records.csat._now",
           "handoff.records.quality._now")


def known_day(today: date | None = None) -> date:
    """D: ten days before today (shop time), so every follow-up window has passed."""
    today = today or datetime.now(ZoneInfo(TZ)).date()
    return today - timedelta(days=10)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@contextmanager
def clocked() -> Iterator[Clock]:
    clock = Clock()
    with ExitStack() as stack:
        for target in CLOCKED:
            stack.enter_context(mock.patch(target, clock))
        yield clock


class Builder:
    def __init__(self, store: Store, clock: Clock, day: date, agents: dict[str, dict[str, Any]]) -> None:
        self.store, self.clock, self.day, self.agents = store, clock, day, agents
        self.sm = StateMachine(store, None)  # type: ignore[arg-type]  # moves persisted, nobody to tell

    def at(self, hhmmss: str, offset_days: int = 0) -> float:
        h, m, s = (int(x) for x in hhmmss.split(":"))
        local = datetime(self.day.year, self.day.month, self.day.day, h, m, s, tzinfo=ZoneInfo(TZ))
        self.clock.t = (local + timedelta(days=offset_days)).timestamp()
        return self.clock.t

    async def conversation(self, when: str, customer_id: str | None, external_id: str | None = None,
                           wrote: bool = True, days: int = 0) -> dict[str, Any]:
        self.at(when, days)
        conv = await self.store.conversations.create("web", "0" * 64, customer_id, None, external_id=external_id)
        if wrote:
            await self.store.messages.add(conv["id"], "web", [{"author": "customer", "text": "你好，我想问一下"}])
            await self.store.messages.add(conv["id"], "web", [{"author": "bot", "text": "您好，请问有什么可以帮您"}])
        return conv

    async def move(self, conv: dict[str, Any], to: Mode, cause: Cause, when: str, days: int = 0,
                   **details: Any) -> dict[str, Any]:
        now = self.at(when, days)
        fresh = await self.store.conversations.get(conv["id"])
        assert fresh is not None
        move = self.sm.plan(fresh, to, cause, now=now, **details)
        stored = await self.store.conversations.apply_move(move)
        assert stored is not None, (conv["id"], cause)
        return stored[0]

    async def handoff(self, conv: dict[str, Any], when: str, reason: str, skill: str, days: int = 0) -> dict[str, Any]:
        return await self.move(conv, Mode.QUEUED, Cause.HANDOFF, when, days,
                               handoff=Handoff(reason, "high" if reason == "angry" else "normal", skill, "测试"),
                               customer=(conv["customer_id"], "web", conv.get("external_id")))

    async def served(self, conv: dict[str, Any], agent: str, taken: str, reply: str, end: str,
                     cause: Cause = Cause.CLOSE, days: int = 0, end_days: int | None = None) -> dict[str, Any]:
        row = self.agents[agent]
        conv = await self.move(conv, Mode.AGENT, Cause.CLAIM, taken, days, agent=row)
        self.at(reply, days)
        await self.store.messages.add(conv["id"], "web", [{"author": "agent", "agent_id": row["id"], "text": "您好"}])
        await self.store.queue.mark_first_response(conv["handoff_id"])
        return await self.move(conv, Mode.BOT, cause, end, days if end_days is None else end_days)

    async def rate(self, conv: dict[str, Any], when: str, score: int, nps: int | None, days: int = 0) -> None:
        self.at(when, days)
        assert await self.store.ratings.add(conv["id"], score, None, nps)


async def build(store: Store, clock: Clock, day: date) -> dict[str, str]:
    """Write the day; the conversation ids by name."""
    agents = {name: await store.agents.by_username(name) for name in ("agent1", "agent2")}
    b = Builder(store, clock, day, agents)  # type: ignore[arg-type]
    ids: dict[str, str] = {}

    c = await b.conversation("21:59:00", "C0005", days=-1)
    c = await b.handoff(c, "21:59:00", "requested", "orders", days=-1)
    await b.served(c, "agent1", "21:59:10", "21:59:20", "00:05:00", days=-1, end_days=0)
    ids["conv0"] = c["id"]

    ids["conv1"] = (await b.conversation("10:00:00", "C0001"))["id"]

    c = await b.conversation("10:05:00", "C0002")
    c = await b.handoff(c, "10:05:00", "requested", "orders")
    await b.served(c, "agent1", "10:05:10", "10:05:20", "10:15:10")
    await b.rate(c, "10:16:00", 5, 10)
    ids["conv2"] = c["id"]

    c = await b.conversation("11:00:00", "C0003")
    c = await b.handoff(c, "11:00:00", "angry", "refunds")
    await b.served(c, "agent2", "11:00:30", "11:00:50", "11:20:30")
    await b.rate(c, "11:21:00", 3, 6)
    ids["conv3"] = c["id"]

    c = await b.conversation("12:00:00", "C0003")
    c = await b.handoff(c, "12:00:00", "angry", "refunds")
    ids["conv4_flag"] = str(c["recent_complaint_at"])
    await b.served(c, "agent1", "12:00:05", "12:00:15", "12:10:05")
    await b.rate(c, "12:11:00", 4, None)
    ids["conv4"] = c["id"]

    c = await b.conversation("13:00:00", None, external_id="visitor-5")
    c = await b.handoff(c, "13:00:00", "not_understood", "general")
    await b.move(c, Mode.BOT, Cause.TICKET, "13:02:00")
    ids["conv5"] = c["id"]

    c = await b.conversation("14:00:00", "C0006")
    c = await b.handoff(c, "14:00:00", "requested", "payments")
    await b.served(c, "agent2", "14:00:10", "14:00:40", "14:05:10", cause=Cause.RETURN)
    ids["conv6"] = c["id"]

    c = await b.conversation("23:00:00", "C0007")
    c = await b.handoff(c, "23:00:00", "requested", "general")
    await b.served(c, "agent1", "23:01:00", "23:02:00", "23:03:00")
    await b.rate(c, "23:04:00", 5, 9)
    ids["conv7"] = c["id"]

    ids["conv8"] = (await b.conversation("15:00:00", "C0001"))["id"]
    ids["conv9"] = (await b.conversation("16:00:00", "C0009", wrote=False))["id"]

    c = await b.conversation("09:00:00", "C0002", days=1)
    c = await b.handoff(c, "09:00:00", "requested", "general", days=1)
    await b.served(c, "agent2", "09:00:05", "09:00:20", "09:10:05", days=1)
    ids["conv10"] = c["id"]
    return ids


def build_known_day(url: str, day: date) -> dict[str, str]:
    """Write the known day into the hub database at ``url`` (schema and agents already there)."""

    async def run() -> dict[str, str]:
        store = Store.from_url(url)
        try:
            with clocked() as clock:
                return await build(store, clock, day)
        finally:
            await store.close()

    return _run(run)


def _run(make: Any) -> Any:
    """Run a coroutine on a fresh loop in its own thread (a browser test's thread has a loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def fig(value: float | None, count: int, target: float | None, met: bool | None) -> dict[str, Any]:
    return {"value": value, "count": count, "target": target, "met": met}


# Worked out by hand from the table above (day D only).
EXPECTED_DAY: dict[str, Any] = {
    "final": True,  # D is ten days ago: nobody can come back within the windows any more
    "conversations": 8,  # conv1–conv8 (conv9: nothing written; conv0 on D-1)
    "handoffs": 6,  # conv2–conv7
    "handoffs_by_reason": {"requested": {"count": 3, "rate": 3 / 8}, "angry": {"count": 2, "rate": 2 / 8},
                           "not_understood": {"count": 1, "rate": 1 / 8}},
    "figures": {
        # online replies 20, 50, 15, 40 s (conv7 at 23:00 is outside working hours)
        "first_response_avg": fig(31.25, 4, 30.0, False),
        # met: conv2, conv4; missed: conv3, conv6 and conv5 (left unanswered after 120 s)
        "first_response_rate": fig(2 / 5, 5, 0.95, False),
        # ended by agents: conv2, conv3, conv4, conv6, conv7; conv3 came back on refunds
        "resolution_rate": fig(4 / 5, 5, 0.85, False),
        # complaints conv3, conv4; conv3 was followed by conv4
        "repeat_complaint_rate": fig(1 / 2, 2, 0.05, False),
        "csat_avg": fig((5 + 3 + 4 + 5) / 4, 4, 4.5, False),
        # NPS answers 10, 6, 9: 2 promoters, 1 detractor of 3
        "nps": fig((2 - 1) / 3 * 100, 3, 30.0, True),
        "self_service_rate": fig(2 / 8, 8, None, None),
        "handoff_rate": fig(6 / 8, 8, None, None),
        # 600 + 1200 + 600 + 300 + 120
        "handling_avg": fig(2820 / 5, 5, None, None),
    },
    "missed": ["first_response_avg", "first_response_rate", "resolution_rate", "repeat_complaint_rate", "csat_avg"],
}

EXPECTED_AGENTS: dict[str, dict[str, Any]] = {
    "agent1": {  # conv2, conv4, conv7
        "final": True,
        "handoffs": 3,
        "figures": {
            "first_response_avg": fig((20 + 15) / 2, 2, 30.0, True),
            "first_response_rate": fig(1.0, 2, 0.95, True),
            "resolution_rate": fig(1.0, 3, 0.85, True),
            "repeat_complaint_rate": fig(0.0, 1, 0.05, True),
            "csat_avg": fig((5 + 4 + 5) / 3, 3, 4.5, True),
            "nps": fig(100.0, 2, 30.0, True),
            "handling_avg": fig((600 + 600 + 120) / 3, 3, None, None),
        },
        "missed": [],
    },
    "agent2": {  # conv3, conv6
        "final": True,
        "handoffs": 2,
        "figures": {
            "first_response_avg": fig(45.0, 2, 30.0, False),
            "first_response_rate": fig(0.0, 2, 0.95, False),
            "resolution_rate": fig(1 / 2, 2, 0.85, False),
            "repeat_complaint_rate": fig(1.0, 1, 0.05, False),
            "csat_avg": fig(3.0, 1, 4.5, False),
            "nps": fig(-100.0, 1, 30.0, False),
            "handling_avg": fig((1200 + 300) / 2, 2, None, None),
        },
        "missed": ["first_response_avg", "first_response_rate", "resolution_rate", "repeat_complaint_rate",
                   "csat_avg", "nps"],
    },
}

# D-1 and D+1 (range D-1 .. D+1): one handoff each, both answered in time and resolved.
EXPECTED_SIDES: dict[int, dict[str, Any]] = {
    -1: {"conversations": 1, "handoffs": 1, "first_response_avg": 20.0, "handling_avg": 2 * 3600 + 5 * 60 + 50},
    1: {"conversations": 1, "handoffs": 1, "first_response_avg": 20.0, "handling_avg": 600.0},
}


def build_complaint(url: str, customer_id: str, at: float) -> None:
    """One angry handoff of ``customer_id`` queued at ``at`` (epoch), served by agent2 and closed."""

    async def run() -> None:
        store = Store.from_url(url)
        try:
            with clocked() as clock:
                agent = await store.agents.by_username("agent2")
                sm = StateMachine(store, None)  # type: ignore[arg-type]
                clock.t = at
                conv = await store.conversations.create("web", "0" * 64, customer_id, None)
                await store.messages.add(conv["id"], "web", [{"author": "customer", "text": "太气人了，我要投诉"}])
                for to, cause, extra, later in ((Mode.QUEUED, Cause.HANDOFF, {
                        "handoff": Handoff("angry", "high", "refunds", "投诉"),
                        "customer": (customer_id, "web", None)}, 0),
                        (Mode.AGENT, Cause.CLAIM, {"agent": agent}, 10), (Mode.BOT, Cause.CLOSE, {}, 300)):
                    clock.t = at + later
                    fresh = await store.conversations.get(conv["id"])
                    assert fresh is not None
                    assert await store.conversations.apply_move(sm.plan(fresh, to, cause, now=clock.t, **extra))
        finally:
            await store.close()

    _run(run)
