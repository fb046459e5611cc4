"""Tickets worked in the console, against real hub processes: one on SQLite, two on PostgreSQL +
Redis (each step may go to either). Assignment rules, replies to web tickets shown on the
customer's next visit (same browser or same signed identity, and nobody else's), the thread,
due times, authorisation and hostile input."""

from __future__ import annotations

import time
from collections.abc import Iterator

import aiohttp
import pytest

from handoff.identity import sign_identity

from .conftest import IDENTITY_SECRET, HubProcess, RasaStandIn, login, open_customer
from .desk_support import BACKENDS, desk_hubs, query

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=BACKENDS)
def desk(request: pytest.FixtureRequest, rasa: RasaStandIn,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[HubProcess], str]]:
    with desk_hubs(request.param, rasa, tmp_path_factory.mktemp("desk")) as found:
        yield found


def _pick(hubs: list[HubProcess], i: int) -> HubProcess:
    return hubs[i % len(hubs)]


async def _open(session: aiohttp.ClientSession, hub: HubProcess, visitor: str, identity: str | None = None) -> dict:
    body: dict = {"channel": "web", "visitor": visitor}
    if identity:
        body["identity"] = identity
    async with session.post(f"{hub.url}/api/conversations", json=body) as r:
        assert r.status == 201, await r.text()
        data = await r.json()
    async with session.get(f"{hub.url}/api/conversations/{data['conversation_id']}",
                           headers={"Authorization": f"Bearer {data['token']}"}) as r:
        assert r.status == 200
        return {**data, "state": await r.json()}


async def _ticket(session: aiohttp.ClientSession, hub: HubProcess, visitor: str, text: str,
                  identity: str | None = None) -> int:
    conv = await _open(session, hub, visitor, identity)
    async with session.post(f"{hub.url}/api/conversations/{conv['conversation_id']}/leave_message",
                            json={"text": text, "contact": "13900001111"},
                            headers={"Authorization": f"Bearer {conv['token']}"}) as r:
        assert r.status == 201, await r.text()
        return int((await r.json())["ticket_id"])


def _shown(conv: dict) -> list[str]:
    return [m["text"] for m in conv["state"]["messages"] if m["author"] == "agent"]


async def test_web_reply_reaches_the_same_browser_once_and_nobody_else(desk, session) -> None:
    hubs, _ = desk
    visitor, stranger = f"visitor{time.time_ns()}", f"other{time.time_ns()}"
    ticket_id = await _ticket(session, _pick(hubs, 0), visitor, "发票抬头开错了，请改成公司名")
    a1 = await login(session, _pick(hubs, 1).url, "agent1")
    code, body = await a1.call("GET", f"/api/agent/tickets/{ticket_id}")
    assert code == 200 and body["ticket"]["assignee_id"] is None and body["ticket"]["channel"] == "web"
    assert body["wechat_window"] is None and body["thread"] == []

    reply = "您好，已为您改为公司抬头，新发票 1 个工作日内发到邮箱。"
    code, body = await a1.call("POST", f"/api/agent/tickets/{ticket_id}/replies", {"text": reply})
    assert code == 201, body
    assert body["entry"]["delivery"] == "pending" and body["entry"]["agent_id"] == a1.id
    assert body["ticket"]["assignee_id"] == a1.id  # replying to an unassigned ticket takes it
    assert body["ticket"]["status"] == "pending" and body["ticket"]["outcome"] == "answered"
    assert body["ticket"]["answered_at"] is not None

    # Another browser sees nothing of it.
    assert _shown(await _open(session, _pick(hubs, 0), stranger)) == []
    # The same browser's next visit shows it, once, on whichever hub.
    first = await _open(session, _pick(hubs, 1), visitor)
    [shown] = _shown(first)
    assert f"工单号 {ticket_id}" in shown and reply in shown
    assert _shown(await _open(session, _pick(hubs, 0), visitor)) == []
    _, detail = await a1.call("GET", f"/api/agent/tickets/{ticket_id}")
    assert [(e["kind"], e["delivery"]) for e in detail["thread"]] == [
        ("assign", None), ("reply", "shown"), ("status", None)]
    assert [e["value"] for e in detail["thread"] if e["kind"] == "status"] == ["pending"]


