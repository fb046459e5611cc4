"""Presence follows the consoles across hub processes (PostgreSQL + Redis, HUB_ASSIGN=auto).

An online agent whose last console websocket is gone, on whichever hub it was, becomes away
after HUB_AGENT_AWAY_AFTER (1 s here) and gets no auto-assigned chats; a console connecting
again restores an automatic away, never a deliberate one. A hub killed outright stops
stamping its consoles, and another hub notices. Runs (never skips) under CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import REDIS_URL

from .conftest import Agent, HubProcess, RasaStandIn, login, next_event, open_customer
from .test_scale import pg_database  # noqa: F401  (fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

AWAY_AFTER = "1"
EVENT_WAIT = 20.0  # generous: a wait for the event, not a bound on how fast it comes


def start_hub(env: dict[str, str], tmp: Path, name: str) -> HubProcess:
    return HubProcess(env, tmp / f"{name}.log")


@pytest.fixture(scope="module")
def env(pg_database: str, rasa: RasaStandIn) -> dict[str, str]:  # noqa: F811
    return {"HUB_DATABASE_URL": pg_database, "REDIS_URL": REDIS_URL, "RASA_URL": rasa.url,
            "HUB_ASSIGN": "auto", "HUB_AGENT_AWAY_AFTER": AWAY_AFTER}


@pytest.fixture(scope="module")
def hubs(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HubProcess]]:
    tmp = tmp_path_factory.mktemp("presence")
    started: list[HubProcess] = []
    try:
        for i in (1, 2):
            started.append(start_hub(env, tmp, f"hub{i}"))
        yield started
    finally:
        for proc in started:
            proc.stop()


async def presence_of(agent: Agent, agent_id: int) -> str:
    code, data = await agent.call("GET", "/api/agent/agents")
    assert code == 200, data
    return next(a["presence"] for a in data["agents"] if a["id"] == agent_id)


async def test_closed_console_goes_away_and_comes_back(hubs: list[HubProcess], session) -> None:
    hub1, hub2 = hubs
    sup = await login(session, hub2.url, "supervisor")
    await sup.presence("offline")
    a1 = await login(session, hub1.url, "agent1")
    a2 = await login(session, hub1.url, "agent2")
    await a2.presence("offline")
    async with sup.ws(hub2.ws_url) as watch:
        await next_event(watch, "queue")
        async with a1.ws(hub1.ws_url) as console:
            await next_event(console, "queue")
            await a1.presence("online")
        # The console on hub1 is gone; hub1 or hub2 notices and tells every console.
        event = await next_event(watch, "presence", EVENT_WAIT, agent_id=a1.id, presence="away")
        assert event["auto"] is True
        assert await presence_of(sup, a1.id) == "away"

        # Nobody online: a new chat waits instead of going to the absent agent.
        customer = await open_customer(session, hub2.url)
        await customer.send("转人工")
        state = await customer.state()
        assert state["mode"] == "queued" and state["agent"] is None

        # The console reconnects (on the other hub): online again, and the waiting chat is assigned.
        async with a1.ws(hub2.ws_url) as console:
            await next_event(console, "presence", EVENT_WAIT, agent_id=a1.id, presence="online")
            await next_event(watch, "assigned", EVENT_WAIT, conversation_id=customer.id, agent_id=a1.id)
            assert (await customer.state())["agent"]["display_name"] == a1.info["display_name"]
            await a1.call("POST", f"/api/agent/conversations/{customer.id}/return_to_bot")

            # A deliberate 离开 survives closing and reopening the console.
            await a1.presence("away")
        async with a1.ws(hub1.ws_url) as console:
            await next_event(console, "queue")  # sent after the reconnect was handled
            assert await presence_of(sup, a1.id) == "away"
        await a1.presence("offline")


async def test_console_on_a_killed_hub_counts_as_gone(hubs: list[HubProcess], env: dict[str, str], session,
                                                      tmp_path: Path) -> None:
    hub1, hub2 = hubs
    hub3 = start_hub(env, tmp_path, "hub3")
    try:
        sup = await login(session, hub2.url, "supervisor")
        await sup.presence("offline")
        a1 = await login(session, hub1.url, "agent1")
        a2 = await login(session, hub3.url, "agent2")
        async with sup.ws(hub2.ws_url) as watch, a2.ws(hub3.ws_url) as a2_console:
            await next_event(a2_console, "queue")
            await a2.presence("online")
            async with a1.ws(hub1.ws_url) as a1_console:
                await next_event(a1_console, "queue")
                await a1.presence("online")
            # agent1's console closed after agent2's opened. The sweep that sets agent1 away
            # would take agent2 too if hub3's heartbeat did not keep agent2's console alive.
            await next_event(watch, "presence", EVENT_WAIT, agent_id=a1.id, presence="away")
            assert await presence_of(sup, a2.id) == "online"

            hub3.proc.kill()  # no goodbye: the socket is not closed by the hub, nothing is stamped
            hub3.proc.wait()
            await next_event(watch, "presence", EVENT_WAIT, agent_id=a2.id, presence="away")
            assert await presence_of(sup, a2.id) == "away"
    finally:
        hub3.stop()
    a2.base = hub1.url  # the session is in the database: any hub serves it
    await a1.presence("offline")
    await a2.presence("offline")
