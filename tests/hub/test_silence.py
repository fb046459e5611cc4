"""Nobody waits on a silent agent, against real hub processes: one on SQLite, two on PostgreSQL +
Redis (both run the watcher: each breach is alerted exactly once). The agent hears of it after the
first limit, the supervisors after the second; an answer in time ends it; a supervisor takes the
chat back to its original place in the queue; a team can switch alerts off; a restarted hub
alerts nothing twice."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from .conftest import Customer, HubProcess, RasaStandIn, login, next_event, open_customer
from .desk_support import BACKENDS, desk_hubs, query

pytestmark = pytest.mark.slow

AGENT_AFTER, SUPERVISOR_AFTER = 1.5, 3.0
ENV = {"HUB_SILENCE_AGENT_AFTER": str(AGENT_AFTER), "HUB_SILENCE_SUPERVISOR_AFTER": str(SUPERVISOR_AFTER),
       "HUB_SILENCE_CHECK_EVERY": "0.3"}


@pytest.fixture(scope="module", params=BACKENDS)
def desk(request: pytest.FixtureRequest, rasa: RasaStandIn,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[HubProcess], str]]:
    with desk_hubs(request.param, rasa, tmp_path_factory.mktemp("silence"), **ENV) as found:
        yield found


async def _collect(ws: Any, seconds: float) -> list[dict]:
    """Every event a console gets within ``seconds``."""
    events: list[dict] = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except asyncio.TimeoutError:
            break
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        events.append(json.loads(msg.data))
    return events


def _silence(events: list[dict], conversation_id: str) -> list[str]:
    return [e["alert"]["level"] for e in events if e["type"] == "silence" and e["conversation_id"] == conversation_id]


async def _queued(session: aiohttp.ClientSession, hub: HubProcess) -> Customer:
    customer = await open_customer(session, hub.url)
    code, _ = await customer.send("请帮我转人工")
    assert code == 200 and (await customer.state())["mode"] == "queued"
    return customer


async def test_each_breach_alerted_once_then_taken_back_to_its_place(desk, session) -> None:
    hubs, url = desk
    first, last = hubs[0], hubs[-1]
    sup = await login(session, last.url, "supervisor")
    a1 = await login(session, first.url, "agent1")
    a2 = await login(session, last.url, "agent2")
    await a1.presence("online")
    ahead = await _queued(session, first)
    customer = await _queued(session, last)
    async with a1.ws(first.ws_url) as aws, sup.ws(last.ws_url) as sws, a2.ws(first.ws_url) as other:
        code, _ = await a1.call("POST", f"/api/agent/conversations/{customer.id}/claim")
        assert code == 200
        behind = await _queued(session, first)  # joins the queue while the chat is with agent1
        got = await asyncio.gather(_collect(aws, SUPERVISOR_AFTER + 2.5), _collect(sws, SUPERVISOR_AFTER + 2.5),
                                   _collect(other, SUPERVISOR_AFTER + 2.5))
    agent_events, sup_events, other_events = got
    assert _silence(agent_events, customer.id) == ["agent", "supervisor"]
    assert _silence(sup_events, customer.id) == ["agent", "supervisor"]
    assert _silence(other_events, customer.id) == []  # a colleague hears nothing of it
    rows = query(url, "SELECT level, agent_id FROM hub_silence_alerts WHERE conversation_id = :c", c=customer.id)
    assert sorted(r["level"] for r in rows) == ["agent", "supervisor"] and {r["agent_id"] for r in rows} == {a1.id}
    # The agent sees their customer waiting (and since when); a colleague does not.
    _, mine = await a1.call("GET", "/api/agent/silence")
    assert customer.id in [w["conversation_id"] for w in mine["waiting"]]
    assert {a["level"] for a in mine["alerts"] if a["conversation_id"] == customer.id} == {"agent", "supervisor"}
    _, theirs = await a2.call("GET", "/api/agent/silence")
    assert customer.id not in [w["conversation_id"] for w in theirs["waiting"] + theirs["alerts"]]

    # Only a supervisor takes a chat back; it goes back to its original place (ahead of `behind`).
    code, body = await a1.call("POST", f"/api/supervisor/conversations/{customer.id}/take_back")
    assert code == 403
    async with sup.ws(first.ws_url) as sws:
        code, body = await sup.call("POST", f"/api/supervisor/conversations/{customer.id}/take_back")
        assert code == 200 and body["mode"] == "queued"
        resolved = await next_event(sws, "silence_resolved", conversation_id=customer.id)
        assert resolved["resolution"] == "taken_back"
    _, queue = await sup.call("GET", "/api/agent/queue")
    order = [i["conversation_id"] for i in queue["items"]]
    assert order.index(ahead.id) < order.index(customer.id) < order.index(behind.id)
    state = await customer.state()
    assert state["mode"] == "queued" and state["queue"]["position"] == order.index(customer.id) + 1
    assert not query(url, "SELECT id FROM hub_silence_alerts WHERE conversation_id = :c AND resolved_at IS NULL",
                     c=customer.id)
    code, _ = await sup.call("POST", f"/api/supervisor/conversations/{customer.id}/take_back")
    assert code == 409  # no longer with an agent
    for c in (ahead, customer, behind):
        await sup.call("POST", f"/api/agent/conversations/{c.id}/return_to_bot")


async def test_an_answer_in_time_ends_the_wait(desk, session) -> None:
    hubs, url = desk
    a1 = await login(session, hubs[0].url, "agent1")
    await a1.presence("online")
    customer = await _queued(session, hubs[-1])
    async with a1.ws(hubs[-1].ws_url) as aws:
        await a1.call("POST", f"/api/agent/conversations/{customer.id}/claim")
        alert = await next_event(aws, "silence", timeout=AGENT_AFTER + 3, conversation_id=customer.id)
        assert alert["alert"]["level"] == "agent"
        code, _ = await a1.call("POST", f"/api/agent/conversations/{customer.id}/messages", {"text": "您好，我在"})
        assert code == 200
        await next_event(aws, "silence_resolved", timeout=3, conversation_id=customer.id)
        later = await _collect(aws, SUPERVISOR_AFTER)
    assert _silence(later, customer.id) == []  # answered: the supervisors are not alerted
    # The customer writes again: a new wait, judged from that message.
    code, _ = await customer.send("还有一个问题")
    await asyncio.sleep(AGENT_AFTER + 1.5)
    rows = query(url, "SELECT since FROM hub_silence_alerts WHERE conversation_id = :c AND level = 'agent' "
                      "ORDER BY since", c=customer.id)
    assert len(rows) == 2 and rows[1]["since"] > rows[0]["since"]
    await a1.call("POST", f"/api/agent/conversations/{customer.id}/close")


async def test_a_team_can_switch_alerts_off(desk, session) -> None:
    hubs, url = desk
    sup = await login(session, hubs[0].url, "supervisor")
    a1 = await login(session, hubs[-1].url, "agent1")
    code, _ = await a1.call("PUT", "/api/supervisor/teams/orders", {"silence_alerts": False})
    assert code == 403
    for body in ({"silence_alerts": "no"}, {"silence_alerts": True, "agent_after": 0},
                 {"silence_alerts": True, "agent_after": 1e12}, {"silence_alerts": True, "agent_after": 60,
                                                                 "supervisor_after": 30},
                 {"silence_alerts": True, "extra": 1}):
        code, data = await sup.call("PUT", "/api/supervisor/teams/orders", body)
        assert code == 400, (body, data)
    assert (await sup.call("PUT", "/api/supervisor/teams/nope", {"silence_alerts": False}))[0] == 404
    code, body = await sup.call("PUT", "/api/supervisor/teams/orders", {"silence_alerts": False})
    assert code == 200 and body["silence_alerts"] is False and body["custom"] is True
    try:
        await a1.presence("online")
        customer = await _queued(session, hubs[0])
        await a1.call("POST", f"/api/agent/conversations/{customer.id}/claim")
        await asyncio.sleep(AGENT_AFTER + 1.5)
        assert not query(url, "SELECT id FROM hub_silence_alerts WHERE conversation_id = :c", c=customer.id)
        _, state = await a1.call("GET", "/api/agent/silence")
        [orders] = [t for t in state["teams"] if t["skill"] == "orders"]
        assert orders["silence_alerts"] is False
    finally:
        code, body = await sup.call("PUT", "/api/supervisor/teams/orders",
                                    {"silence_alerts": True, "agent_after": None, "supervisor_after": None})
        assert code == 200 and body["agent_after"] == AGENT_AFTER
    await a1.call("POST", f"/api/agent/conversations/{customer.id}/close")


async def test_a_restarted_hub_alerts_nothing_twice(desk, session) -> None:
    hubs, url = desk
    a1 = await login(session, hubs[0].url, "agent1")
    await a1.presence("online")
    customer = await _queued(session, hubs[0])
    await a1.call("POST", f"/api/agent/conversations/{customer.id}/claim")
    await asyncio.sleep(SUPERVISOR_AFTER + 1.0)
    before = query(url, "SELECT id, level FROM hub_silence_alerts WHERE conversation_id = :c", c=customer.id)
    assert sorted(r["level"] for r in before) == ["agent", "supervisor"]
    for hub in hubs:
        hub.restart()
    async with aiohttp.ClientSession() as fresh:  # the old connections died with the processes
        a1 = await login(fresh, hubs[-1].url, "agent1")
        async with a1.ws(hubs[-1].ws_url) as aws:
            events = await _collect(aws, 2.0)
        assert _silence(events, customer.id) == []
        after = query(url, "SELECT id, level FROM hub_silence_alerts WHERE conversation_id = :c", c=customer.id)
        assert after == before
        _, state = await a1.call("GET", "/api/agent/silence")  # a reloaded console finds them open
        assert {a["level"] for a in state["alerts"] if a["conversation_id"] == customer.id} == {"agent", "supervisor"}
        await a1.call("POST", f"/api/agent/conversations/{customer.id}/close")
