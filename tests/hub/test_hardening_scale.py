"""The hardening holds with two hub processes on one PostgreSQL and one Redis: the login limit
is shared, ending a session closes its consoles on the other hub, PostgreSQL-only hostile
input (NUL) is refused, the customer limits count requests to either hub together, and agent
scope is the same on both. Runs (never skips) under CI=true.

The hubs trust no proxy: the ``X-Forwarded-For`` each request carries is ignored. The
per-address limit is raised because every request here comes from 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import aiohttp
import pytest
import redis

from handoff.identity import sign_identity
from tests.services import REDIS_URL

from .conftest import (
    IDENTITY_SECRET,
    ROOT,
    Customer,
    HubProcess,
    RasaStandIn,
    hub_processes,
    login,
    next_event,
    open_customer,
)
from .test_hardening import (
    DEFAULTS,
    GUARD_PASSWORD,
    LIMIT_VARS,
    assert_limited,
    attempt,
    create_agents,
    guard_login,
    post_json,
    queue_ids,
    raw_post,
)
from .test_scale import pg_database  # noqa: F401  (fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def env(pg_database: str, rasa: RasaStandIn) -> dict[str, str]:  # noqa: F811
    create_agents(pg_database, ["pguard1", "pguard2"])
    return {"HUB_DATABASE_URL": pg_database, "REDIS_URL": REDIS_URL, "RASA_URL": rasa.url,
            "HUB_LOGIN_ADDRESS_LIMIT": "1000", "HUB_SESSION_CHECK": "600"}


@pytest.fixture(scope="module")
def hubs(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HubProcess]]:
    with hub_processes(env, tmp_path_factory.mktemp("hardening-scale")) as started:
        yield started


async def test_login_limit_is_shared_by_the_hubs(hubs: list[HubProcess], session) -> None:
    """39 wrong guesses at once, spread over both hubs: at most the limit (10) are checked at
    all; the right password afterwards is refused on either hub. (A right password inside the
    burst may arrive among the first ten, succeed and, by design, start its counter again, so
    the burst holds only wrong guesses.)"""
    results = await asyncio.gather(*(
        attempt(session, hubs[i % 2], "pguard1", f"wrong-{i}", f"10.9.{i}.1")  # forged addresses, ignored
        for i in range(39)))
    statuses = [code for code, _ in results]
    assert set(statuses) <= {401, 429} and len([s for s in statuses if s != 429]) <= 10, statuses
    for hub in hubs:
        assert (await attempt(session, hub, "pguard1", GUARD_PASSWORD, "10.9.0.2"))[0] == 429


async def test_logout_and_reset_close_consoles_on_the_other_hub(hubs: list[HubProcess], env: dict[str, str],
                                                                session) -> None:
    one, two = hubs
    agent = await guard_login(session, one, "pguard2", "x")
    other = await guard_login(session, one, "pguard2", "x")
    async with agent.ws(two.ws_url) as ws, other.ws(one.ws_url) as ws1, other.ws(two.ws_url) as ws2:
        for sock in (ws, ws1, ws2):
            await next_event(sock, "queue")
        assert (await agent.call("POST", "/api/agent/logout"))[0] == 200  # on hub 1, console on hub 2
        assert (await next_event(ws, "error", timeout=10))["error"]["code"] == "session_revoked"
        subprocess.run([sys.executable, "-m", "handoff", "--reset-password", "pguard2"], cwd=ROOT, check=True,
                       capture_output=True, env={**os.environ, **env})
        for sock in (ws1, ws2):
            assert (await next_event(sock, "error", timeout=10))["error"]["code"] == "session_revoked"
            assert (await sock.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_nul_and_other_hostile_text_on_postgresql(hubs: list[HubProcess], session) -> None:
    hub = hubs[0]
    customer = await open_customer(session, hub.url)
    base = f"{hub.url}/api/conversations/{customer.id}"
    for path, body in (("messages", '{"text": "a\\u0000b"}'), ("messages", '{"text": "\\ud800"}'),
                       ("messages", '{"text": "ok", "client_msg_id": "a\\u0000"}'),
                       ("leave_message", '{"text": "hi", "contact": "\\u0000"}')):
        code, data = await raw_post(session, f"{base}/{path}", body, customer.headers)
        assert code == 400 and data["error"]["code"] == "invalid_unicode", (path, body, code, data)
    async with session.get(f"{hub.url}/api/conversations/%00", headers=customer.headers) as r:
        assert r.status == 404
    async with session.post(f"{hub.url}/api/conversations", json={"identity": "张伟.签名"}) as r:
        assert r.status == 401 and (await r.json())["error"]["code"] == "invalid_identity"
    sup = await login(session, hub.url, "supervisor")
    code, data = await raw_post(session, f"{hub.url}/api/agent/conversations/{customer.id}/messages",
                                '{"text": "x\\u0000", "internal": true}', sup.headers)
    assert code == 400
    async with customer.ws(hub.ws_url) as cws:
        await next_event(cws, "mode")
        await cws.send_str('{"type": "message", "text": "a\\u0000b"}')
        assert (await next_event(cws, "error"))["error"]["code"] == "invalid_unicode"
    assert (await customer.state())["messages"] == []


# -- customer limits and agent scope hold across the hubs ----------------------------------------

@pytest.fixture(scope="module")
def flood_hubs(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HubProcess]]:
    """Two hubs with the limits as deployed; they trust no proxy, so forged X-Forwarded-For
    addresses are ignored and every request counts for 127.0.0.1."""
    limits = {var: str(getattr(DEFAULTS, attr)) for var, attr in LIMIT_VARS.items()}
    with hub_processes({**env, **limits}, tmp_path_factory.mktemp("flood-scale")) as started:
        yield started


def forget_local_counters() -> None:
    """The counters live in Redis for the window; an earlier run from 127.0.0.1 must not count."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter("hub:rl:*addr:127.0.0.1"):
            client.delete(key)
    finally:
        client.close()


