"""Two hub processes on one PostgreSQL and one Redis behave as one hub.

Runs (never skips) under CI=true; elsewhere it skips only when PostgreSQL or Redis is absent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.services import REDIS_URL, fresh_pg_database, require_services

from .conftest import HubProcess, RasaStandIn, hub_processes, login, next_event, open_customer

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    require_services()
    with fresh_pg_database("hub_test") as url:
        yield url


@pytest.fixture(scope="module")
def hubs(pg_database: str, rasa: RasaStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HubProcess]]:
    # a window longer than any run: the shared count, not the machine's speed, decides the 429
    env = {"HUB_DATABASE_URL": pg_database, "REDIS_URL": REDIS_URL, "RASA_URL": rasa.url, "HUB_RATE_WINDOW": "600"}
    with hub_processes(env, tmp_path_factory.mktemp("scale")) as started:
        yield started


async def test_customer_on_hub1_agent_on_hub2(hubs: list[HubProcess], rasa: RasaStandIn, session) -> None:
    hub1, hub2 = hubs
    agent = await login(session, hub2.url, "agent1")
    await agent.presence("online")
    customer = await open_customer(session, hub1.url)
    async with customer.ws(hub1.ws_url) as cws, agent.ws(hub2.ws_url) as aws:
        await next_event(cws, "mode", mode="bot")
        await next_event(aws, "queue")
        code, data = await customer.send("请帮我转人工", "s-1")
        assert code == 200 and data["replies"][0]["author"] == "bot"
        queued = await next_event(aws, "queue", where=lambda e: customer.id in
                                  [i["conversation_id"] for i in e["items"]])
        assert queued["items"]
        code, _ = await agent.call("POST", f"/api/agent/conversations/{customer.id}/claim")
        assert code == 200
        assert (await next_event(cws, "agent_joined"))["display_name"] == agent.info["display_name"]
        await agent.call("POST", f"/api/agent/conversations/{customer.id}/messages", {"text": "您好，我来处理"})
        got = await next_event(cws, "message", where=lambda e: e["message"]["author"] == "agent")
        assert got["message"]["text"] == "您好，我来处理"
        await cws.send_json({"type": "message", "text": "订单少了一件", "client_msg_id": "s-2"})
        got = await next_event(aws, "message", conversation_id=customer.id,
                               where=lambda e: e["message"]["author"] == "customer")
        assert got["message"]["text"] == "订单少了一件"
        await agent.call("POST", f"/api/agent/conversations/{customer.id}/typing")
        await next_event(cws, "typing", author="agent")
        await agent.call("POST", f"/api/agent/conversations/{customer.id}/close")
        await next_event(cws, "csat_request")
    # Both hubs read the same record.
    state_hub2 = await (await open_customer(session, hub2.url)).state()
    assert state_hub2["mode"] == "bot"
    from .conftest import Customer

    same = Customer(session, hub2.url, {"conversation_id": customer.id, "token": customer.token})
    assert [m["text"] for m in (await same.state())["messages"]] == [m["text"] for m in (await customer.state())["messages"]]
    assert (await same.post("csat", {"score": 4}))[0] == 200
    assert len([r for r in rasa.for_sender(customer.id) if r["message"] == "订单少了一件"]) == 0


async def test_claim_race_across_hubs(hubs: list[HubProcess], session) -> None:
    hub1, hub2 = hubs
    a1 = await login(session, hub1.url, "agent1")
    a2 = await login(session, hub2.url, "agent2")
    for _ in range(5):
        customer = await open_customer(session, hub1.url)
        await customer.send("空回复")  # the bot fails: queued for general, both agents' group
        path = f"/api/agent/conversations/{customer.id}/claim"
        results = await asyncio.gather(a1.call("POST", path), a2.call("POST", path))
        assert sorted(code for code, _ in results) == [200, 409]
        winner = a1 if results[0][0] == 200 else a2
        await winner.call("POST", f"/api/agent/conversations/{customer.id}/return_to_bot")


async def test_idempotency_and_rate_limit_across_hubs(hubs: list[HubProcess], session) -> None:
    hub1, hub2 = hubs
    from .conftest import Customer

    c1 = await open_customer(session, hub1.url)
    c2 = Customer(session, hub2.url, {"conversation_id": c1.id, "token": c1.token})
    results = await asyncio.gather(c1.send("同一条", "same"), c2.send("同一条", "same"))
    assert results[0][1]["message"]["id"] == results[1][1]["message"]["id"]
    codes = [(await (c1 if i % 2 else c2).send(f"m{i}", f"k{i}"))[0] for i in range(21)]
    assert codes[:18] == [200] * 18
    assert codes.count(429) >= 1  # the window is shared through Redis