async def test_web_reply_reaches_the_same_signed_customer_in_another_browser(desk, session) -> None:
    hubs, _ = desk
    cid, other = f"C{time.time_ns() % 10**8}", f"D{time.time_ns() % 10**8}"
    mine = sign_identity(cid, IDENTITY_SECRET, "张伟")
    ticket_id = await _ticket(session, _pick(hubs, 0), f"pc{time.time_ns()}", "退款还没到账", mine)
    sup = await login(session, _pick(hubs, 1).url, "supervisor")
    code, _ = await sup.call("POST", f"/api/agent/tickets/{ticket_id}/replies", {"text": "退款已原路退回，请查收"})
    assert code == 201
    # Someone else, signed in as another customer, in yet another browser: nothing.
    assert _shown(await _open(session, _pick(hubs, 1), f"x{time.time_ns()}",
                              sign_identity(other, IDENTITY_SECRET))) == []
    # The same customer on their phone (a new browser, a fresh identity token): the reply.
    phone = await _open(session, _pick(hubs, 0), f"phone{time.time_ns()}", sign_identity(cid, IDENTITY_SECRET))
    assert any("退款已原路退回" in t for t in _shown(phone))


async def test_assignment_rules(desk, session) -> None:
    hubs, _ = desk
    ticket_id = await _ticket(session, _pick(hubs, 0), f"as{time.time_ns()}", "快递一直没更新")
    a1 = await login(session, _pick(hubs, 0).url, "agent1")
    a2 = await login(session, _pick(hubs, 1).url, "agent2")
    sup = await login(session, _pick(hubs, 1).url, "supervisor")
    # An agent takes an unassigned ticket; of two taking it at once exactly one wins.
    import asyncio

    results = await asyncio.gather(a1.call("POST", f"/api/agent/tickets/{ticket_id}/assign", {"agent_id": a1.id}),
                                   a2.call("POST", f"/api/agent/tickets/{ticket_id}/assign", {"agent_id": a2.id}))
    codes = sorted(code for code, _ in results)
    assert codes == [200, 409], results
    _, detail = await sup.call("GET", f"/api/agent/tickets/{ticket_id}")
    owner = detail["ticket"]["assignee_id"]
    winner, loser = (a1, a2) if owner == a1.id else (a2, a1)
    # The colleague may not reply, change status, add notes, reassign or set the due time.
    for method, path, body in (("POST", "/replies", {"text": "我来"}), ("PATCH", "", {"status": "solved"}),
                               ("POST", "/notes", {"text": "备注"}),
                               ("POST", "/assign", {"agent_id": winner.id}),
                               ("POST", "/assign", {"agent_id": None}),
                               ("PATCH", "", {"due_at": time.time() + 3600})):
        code, data = await loser.call(method, f"/api/agent/tickets/{ticket_id}{path}", body)
        assert code == 403, (method, path, data)
    code, data = await loser.call("POST", f"/api/agent/tickets/{ticket_id}/assign", {"agent_id": loser.id})
    assert code == 409 and data["error"]["code"] == "already_assigned"
    code, _ = await winner.call("PATCH", f"/api/agent/tickets/{ticket_id}", {"due_at": time.time() + 3600})
    assert code == 403  # due times are the supervisors'
    # A supervisor reassigns, sets the due time (overdue when past), and the thread says who and when.
    code, body = await sup.call("POST", f"/api/agent/tickets/{ticket_id}/assign", {"agent_id": loser.id})
    assert code == 200 and body["ticket"]["assignee_id"] == loser.id
    past = time.time() - 60
    code, body = await sup.call("PATCH", f"/api/agent/tickets/{ticket_id}", {"due_at": past})
    assert code == 200 and body["ticket"]["overdue"] is True and abs(body["ticket"]["due_at"] - past) < 0.01
    code, body = await loser.call("POST", f"/api/agent/tickets/{ticket_id}/notes", {"text": "已联系快递公司"})
    assert code == 201 and body["entry"]["kind"] == "note"
    code, body = await loser.call("PATCH", f"/api/agent/tickets/{ticket_id}", {"status": "solved"})
    assert code == 200 and body["ticket"]["status"] == "solved" and body["ticket"]["overdue"] is False
    code, body = await loser.call("POST", f"/api/agent/tickets/{ticket_id}/replies", {"text": "再补充一句"})
    assert code == 409 and body["error"]["code"] == "ticket_solved"
    _, detail = await winner.call("GET", f"/api/agent/tickets/{ticket_id}")
    kinds = [(e["kind"], e["agent_id"], e["value"]) for e in detail["thread"]]
    assert kinds[0] == ("assign", winner.id, str(winner.id))
    assert ("assign", sup.id, str(loser.id)) in kinds and ("status", loser.id, "solved") in kinds
    [due] = [(a, float(v)) for k, a, v in kinds if k == "due"]
    assert due[0] == sup.id and abs(due[1] - past) < 0.01
    notes = [e for e in detail["thread"] if e["kind"] == "note"]
    assert [n["text"] for n in notes] == ["已联系快递公司"] and notes[0]["agent_id"] == loser.id
    # Giving one's own back; filters.
    code, _ = await sup.call("POST", f"/api/agent/tickets/{ticket_id}/assign", {"agent_id": None})
    assert code == 200
    _, mine = await loser.call("GET", "/api/agent/tickets?assignee=me")
    assert ticket_id not in [t["id"] for t in mine["items"]]
    _, free = await loser.call("GET", "/api/agent/tickets?assignee=none")
    assert ticket_id in [t["id"] for t in free["items"]]


