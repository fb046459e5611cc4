"""Several Rasa servers behind one hub: RASA_URL lists, the sticky per-conversation pick, and the
client sending each conversation to one server only."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator

import pytest

from handoff.rasa_client import RasaClient, parse_rasa_urls, pick_server, rank_servers

from .conftest import ROOT, RasaStandIn

METADATA = {"customer_id": None, "channel": "web"}
SERVERS = ["http://127.0.0.1:5005", "http://127.0.0.1:5006", "http://127.0.0.1:5007"]


def test_rasa_url_lists() -> None:
    assert parse_rasa_urls("http://a:5005/") == ["http://a:5005"]
    assert parse_rasa_urls(" http://a:5005, http://b:5005/ ,,http://a:5005") == ["http://a:5005", "http://b:5005"]
    assert parse_rasa_urls(["http://a:1", "http://b:2"]) == ["http://a:1", "http://b:2"]
    with pytest.raises(ValueError, match="no Rasa server"):
        parse_rasa_urls(" , ")


def test_pick_is_stable_and_only_depends_on_the_id_and_the_servers() -> None:
    ids = [f"conv-{i}" for i in range(300)]
    first = [pick_server(c, SERVERS) for c in ids]
    assert first == [pick_server(c, list(SERVERS)) for c in ids]
    assert all(0 <= i < len(SERVERS) for i in first)
    assert pick_server("anything", SERVERS[:1]) == 0
    with pytest.raises(ValueError):
        pick_server("x", [])


def test_pick_is_the_same_in_another_process() -> None:
    # blake2b, not the salted built-in hash(): every hub process picks the same server
    code = ("from handoff.rasa_client import pick_server; "
            f"print([pick_server(c, {SERVERS!r}) for c in 'abcdefgh'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout.strip()
    assert out == str([pick_server(c, SERVERS) for c in "abcdefgh"])


def test_pick_spreads_conversations() -> None:
    counts = Counter(pick_server(f"conv-{i}", SERVERS) for i in range(3000))
    assert set(counts) == {0, 1, 2}
    assert min(counts.values()) > 3000 / len(SERVERS) * 0.8


def test_adding_a_server_only_moves_conversations_to_it() -> None:
    ids = [f"conv-{i}" for i in range(1000)]
    before = {c: SERVERS[pick_server(c, SERVERS)] for c in ids}
    grown = [*SERVERS, "http://127.0.0.1:5008"]
    after = {c: grown[pick_server(c, grown)] for c in ids}
    moved = [c for c in ids if before[c] != after[c]]
    assert moved and all(after[c] == "http://127.0.0.1:5008" for c in moved)


@pytest.fixture
def two_rasas() -> Iterator[tuple[RasaStandIn, RasaStandIn]]:
    a, b = RasaStandIn(), RasaStandIn()
    yield a, b
    a.stop()
    b.stop()


async def test_client_sends_each_conversation_to_one_server(two_rasas: tuple[RasaStandIn, RasaStandIn]) -> None:
    a, b = two_rasas
    client = RasaClient(f"{a.url},{b.url}", timeout=30, concurrency=4)
    conversations = [f"conv-{i}" for i in range(12)]
    try:
        results = await asyncio.gather(*(client.send(c, f"你好 {turn}", METADATA)
                                         for c in conversations for turn in range(3)))
    finally:
        await client.close()
    assert all(r.ok for r in results), [r.error for r in results]
    seen_a = {r["sender"] for r in a.requests}
    seen_b = {r["sender"] for r in b.requests}
    assert seen_a | seen_b == set(conversations) and not seen_a & seen_b
    assert seen_a and seen_b
    expected_a = {c for c in conversations if pick_server(c, client.servers) == 0}
    assert seen_a == expected_a
    assert len(a.requests) + len(b.requests) == 36


async def test_one_held_server_does_not_take_the_other_ones_slots(
        two_rasas: tuple[RasaStandIn, RasaStandIn]) -> None:
    a, b = two_rasas
    client = RasaClient([a.url, b.url], timeout=60, concurrency=1)
    to_a = next(c for c in (f"c{i}" for i in range(100)) if pick_server(c, client.servers) == 0)
    to_b = next(c for c in (f"c{i}" for i in range(100)) if pick_server(c, client.servers) == 1)
    a.hold()
    try:
        held = asyncio.ensure_future(client.send(to_a, "阻塞", METADATA))
        while a.in_flight < 1:
            await asyncio.sleep(0.02)
        other = await client.send(to_b, "你好", METADATA)
        assert other.ok and not held.done()
        a.release()
        assert (await held).ok
    finally:
        a.release()
        await client.close()


def test_rank_starts_with_the_pick_and_lists_every_server_once() -> None:
    for c in (f"conv-{i}" for i in range(200)):
        order = rank_servers(c, SERVERS)
        assert order[0] == pick_server(c, SERVERS) and sorted(order) == [0, 1, 2]
    # the second choice spreads too: a dead server's conversations do not all land on one other
    dead = 0
    second = Counter(rank_servers(c, SERVERS)[1] for c in (f"conv-{i}" for i in range(3000))
                     if pick_server(c, SERVERS) == dead)
    assert set(second) == {1, 2} and min(second.values()) > sum(second.values()) * 0.35


async def test_conversations_of_a_dead_server_go_to_the_next_one(
        two_rasas: tuple[RasaStandIn, RasaStandIn]) -> None:
    """A refused connection goes on at once to the conversation's next server, and the dead one
    is passed over afterwards; its conversations come back when it answers again."""
    from bot.stack import free_port

    a, b = two_rasas
    dead = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    client = RasaClient([dead, a.url, b.url], timeout=5, concurrency=4, recheck_after=60)
    ids = [f"conv-{i}" for i in range(60)]
    of_dead = [c for c in ids if pick_server(c, client.servers) == 0]
    try:
        results = await asyncio.gather(*(client.send(c, "你好", METADATA) for c in ids))
        assert all(r.ok for r in results), [r.error for r in results]
        assert of_dead
        for c in of_dead:  # served by its second choice, the others by their first
            second = client.servers[rank_servers(c, client.servers)[1]]
            stand_in = a if second == a.url else b
            assert [r["message"] for r in stand_in.for_sender(c)] == ["你好"]
        for c in set(ids) - set(of_dead):
            first = a if client.servers[pick_server(c, client.servers)] == a.url else b
            assert len(first.for_sender(c)) == 1
        assert len(a.requests) + len(b.requests) == len(ids)
        # passed over now: no connection attempt, so no retry delay either
        assert client._first_up(rank_servers(of_dead[0], client.servers)) != 0
        client.recheck_after = 0
        client._down_until = [0.0] * 3
        assert client._first_up(rank_servers(of_dead[0], client.servers)) == 0
    finally:
        await client.close()


async def test_every_server_down_is_unreachable_not_a_hang() -> None:
    from bot.stack import free_port

    client = RasaClient([f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"],
                        timeout=5, concurrency=2)
    try:
        result = await asyncio.wait_for(client.send("conv-x", "你好", METADATA), 5)
    finally:
        await client.close()
    assert not result.ok and result.error.startswith("unreachable")


async def test_a_dropped_connection_is_resent_to_the_same_server(
        two_rasas: tuple[RasaStandIn, RasaStandIn]) -> None:
    """A drop may be a stale keep-alive of a live Rasa: the same server gets it again, so two
    live Rasa processes never work on one conversation at once."""
    a, b = two_rasas
    client = RasaClient([a.url, b.url], timeout=10, concurrency=2)
    to_a = next(c for c in (f"c{i}" for i in range(100)) if pick_server(c, client.servers) == 0)
    try:
        result = await client.send(to_a, "断线", METADATA)
    finally:
        await client.close()
    assert result.ok, result.error
    assert len(a.for_sender(to_a)) == 2 and b.for_sender(to_a) == []
