"""The hardening holds with two hub processes on one PostgreSQL and one Redis: the login limit
is shared, ending a session closes its consoles on the other hub, and PostgreSQL-only hostile
input (NUL) is refused. Runs (never skips) under CI=true.

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

from tests.services import REDIS_URL

from .conftest import ROOT, HubProcess, RasaStandIn, hub_processes, login, next_event, open_customer
from .test_hardening import GUARD_PASSWORD, attempt, create_agents, guard_login, raw_post
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
    guesses = [f"wrong-{i}" for i in range(40)]
    guesses[36] = GUARD_PASSWORD
    results = await asyncio.gather(*(
        attempt(session, hubs[i % 2], "pguard1", g, f"10.9.{i}.1")  # forged addresses, ignored
        for i, g in enumerate(guesses)))
    statuses = [code for code, _ in results]
    assert len([s for s in statuses if s != 429]) <= 10, statuses
    assert statuses[36] != 200 or statuses.count(429) >= 30
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