async def test_customer_limits_hold_across_two_hubs(flood_hubs: list[HubProcess], session) -> None:
    forget_local_counters()
    one, two = flood_hubs
    await (await login(session, one.url, "agent1")).presence("online")
    before = await queue_ids(one, session)
    results = await asyncio.gather(*(
        post_json(session, f"{flood_hubs[i % 2].url}/api/conversations", {"channel": "web"},
                  {"X-Forwarded-For": f"10.77.{i}.1"})  # forged: ignored
        for i in range(200)))
    created = [(i, body) for i, (code, _, body) in enumerate(results) if code == 201]
    assert len(created) == DEFAULTS.open_per_address
    assert_limited(*next((h, b) for code, h, b in results if code == 429), "新建会话过于频繁")

    customers = [Customer(session, flood_hubs[i % 2].url, body) for i, body in created]
    sent = await asyncio.gather(*(c.send("转人工") for c in customers))
    assert {code for code, _ in sent} == {200}
    waiting = (await queue_ids(two, session)) - before
    assert len(waiting) == DEFAULTS.queue_per_address

    queued = next(c for c in customers if c.id in waiting)
    typing = await asyncio.gather(*(post_json(session, f"{flood_hubs[i % 2].url}/api/conversations/{queued.id}/typing",
                                              {}, queued.headers) for i in range(30)))
    assert sum(1 for code, _, _ in typing if code == 200) == DEFAULTS.typing_per_customer

    left = await asyncio.gather(*(post_json(session, f"{flood_hubs[i % 2].url}/api/conversations/{c.id}/leave_message",
                                            {"text": "请回电"}, c.headers) for i, c in enumerate(customers[-40:])))
    assert sum(1 for code, _, _ in left if code == 201) == DEFAULTS.tickets_per_address


async def test_one_waiting_place_per_customer_across_hubs(flood_hubs: list[HubProcess], session) -> None:
    forget_local_counters()
    one, two = flood_hubs
    await (await login(session, one.url, "agent1")).presence("online")
    signed = sign_identity("C-two-hubs", IDENTITY_SECRET)
    first = await open_customer(session, one.url, signed)
    second = await open_customer(session, two.url, signed)
    assert (await first.send("转人工"))[0] == 200
    code, data = await second.send("转人工")
    assert code == 200 and "您已有一个会话在排队" in data["replies"][-1]["text"]
    assert (await second.state())["mode"] == "bot"
    # The same browser asking in six conversations at once, on both hubs: still one place.
    visitor = {"channel": "web", "visitor": f"browser-race-{os.urandom(6).hex()}"}  # counters in Redis outlive a run
    chats = [Customer(session, flood_hubs[i % 2].url,
                      (await post_json(session, f"{flood_hubs[i % 2].url}/api/conversations", visitor, {}))[2])
             for i in range(6)]
    sent = await asyncio.gather(*(c.send("转人工") for c in chats))
    assert {code for code, _ in sent} == {200}, sent
    assert [(await c.state())["mode"] for c in chats].count("queued") == 1, [d["replies"][-1]["text"] for _, d in sent]


async def test_agent_scope_is_the_same_on_both_hubs(flood_hubs: list[HubProcess], session) -> None:
    forget_local_counters()
    one, two = flood_hubs
    a1, a2 = await login(session, one.url, "agent1"), await login(session, two.url, "agent2")
    await a1.presence("online")
    await a2.presence("online")
    customer = await open_customer(session, one.url)
    await customer.send("转人工")  # orders: agent1's group
    assert (await a1.call("POST", f"/api/agent/conversations/{customer.id}/claim"))[0] == 200
    assert (await a2.call("GET", f"/api/agent/conversations/{customer.id}"))[0] == 403
    other = await open_customer(session, two.url)
    await other.send("我要投诉")  # refunds: agent2's group
    async with a2.ws(two.ws_url) as ws:
        await next_event(ws, "queue")
        await customer.send("只给小李看")
        await other.send("退款进度")
        got = await next_event(ws, "message", timeout=10, where=lambda e: e["message"]["author"] == "customer")
        assert got["conversation_id"] == other.id
    await a2.presence("offline")
    status, data = await a1.call("POST", f"/api/agent/conversations/{customer.id}/transfer", {"agent_id": a2.id})
    assert status == 403 and data["error"]["code"] == "agent_not_online"
