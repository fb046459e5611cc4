"""History search, transcripts, the sidebar's customer history and 质检 scores, against real hub
processes: one hub on SQLite, and two hubs on one PostgreSQL + Redis (customers on one, agents
and supervisors on the other). Conversations are made through the customer API with the Rasa
stand-in, as a customer makes them.

The PostgreSQL variant runs (never skips) under CI=true.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import sqlalchemy as sa

from handoff.identity import sign_identity
from tests.services import REDIS_URL, fresh_pg_database, require_services

from .conftest import (
    IDENTITY_SECRET,
    Agent,
    Customer,
    HubProcess,
    RasaStandIn,
    hub_processes,
    login,
)

ORDER = "2025061800004"
TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class World:
    """The hubs (customer side, agent side), the database, and the conversations made."""

    customer_url: str
    agent_url: str
    database_url: str
    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    agent_ids: dict[str, int] = field(default_factory=dict)
    ticket_id: int = 0
    first_day: date | None = None  # the shop's day when the world was begun and when it was done:
    last_day: date | None = None  # tests that run after midnight still look at the right days


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres,
                                                                                       pytest.mark.redis])])
def hubs(request: pytest.FixtureRequest, rasa: RasaStandIn,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, HubProcess, str]]:
    tmp = tmp_path_factory.mktemp(f"history-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'hub.db'}"
        hub = HubProcess({"HUB_DATABASE_URL": url, "RASA_URL": rasa.url}, tmp / "hub.log")
        try:
            yield hub, hub, url
        finally:
            hub.stop()
        return
    require_services()
    with fresh_pg_database("hub_history") as url:
        env = {"HUB_DATABASE_URL": url, "REDIS_URL": REDIS_URL, "RASA_URL": rasa.url}
        with hub_processes(env, tmp) as (hub1, hub2):
            yield hub1, hub2, url


async def _customer(session: aiohttp.ClientSession, base: str, identity: str | None = None,
                    visitor: str | None = None) -> Customer:
    body: dict[str, Any] = {"channel": "web"}
    if identity:
        body["identity"] = identity
    if visitor:
        body["visitor"] = visitor
    async with session.post(f"{base}/api/conversations", json=body) as r:
        assert r.status == 201, await r.text()
        return Customer(session, base, await r.json())


async def _say(customer: Customer, *texts: str) -> None:
    for text in texts:
        code, data = await customer.send(text, uuid.uuid4().hex)
        assert code == 200, data


async def _ok(agent: Agent, method: str, path: str, body: dict | None = None) -> dict:
    code, data = await agent.call(method, path, body)
    assert code == 200, (path, data)
    return data


async def _serve(agent: Agent, customer: Customer, reply: str, note: str | None = None,
                 close: bool = True, rating: int | None = None) -> None:
    path = f"/api/agent/conversations/{customer.id}"
    await _ok(agent, "POST", f"{path}/claim")
    await _ok(agent, "POST", f"{path}/messages", {"text": reply})
    if note:
        await _ok(agent, "POST", f"{path}/messages", {"text": note, "internal": True})
    if close:
        await _ok(agent, "POST", f"{path}/close")
        if rating is not None:
            code, data = await customer.post("csat", {"score": rating})
            assert code == 200, data


@pytest.fixture(scope="module")
def world(hubs: tuple[HubProcess, HubProcess, str]) -> World:
    return asyncio.run(_build_world(*hubs))


async def _build_world(customer_hub: HubProcess, agent_hub: HubProcess, url: str) -> World:
    """A1: 王小明 (signed in) asks about an order, answers the phone tail, complains: agent2 serves,
    he rates 5 and leaves a message. B: an anonymous visitor types a full phone number, 100%_
    and HTML, asks for a person: agent1 serves, rating 2. A2: 王小明 again, now with agent1."""
    w = World(customer_hub.url, agent_hub.url, url, first_day=datetime.now(TZ).date())
    identity = sign_identity("C2001", IDENTITY_SECRET, name="王小明")
    async with aiohttp.ClientSession() as s:
        sup, a1, a2 = [await login(s, agent_hub.url, n) for n in ("supervisor", "agent1", "agent2")]
        for agent in (sup, a1, a2):
            await agent.presence("online")
            w.agent_ids[agent.info["username"]] = agent.id

        first = await _customer(s, customer_hub.url, identity)
        await _say(first, f"我的订单{ORDER}到哪了", "1234", "我要投诉你们，等了好久")
        await _serve(a2, first, "您好，订单已发货，请留意物流", note="内部：核实物流单号", rating=5)
        code, data = await first.post("leave_message", {"text": "请再帮我催一下快递", "contact": "王先生"})
        assert code == 201, data
        w.ticket_id = data["ticket_id"]

        anon = await _customer(s, customer_hub.url, visitor="visitor-b-12345678")
        await _say(anon, "我的手机13912345678，100%_满意 <img src=x onerror=alert(1)>", "我要转人工")
        await _serve(a1, anon, "好的，已为您登记", rating=2)

        second = await _customer(s, customer_hub.url, identity)
        await _say(second, "我要转人工")
        await _serve(a1, second, "您好，我是小李", close=False)
        w.ids.update(a1=first.id, b=anon.id, a2=second.id)
        w.tokens.update(a1=first.token, b=anon.token, a2=second.token)
    w.last_day = datetime.now(TZ).date()
    return w


@pytest.fixture
async def sup(world: World, session: aiohttp.ClientSession) -> Agent:
    return await login(session, world.agent_url, "supervisor")


@pytest.fixture
async def agent1(world: World, session: aiohttp.ClientSession) -> Agent:
    return await login(session, world.agent_url, "agent1")


@pytest.fixture
async def agent2(world: World, session: aiohttp.ClientSession) -> Agent:
    return await login(session, world.agent_url, "agent2")


async def _search(agent: Agent, expect: int = 200, **params: Any) -> dict:
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    code, data = await agent.call("GET", f"/api/agent/history?{query}")
    assert code == expect, (params, data)
    return data


async def _found(agent: Agent, **params: Any) -> list[str]:
    return [i["conversation_id"] for i in (await _search(agent, **params))["items"]]


async def test_each_criterion_finds_its_conversations(world: World, sup: Agent) -> None:
    a1, b, a2 = world.ids["a1"], world.ids["b"], world.ids["a2"]
    assert await _found(sup) == [a2, b, a1]  # newest activity first
    assert await _found(sup, customer="C2001") == [a2, a1]
    assert await _found(sup, customer="小明") == [a2, a1]
    assert await _found(sup, customer="visitor-b-12345678") == [b]
    assert await _found(sup, order=ORDER) == [a1]
    assert await _found(sup, order="２０２５０６１８００００４") == [a1]  # full-width digits
    assert await _found(sup, order="2025061800009") == []
    assert await _found(sup, phone_tail="1234") == [a1]  # the verification answer
    assert await _found(sup, phone_tail="5678") == [b]  # the tail of a typed number
    assert await _found(sup, agent_id=world.agent_ids["agent2"]) == [a1]
    assert await _found(sup, agent_id=world.agent_ids["agent1"]) == [a2, b]
    assert await _found(sup, reason="angry") == [a1]
    assert await _found(sup, reason="requested") == [a2, b]
    assert await _found(sup, reason="urgent") == []
    assert await _found(sup, rating=5) == [a1]
    assert await _found(sup, rating=2) == [b]
    assert await _found(sup, q="已发货") == [a1]  # agent text
    assert await _found(sup, q="收到：1234") == [a1]  # the bot part
    assert await _found(sup, q="核实物流") == [a1]  # internal notes are searched too
    assert await _found(sup, q="转人工") == [a2, b]
    assert await _found(sup, customer="C2001", q="转人工") == [a2]  # criteria combine
    first, last = world.first_day, world.last_day
    assert first and last
    assert await _found(sup, **{"from": first.isoformat(), "to": last.isoformat()}) == [a2, b, a1]
    assert await _found(sup, **{"to": (first - timedelta(days=1)).isoformat()}) == []


async def test_a_result_says_who_when_why_and_how_it_went(world: World, sup: Agent) -> None:
    [item] = (await _search(sup, order=ORDER))["items"]
    assert item["customer_id"] == "C2001" and item["customer_name"] == "王小明" and item["channel"] == "web"
    assert item["reasons"] == ["angry"] and item["rating"] == 5 and item["scorable"] is True
    assert [a["display_name"] for a in item["agents"]] == ["客服 小陈"]
    assert item["snippet"] == f"我的订单{ORDER}到哪了"
    [b] = (await _search(sup, phone_tail="5678"))["items"]
    assert "139****5678" in b["snippet"] and "13912345678" not in b["snippet"]
    [live] = (await _search(sup, customer="C2001", q="转人工"))["items"]
    assert live["mode"] == "agent" and live["scorable"] is False and live["rating"] is None


async def test_answers_are_the_documented_shapes(world: World, sup: Agent, agent1: Agent) -> None:
    """Real answers against the schemas /openapi.json publishes (the strict check of test_shapes)."""
    from .test_shapes import conforms

    def check(value: dict, name: str) -> None:
        conforms(value, {"$ref": f"#/components/schemas/{name}"})

    page = await _search(sup)
    check(page, "HistoryPage")
    today = datetime.now(TZ).date()
    assert page["to"] == today.isoformat() and page["from"] == (today - timedelta(days=29)).isoformat()
    check(await _ok(sup, "GET", f"/api/agent/history/{world.ids['a1']}"), "Transcript")
    check(await _ok(sup, "GET", f"/api/agent/history/{world.ids['b']}"), "Transcript")
    check(await _ok(agent1, "GET", f"/api/agent/conversations/{world.ids['a2']}/customer_history"), "CustomerHistory")
    check(await _ok(sup, "GET", "/api/supervisor/qa/agents"), "QaAgents")


async def test_like_wildcards_are_literal(world: World, sup: Agent) -> None:
    b = world.ids["b"]
    assert await _found(sup, q="%") == [b]
    assert await _found(sup, q="_") == [b]
    assert await _found(sup, q="100%_满意") == [b]
    assert await _found(sup, q="100%x") == []
    assert await _found(sup, q="\\") == []
    assert await _found(sup, q="<img src=x") == [b]


async def test_pages_follow_each_other_newest_first(world: World, sup: Agent) -> None:
    everything = await _found(sup)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = await _search(sup, **params)
        seen += [i["conversation_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything and len(everything) >= 3


async def test_date_range_goes_by_last_activity(world: World, sup: Agent) -> None:
    """A conversation whose activity ended 40 days ago is outside the default 30 days."""
    engine = sa.create_engine(world.database_url)
    old = datetime.now(TZ) - timedelta(days=40)
    hub_a1 = world.ids["a1"]
    with engine.begin() as conn:
        before = conn.execute(sa.text("SELECT created_at, updated_at FROM hub_conversations WHERE id = :i"),
                              {"i": hub_a1}).one()
        shift = time.time() - old.timestamp()
        conn.execute(sa.text("UPDATE hub_conversations SET created_at = created_at - :s, updated_at = updated_at - :s "
                             "WHERE id = :i"), {"s": shift, "i": hub_a1})
    try:
        assert hub_a1 not in await _found(sup)
        day = old.date().isoformat()
        assert await _found(sup, **{"from": day, "to": day}) == [hub_a1]
        assert await _found(sup, order=ORDER, **{"from": (old.date() - timedelta(days=5)).isoformat()}) == [hub_a1]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE hub_conversations SET created_at = :c, updated_at = :u WHERE id = :i"),
                         {"c": before.created_at, "u": before.updated_at, "i": hub_a1})
        engine.dispose()


async def test_transcript_has_every_part_read_only(world: World, sup: Agent) -> None:
    t = await _ok(sup, "GET", f"/api/agent/history/{world.ids['a1']}")
    authors = [m["author"] for m in t["messages"]]
    assert {"customer", "bot", "agent", "system"} <= set(authors)
    notes = [m for m in t["messages"] if m["internal"]]
    assert [n["text"] for n in notes] == ["内部：核实物流单号"]
    assert [m["seq"] for m in t["messages"]] == sorted(m["seq"] for m in t["messages"])
    [h] = t["handoffs"]
    assert h["reason"] == "angry" and h["agent"]["display_name"] == "客服 小陈" and h["closed_at"]
    assert [r["score"] for r in t["ratings"]] == [5]
    assert [tk["id"] for tk in t["tickets"]] == [world.ticket_id]
    assert t["order_numbers"] == [ORDER] and t["phone_tails"] == ["1234"] and t["scorable"] is True
    tb = await _ok(sup, "GET", f"/api/agent/history/{world.ids['b']}")
    texts = " ".join(m["text"] for m in tb["messages"])
    assert "139****5678" in texts and "13912345678" not in texts
    assert "<img src=x onerror=alert(1)>" in texts  # stored and sent as text; the console shows it as text
    # GET only: nothing writes a past conversation
    code, _ = await sup.call("POST", f"/api/agent/history/{world.ids['a1']}")
    assert code == 405


async def test_agents_see_only_what_they_handled(world: World, agent1: Agent, agent2: Agent,
                                                 session: aiohttp.ClientSession) -> None:
    assert await _found(agent2) == [world.ids["a1"]]
    assert await _found(agent1) == [world.ids["a2"], world.ids["b"]]
    assert await _found(agent2, q="转人工") == []  # text search stays inside their own
    assert await _found(agent2, agent_id=world.agent_ids["agent2"]) == [world.ids["a1"]]
    code, data = await agent2.call("GET", f"/api/agent/history?agent_id={world.agent_ids['agent1']}")
    assert code == 403 and data["error"]["code"] == "supervisor_only"
    code, data = await agent2.call("GET", f"/api/agent/history/{world.ids['b']}")
    assert code == 403 and data["error"]["code"] == "not_in_scope"
    for path in ("/api/supervisor/qa/agents", f"/api/agent/conversations/{world.ids['a2']}/customer_history"):
        code, _ = await agent2.call("GET", path)
        assert code == 403, path
    code, _ = await agent1.call("PUT", f"/api/supervisor/qa/scores/{world.ids['b']}",
                                {"greeting": 5, "correct": 5, "resolved": 5, "attitude": 5})
    assert code == 403


async def test_customers_never_reach_the_history(world: World, session: aiohttp.ClientSession) -> None:
    token = world.tokens["a1"]
    for base in {world.customer_url, world.agent_url}:
        for path in ("/api/agent/history", f"/api/agent/history/{world.ids['a1']}",
                     f"/api/agent/conversations/{world.ids['a2']}/customer_history", "/api/supervisor/qa/agents"):
            for headers in ({}, {"Authorization": f"Bearer {token}"}):
                async with session.get(base + path, headers=headers) as r:
                    assert r.status == 401, (path, headers)
        async with session.put(f"{base}/api/supervisor/qa/scores/{world.ids['a1']}",
                               headers={"Authorization": f"Bearer {token}"},
                               json={"greeting": 1, "correct": 1, "resolved": 1, "attitude": 1}) as r:
            assert r.status == 401


async def test_sidebar_shows_the_customers_earlier_chats_while_serving(world: World, agent1: Agent,
                                                                        sup: Agent) -> None:
    side = await _ok(agent1, "GET", f"/api/agent/conversations/{world.ids['a2']}/customer_history")
    assert side["link"] == "customer"
    assert [c["conversation_id"] for c in side["conversations"]] == [world.ids["a1"]]
    assert side["conversations"][0]["reasons"] == ["angry"]
    assert [t["id"] for t in side["tickets"]] == [world.ticket_id]
    assert "transcript" not in side["tickets"][0]
    # agent1 never handled A1 but serves its customer now: the transcript opens
    t = await _ok(agent1, "GET", f"/api/agent/history/{world.ids['a1']}")
    assert t["customer_id"] == "C2001"
    # an anonymous visitor is tied by the browser's visitor id, and says so
    sb = await _ok(sup, "GET", f"/api/agent/conversations/{world.ids['b']}/customer_history")
    assert sb["link"] == "browser" and sb["conversations"] == []


async def test_scoring_a_closed_conversation_and_the_agent_averages(world: World, sup: Agent, agent2: Agent,
                                                                    agent1: Agent) -> None:
    path = f"/api/supervisor/qa/scores/{world.ids['a1']}"
    score = await _ok(sup, "PUT", path, {"greeting": 4, "correct": 5, "resolved": 3, "attitude": 4,
                                         "comment": "<b>语气</b>可以更热情"})
    assert score["agent"]["display_name"] == "客服 小陈" and score["supervisor"]["display_name"] == "主管 王敏"
    assert score["comment"] == "<b>语气</b>可以更热情"
    edited = await _ok(sup, "PUT", path, {"greeting": 5, "correct": 5, "resolved": 4, "attitude": 4})
    assert edited["comment"] is None and edited["greeting"] == 5
    [served] = (await _ok(sup, "GET", f"/api/agent/history/{world.ids['a1']}"))["handoffs"]
    day = datetime.fromtimestamp(served["closed_at"], TZ).date()
    figures = await _ok(sup, "GET", f"/api/supervisor/qa/agents?from={day}&to={day}")
    [row] = [r for r in figures["items"] if r["agent_id"] == world.agent_ids["agent2"]]
    assert row["count"] == 1  # one score per conversation and supervisor: the edit replaced it
    assert (row["greeting"], row["correct"], row["resolved"], row["attitude"], row["overall"]) == (5, 5, 4, 4, 4.5)
    yesterday = (day - timedelta(days=1)).isoformat()
    assert (await _ok(sup, "GET", f"/api/supervisor/qa/agents?from={yesterday}&to={yesterday}"))["items"] == []
    [item] = (await _search(sup, order=ORDER))["items"]
    assert item["qa"] == {"count": 1, "avg": 4.5}
    [own] = (await _search(agent2, order=ORDER))["items"]
    assert own["qa"] == {"count": 1, "avg": 4.5}  # the scored agent sees their score
    side = await _ok(agent1, "GET", f"/api/agent/conversations/{world.ids['a2']}/customer_history")
    assert side["conversations"][0]["qa"] == {"count": 0, "avg": None}  # a colleague's score stays hidden
    # the scored agent sees the score in the transcript; another agent (serving the customer) does not
    assert [s["greeting"] for s in (await _ok(agent2, "GET", f"/api/agent/history/{world.ids['a1']}"))["qa"]] == [5]
    assert (await _ok(agent1, "GET", f"/api/agent/history/{world.ids['a1']}"))["qa"] == []
    code, data = await sup.call("PUT", f"/api/supervisor/qa/scores/{world.ids['a2']}",
                                {"greeting": 5, "correct": 5, "resolved": 5, "attitude": 5})
    assert code == 409 and data["error"]["code"] == "not_closed"


@pytest.mark.parametrize("body,code", [
    ({"greeting": 6, "correct": 5, "resolved": 5, "attitude": 5}, "invalid_greeting"),
    ({"greeting": 0, "correct": 5, "resolved": 5, "attitude": 5}, "invalid_greeting"),
    ({"greeting": True, "correct": 5, "resolved": 5, "attitude": 5}, "invalid_greeting"),
    ({"greeting": "5", "correct": 5, "resolved": 5, "attitude": 5}, "invalid_greeting"),
    ({"greeting": 10**30, "correct": 5, "resolved": 5, "attitude": 5}, "invalid_greeting"),
    ({"greeting": 5, "correct": 5, "resolved": 5}, "invalid_attitude"),
    ({"greeting": 5, "correct": 5, "resolved": 5, "attitude": 5, "comment": "x" * 1001}, "invalid_comment"),
    ({"greeting": 5, "correct": 5, "resolved": 5, "attitude": 5, "comment": 7}, "invalid_comment"),
    ({"greeting": 5, "correct": 5, "resolved": 5, "attitude": 5, "agent_id": 1}, "unknown_parameter"),
])
async def test_hostile_scores_are_refused(world: World, sup: Agent, body: dict, code: str) -> None:
    status, data = await sup.call("PUT", f"/api/supervisor/qa/scores/{world.ids['b']}", body)
    assert status == 400 and data["error"]["code"] == code


async def test_hostile_scores_in_raw_bodies(world: World, sup: Agent, session: aiohttp.ClientSession) -> None:
    url = f"{world.agent_url}/api/supervisor/qa/scores/{world.ids['b']}"
    for raw in (b'{"greeting": 5, "correct": 5, "resolved": 5, "attitude": 5, "comment": "\\u0000"}',
                b'{"greeting": 5, "correct": 5, "resolved": 5, "attitude": 5, "comment": "\\ud800"}',
                b"[1, 2]", b"{" * 5000):
        async with session.put(url, data=raw, headers={**sup.headers, "Content-Type": "application/json"}) as r:
            assert r.status == 400, raw[:40]
    code, _ = await sup.call("PUT", "/api/supervisor/qa/scores/" + "f" * 32,
                             {"greeting": 5, "correct": 5, "resolved": 5, "attitude": 5})
    assert code == 404


@pytest.mark.parametrize("query,code", [
    ("q=%00", "invalid_unicode"),
    ("q=%ED%A0%80", None),
    ("q=" + "字" * 101, "invalid_q"),
    ("q=%20%20", "invalid_q"),
    ("q=13912345678", "use_phone_tail"),
    ("q=139%201234%205678", None),  # spaced out, still no full number; accepted as text
    ("agent_id=" + "9" * 30, "invalid_agent_id"),
    ("agent_id=-1", "invalid_agent_id"),
    ("rating=6", "invalid_rating"),
    ("rating=1e400", "invalid_rating"),
    ("limit=1000", "invalid_limit"),
    ("limit=0", "invalid_limit"),
    ("order=12345", "invalid_order"),
    ("order=2025061800004%25", "invalid_order"),
    ("phone_tail=13912345678", "invalid_phone_tail"),
    ("reason=%3Cscript%3E", "invalid_reason"),
    ("customer=" + "x" * 129, "invalid_customer"),
    ("from=1700000000", "invalid_from"),
    ("from=2026-02-30", "invalid_from"),
    ("from=2020-01-01&to=2022-01-01", "range_too_long"),
    ("q=a&from=2026-01-01&to=2026-06-01", "range_too_long"),
    ("from=2026-03-01&to=2026-02-01", "invalid_range"),
    ("from=9999-12-30&to=9999-12-31", "invalid_to"),
    ("cursor=nonsense", "invalid_cursor"),
    ("cursor=" + "9" * 300 + "_" + "a" * 32, "invalid_cursor"),
    ("page=2", "unknown_parameter"),
    ("q=a&q=b", "repeated_parameter"),
])
async def test_hostile_search_input_is_refused_clearly(world: World, sup: Agent, query: str, code: str | None) -> None:
    status, data = await sup.call("GET", f"/api/agent/history?{query}")
    if code is None:
        assert status in (200, 400), data
        if status == 400:
            assert data["error"]["code"] in ("invalid_unicode", "invalid_q")
        return
    assert status == 400 and data["error"]["code"] == code, data


async def test_search_text_is_bounded_and_html_is_only_text(world: World, sup: Agent) -> None:
    assert await _found(sup, q="<script>alert(1)</script>") == []
    assert await _found(sup, q="' OR 1=1 --") == []
    assert await _found(sup, customer="%") == []  # a wildcard as a name matches nobody
    code, _ = await sup.call("GET", "/api/agent/history/" + "x" * 32)
    assert code == 404


async def test_ending_the_chat_ends_the_view_of_the_customers_history(world: World, agent1: Agent) -> None:
    """Last in the module: A2 is closed, and agent1 (who never handled A1) loses access to it."""
    await _ok(agent1, "POST", f"/api/agent/conversations/{world.ids['a2']}/close")
    code, _ = await agent1.call("GET", f"/api/agent/history/{world.ids['a1']}")
    assert code == 403
    code, _ = await agent1.call("GET", f"/api/agent/conversations/{world.ids['a2']}/customer_history")
    assert code == 403
    assert world.ids["a2"] in await _found(agent1)  # the chats they served stay theirs


def test_the_date_helper_rejects_what_it_cannot_represent() -> None:
    from handoff.errors import ApiError
    from handoff.history import day_range

    since, until, start, end = day_range("Asia/Shanghai", date(2026, 1, 1), date(2026, 1, 1), 366)
    assert until - since == 86400 and start == end
    with pytest.raises(ApiError):
        day_range("Asia/Shanghai", date(2025, 1, 1), date(2026, 1, 2), 366)
