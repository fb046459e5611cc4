"""Quality figures with two hub processes on one PostgreSQL and Redis: chats driven through the
real API across both hubs (customer on one, agent on the other) are counted the same on either
hub, a repeat complaint is flagged to the agent's queue, and the customer's NPS answer is stored.

Runs (never skips) under CI=true; elsewhere it skips only when PostgreSQL or Redis is absent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

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
    open_customer,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    require_services()
    with fresh_pg_database("hub_quality_scale") as url:
        yield url


@pytest.fixture(scope="module")
def hubs(pg_database: str, rasa: RasaStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HubProcess]]:
    env = {"HUB_DATABASE_URL": pg_database, "REDIS_URL": REDIS_URL, "RASA_URL": rasa.url}
    with hub_processes(env, tmp_path_factory.mktemp("quality-scale")) as started:
        yield started


async def complaint_served(customer: Customer, agent: Agent, score: int, nps: int | None) -> dict:
    """The customer complains (the stand-in bot hands off for anger, refunds group); the agent
    on the other hub takes it, answers and closes; the customer rates. The queue item as the agent saw it."""
    code, data = await customer.send("我要投诉，退款拖了半个月")
    assert code == 200 and data["replies"]
    code, queue = await agent.call("GET", "/api/agent/queue")
    assert code == 200
    [item] = [i for i in queue["items"] if i["conversation_id"] == customer.id]
    path = f"/api/agent/conversations/{customer.id}"
    assert (await agent.call("POST", path + "/claim"))[0] == 200
    assert (await agent.call("POST", path + "/messages", {"text": "非常抱歉，我马上为您处理"}))[0] == 200
    assert (await agent.call("POST", path + "/close"))[0] == 200
    body = {"score": score} if nps is None else {"score": score, "nps": nps}
    code, res = await customer.post("csat", body)
    assert code == 200, res
    return item


async def test_two_hubs_count_the_same_figures(hubs: list[HubProcess], session) -> None:
    hub1, hub2 = hubs
    who = "CQ" + uuid.uuid4().hex[:8]
    identity = sign_identity(who, IDENTITY_SECRET, name="投诉客户")
    agent = await login(session, hub2.url, "agent2")  # refunds group
    await agent.presence("online")

    first = await complaint_served(await open_customer(session, hub1.url, identity), agent, 2, 3)
    assert first["recent_complaint_at"] is None
    again = await complaint_served(await open_customer(session, hub1.url, identity), agent, 5, 10)
    assert again["recent_complaint_at"] is not None  # the same customer complained minutes ago
    code, earlier = await agent.call("GET", f"/api/agent/conversations/{first['conversation_id']}")
    assert code == 200
    code, conv = await agent.call("GET", f"/api/agent/conversations/{again['conversation_id']}")
    assert code == 200  # the flag is the first complaint's queue entry, on the chat and its queue item
    assert conv["recent_complaint_at"] == again["recent_complaint_at"] == earlier["queued_at"] < conv["queued_at"]
    bot_only = await open_customer(session, hub2.url)
    assert (await bot_only.send("你好"))[0] == 200
    # a rating out of range is refused; NPS is optional
    assert (await bot_only.post("csat", {"score": 5, "nps": 11}))[0] == 400

    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    q = f"?from={(today - timedelta(days=1)).isoformat()}&to={today.isoformat()}"
    reports = []
    for hub in hubs:
        sup = await login(session, hub.url, "supervisor")
        code, rep = await sup.call("GET", "/api/supervisor/figures" + q)
        assert code == 200, rep
        reports.append(rep)
        code, _ = await (await login(session, hub.url, "agent1")).call("GET", "/api/supervisor/figures" + q)
        assert code == 403
    assert reports[0] == reports[1]
    totals = reports[0]["totals"]
    f = {k: v["value"] for k, v in totals["figures"].items()}
    assert (totals["conversations"], totals["handoffs"]) == (3, 2)
    assert totals["handoffs_by_reason"] == {"angry": {"count": 2, "rate": 2 / 3}}
    assert f["self_service_rate"] == pytest.approx(1 / 3) and f["handoff_rate"] == pytest.approx(2 / 3)
    assert f["first_response_rate"] == 1.0  # answered at once, far within 30 s
    assert f["resolution_rate"] == 0.5  # the first complaint came back on the same topic
    assert f["repeat_complaint_rate"] == 0.5
    assert f["csat_avg"] == 3.5 and totals["figures"]["csat_avg"]["count"] == 2
    assert f["nps"] == 0.0  # one promoter (10), one detractor (3)
    assert f["handling_avg"] is not None and f["handling_avg"] < 60
    [row] = reports[0]["agents"]
    assert row["display_name"] == "客服 小陈" and row["handoffs"] == 2
    assert {"csat_avg", "resolution_rate", "repeat_complaint_rate", "nps"} <= set(totals["missed"])

    # a target set on one hub is the target on the other
    sup1, sup2 = await login(session, hub1.url, "supervisor"), await login(session, hub2.url, "supervisor")
    code, _ = await sup1.call("PUT", "/api/supervisor/targets", {"targets": {"csat_avg": 3.5}})
    assert code == 200
    code, rep = await sup2.call("GET", "/api/supervisor/figures" + q)
    assert rep["totals"]["figures"]["csat_avg"] == {"value": 3.5, "count": 2, "target": 3.5, "met": True}
    assert "csat_avg" not in rep["totals"]["missed"]
