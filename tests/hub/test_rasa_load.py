"""The hub under Rasa overload: bounded calls in flight, one retry on a dropped connection,
and every customer message stored before the bot is asked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import aiohttp
import pytest

from handoff.rasa_client import RasaClient
from handoff.settings import Settings

from .conftest import HubProcess, RasaStandIn, free_port, login, open_customer

METADATA = {"customer_id": None, "channel": "web"}


async def until(condition: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    """Wait for a state the test needs before it goes on (the limit only stops a hang)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never reached: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def held_rasa() -> Iterator[RasaStandIn]:
    stand_in = RasaStandIn()
    yield stand_in
    stand_in.stop()


# --- the client alone --------------------------------------------------------------------------

async def test_no_more_than_the_limit_reach_rasa(held_rasa: RasaStandIn) -> None:
    client = RasaClient(held_rasa.url, timeout=60, concurrency=2)
    held_rasa.hold()
    try:
        calls = [asyncio.ensure_future(client.send(f"c{i}", "阻塞", METADATA)) for i in range(6)]
        await until(lambda: held_rasa.in_flight == 2 and client.waiting == 4, "2 at Rasa, 4 waiting")
        assert client.in_flight == 2
        held_rasa.release()
        results = await asyncio.gather(*calls)
    finally:
        held_rasa.release()
        await client.close()
    assert all(r.ok for r in results), [r.error for r in results]
    assert held_rasa.max_in_flight == 2
    assert len(held_rasa.requests) == 6


async def test_no_free_slot_in_time_is_busy_not_a_hang(held_rasa: RasaStandIn) -> None:
    client = RasaClient(held_rasa.url, timeout=60, concurrency=1, queue_wait=0.2)
    held_rasa.hold()
    try:
        first = asyncio.ensure_future(client.send("a", "阻塞", METADATA))
        await until(lambda: held_rasa.in_flight == 1, "first call at Rasa")
        second = await client.send("b", "你好", METADATA)
        assert not second.ok and second.error is not None and second.error.startswith("busy")
        assert held_rasa.for_sender("b") == []  # shed before it reached Rasa
        held_rasa.release()
        assert (await first).ok
    finally:
        held_rasa.release()
        await client.close()


async def test_dropped_connection_is_retried_once(held_rasa: RasaStandIn) -> None:
    client = RasaClient(held_rasa.url, timeout=10, retry_delay=0.05)
    try:
        result = await client.send("drop", "断线了吗", METADATA)
    finally:
        await client.close()
    assert result.ok and result.turn is not None
    assert result.turn.replies[0]["text"] == "收到：断线了吗"
    assert len(held_rasa.for_sender("drop")) == 2


async def test_refused_twice_is_unreachable() -> None:
    client = RasaClient(f"http://127.0.0.1:{free_port()}", timeout=5, retry_delay=0.05)
    try:
        result = await client.send("x", "你好", METADATA)
    finally:
        await client.close()
    assert not result.ok and result.error is not None and result.error.startswith("unreachable")
    assert client.in_flight == 0 and client.waiting == 0


def test_settings_for_rasa_load() -> None:
    s = Settings.from_env({"HUB_RASA_CONCURRENCY": "4", "HUB_RASA_QUEUE_WAIT": "2.5"})
    assert (s.rasa_concurrency, s.rasa_queue_wait) == (4, 2.5)
    assert Settings.from_env({}).rasa_queue_wait is None
    for bad in ({"HUB_RASA_CONCURRENCY": "0"}, {"HUB_RASA_QUEUE_WAIT": "-1"}):
        with pytest.raises(ValueError):
            Settings.from_env(bad)


# --- through a hub process ---------------------------------------------------------------------

@pytest.fixture
def narrow_hub(held_rasa: RasaStandIn, tmp_path) -> Iterator[HubProcess]:
    """One Rasa call at a time, a short wait for the slot, a long timeout for the answer."""
    proc = HubProcess({"HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "RASA_URL": held_rasa.url,
                       "HUB_RASA_CONCURRENCY": "1", "HUB_RASA_QUEUE_WAIT": "0.3",
                       "HUB_RASA_TIMEOUT": "60"}, tmp_path / "hub.log")
    yield proc
    held_rasa.release()
    proc.stop()


async def _texts(session: aiohttp.ClientSession, hub: HubProcess, conversation_id: str) -> list[str]:
    sup = await login(session, hub.url, "supervisor")
    _, detail = await sup.call("GET", f"/api/agent/conversations/{conversation_id}")
    return [m["text"] for m in detail["messages"]]


async def test_overloaded_hub_stores_first_and_sheds_politely(
    narrow_hub: HubProcess, held_rasa: RasaStandIn, session: aiohttp.ClientSession,
) -> None:
    busy_one = await open_customer(session, narrow_hub.url)
    shed = await open_customer(session, narrow_hub.url)
    held_rasa.hold()
    first = asyncio.ensure_future(busy_one.send("阻塞一下", "l-1"))
    await until(lambda: held_rasa.in_flight == 1, "first message at Rasa")

    code, data = await shed.send("运费多少", "l-2")
    assert code == 200 and data["message"]["text"] == "运费多少"
    assert data["replies"][0]["author"] == "system" and "人工" in data["replies"][0]["text"]
    assert held_rasa.for_sender(shed.id) == []  # Rasa never saw it: the hub shed it
    sup = await login(session, narrow_hub.url, "supervisor")
    _, detail = await sup.call("GET", f"/api/agent/conversations/{shed.id}")
    assert detail["mode"] == "queued" and detail["handoff"]["reason"] == "bot_unavailable"
    assert "busy" in detail["handoff"]["summary"]
    assert detail["messages"][0]["text"] == "运费多少"

    held_rasa.release()
    code, data = await first
    assert code == 200 and [r["text"] for r in data["replies"]] == ["收到：阻塞一下"]
    assert (await busy_one.state())["mode"] == "bot"
    assert held_rasa.max_in_flight == 1


async def test_customer_leaving_mid_turn_loses_no_bot_reply(
    narrow_hub: HubProcess, held_rasa: RasaStandIn, session: aiohttp.ClientSession,
) -> None:
    customer = await open_customer(session, narrow_hub.url)
    held_rasa.hold()
    leaving = asyncio.ensure_future(customer.send("阻塞中我先走了", "g-1"))
    await until(lambda: held_rasa.in_flight == 1, "message at Rasa")
    leaving.cancel()  # the page is closed: the HTTP request goes away
    with pytest.raises(asyncio.CancelledError):
        await leaving
    held_rasa.release()
    texts: list[str] = []

    async def answered() -> bool:
        texts[:] = await _texts(session, narrow_hub, customer.id)
        return "收到：阻塞中我先走了" in texts

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not await answered():
        assert loop.time() < deadline, f"bot reply never stored: {texts}"
        await asyncio.sleep(0.05)
    assert texts == ["阻塞中我先走了", "收到：阻塞中我先走了"]


async def test_dropped_connection_does_not_hand_off(
    narrow_hub: HubProcess, held_rasa: RasaStandIn, session: aiohttp.ClientSession,
) -> None:
    customer = await open_customer(session, narrow_hub.url)
    code, data = await customer.send("断线测试", "r-1")
    assert code == 200 and [r["text"] for r in data["replies"]] == ["收到：断线测试"]
    assert (await customer.state())["mode"] == "bot"
    assert len(held_rasa.for_sender(customer.id)) == 2