async def test_hostile_input(desk, session) -> None:
    hubs, url = desk
    ticket_id = await _ticket(session, _pick(hubs, 0), f"h{time.time_ns()}", "<b>加粗</b>")
    sup = await login(session, _pick(hubs, 1).url, "supervisor")
    base = f"/api/agent/tickets/{ticket_id}"
    cases = [
        ("POST", base + "/replies", {"text": "a\u0000b"}, 400),
        ("POST", base + "/replies", {"text": "   \u200b "}, 400),
        ("POST", base + "/replies", {"text": "x" * 2001}, 413),
        ("POST", base + "/replies", {"text": 5}, 400),
        ("POST", base + "/replies", {"text": "ok", "internal": True}, 400),  # unknown fields refused
        ("POST", base + "/notes", {}, 400),
        ("POST", base + "/assign", {"agent_id": 2**70}, 400),
        ("POST", base + "/assign", {"agent_id": "1"}, 400),
        ("POST", base + "/assign", {"agent_id": 987654}, 404),
        ("PATCH", base, {"due_at": 1e308}, 400),
        ("PATCH", base, {"due_at": "明天"}, 400),
        ("PATCH", base, {"due_at": True}, 400),
        ("PATCH", base, {}, 400),
        ("PATCH", base, {"status": "done"}, 400),
        ("GET", f"/api/agent/tickets/{2**70}", None, 400),
        ("GET", "/api/agent/tickets/999999999", None, 404),
        ("POST", "/api/agent/tickets/999999999/replies", {"text": "hi"}, 404),
        ("GET", "/api/agent/tickets?assignee=everyone", None, 400),
    ]
    for method, path, body, status in cases:
        code, data = await sup.call(method, path, body)
        assert code == status, (method, path, body, data)
    # A lone surrogate in raw JSON.
    async with session.post(f"{_pick(hubs, 0).url}{base}/replies", data=b'{"text": "\\ud800"}',
                            headers={**sup.headers, "Content-Type": "application/json"}) as r:
        assert r.status == 400
    # Markup is stored and returned as text.
    html = "<img src=x onerror=alert(1)>已处理"
    code, body = await sup.call("POST", base + "/notes", {"text": html})
    assert code == 201 and body["entry"]["text"] == html
    assert query(url, "SELECT text FROM hub_ticket_events WHERE id = :i", i=body["entry"]["id"])[0]["text"] == html


async def test_unauthenticated_and_cross_site(desk, session) -> None:
    hubs, _ = desk
    hub = _pick(hubs, 0)
    ticket_id = await _ticket(session, hub, f"u{time.time_ns()}", "无登录")
    async with session.get(f"{hub.url}/api/agent/tickets/{ticket_id}") as r:
        assert r.status == 401
    async with session.post(f"{hub.url}/api/agent/tickets/{ticket_id}/replies", json={"text": "x"}) as r:
        assert r.status == 401
    # A customer token is not an agent credential.
    customer = await open_customer(session, hub.url)
    async with session.get(f"{hub.url}/api/agent/tickets/{ticket_id}", headers=customer.headers) as r:
        assert r.status == 401


async def test_web_reply_nobody_could_see_is_not_promised(desk, session) -> None:
    """A ticket from an API client with neither a browser id nor a signed customer: no visit can
    ever match it, so the reply is recorded as not delivered rather than waiting for ever."""
    hubs, _ = desk
    customer = await open_customer(session, _pick(hubs, 0).url)  # no visitor, no identity
    code, body = await customer.post("leave_message", {"text": "请打电话给我", "contact": "13900003333"})
    assert code == 201
    sup = await login(session, _pick(hubs, 1).url, "supervisor")
    code, body = await sup.call("POST", f"/api/agent/tickets/{body['ticket_id']}/replies", {"text": "已致电"})
    assert code == 201 and body["entry"]["delivery"] == "failed" and "联系方式" in body["entry"]["delivery_detail"]
    assert body["ticket"]["outcome"] == "undelivered" and body["ticket"]["status"] == "open"
