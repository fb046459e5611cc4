"""Hub API against a real hub process on SQLite, with a Rasa stand-in for the bot side."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest

from handoff.identity import sign_identity
from handoff.service import agent_title, wait_text

from .conftest import (
    IDENTITY_SECRET,
    HubProcess,
    RasaStandIn,
    login,
    next_event,
    open_customer,
)


async def _all_presence(session: aiohttp.ClientSession, hub: HubProcess, status: str) -> None:
    for name in ("supervisor", "agent1", "agent2"):
        await (await login(session, hub.url, name)).presence(status)


async def test_bot_turn_forwards_to_rasa_and_stores_replies(hub: HubProcess, rasa: RasaStandIn, session) -> None:
    identity = sign_identity("C100", IDENTITY_SECRET, name="王先生")
    customer = await open_customer(session, hub.url, identity)
    code, data = await customer.send("你好", "m-1")
    assert code == 200, data
    assert data["message"]["author"] == "customer" and data["message"]["text"] == "你好"
    [reply] = data["replies"]
    assert reply["author"] == "bot" and reply["text"] == "收到：你好"
    assert reply["buttons"] == [{"title": "查订单", "payload": "/order_status"}]
    [sent] = rasa.for_sender(customer.id)
    assert sent["metadata"] == {"customer_id": "C100", "channel": "web", "handoff_by": "hub"}
    # A button click sends the payload and stores the title the customer saw.
    code, data = await customer.send("/order_status", "m-2", title="查订单")
    assert data["message"]["title"] == "查订单"
    state = await customer.state()
    assert state["mode"] == "bot" and state["queue"] is None
    assert [m["seq"] for m in state["messages"]] == [1, 2, 3, 4]


async def test_anonymous_customer_has_null_customer_id(hub: HubProcess, rasa: RasaStandIn, session) -> None:
    customer = await open_customer(session, hub.url)
    await customer.send("在吗")
    assert rasa.for_sender(customer.id)[0]["metadata"] == {"customer_id": None, "channel": "web", "handoff_by": "hub"}


async def test_same_client_msg_id_is_stored_once_with_same_response(hub: HubProcess, rasa: RasaStandIn, session) -> None:
    customer = await open_customer(session, hub.url)
    first = await customer.send("查一下订单", "dup-1")
    again = await customer.send("查一下订单", "dup-1")
    assert first == again
    concurrent = await asyncio.gather(*(customer.send("并发", "dup-2") for _ in range(5)))
    assert len({r[1]["message"]["id"] for r in concurrent}) == 1
    state = await customer.state()
    assert sum(1 for m in state["messages"] if m["client_msg_id"] == "dup-1") == 1
    assert sum(1 for m in state["messages"] if m["client_msg_id"] == "dup-2") == 1
    assert len([r for r in rasa.for_sender(customer.id) if r["message"] == "查一下订单"]) == 1


@pytest.mark.parametrize("text,reason_hint", [("慢一点回答", "timeout"), ("空回复", "empty"), ("坏了", "500")])
async def test_bot_failure_queues_with_bot_unavailable(hub: HubProcess, session, text: str, reason_hint: str) -> None:
    await _all_presence(session, hub, "online")
    customer = await open_customer(session, hub.url)
    code, data = await customer.send(text, "f-1")
    assert code == 200
    assert data["message"]["text"] == text  # stored: nothing lost
    assert data["replies"][0]["author"] == "system" and "人工" in data["replies"][0]["text"]
    state = await customer.state()
    assert state["mode"] == "queued" and state["queue"]["position"] >= 1
    sup = await login(session, hub.url, "supervisor")
    _, queue = await sup.call("GET", "/api/agent/queue")
    [item] = [i for i in queue["items"] if i["conversation_id"] == customer.id]
    assert item["reason"] == "bot_unavailable"
    assert item["priority"] == "normal"  # HUB_BOT_UNAVAILABLE_PRIORITY default: no jump ahead of people
    # Follow-up messages wait for the agent instead of going to the failing bot.
    code, data = await customer.send("还在吗", "f-2")
    assert code == 200 and data["replies"] == []
    await sup.call("POST", f"/api/agent/conversations/{customer.id}/return_to_bot")


async def test_rasa_down_queues_with_bot_unavailable(session, tmp_path) -> None:
    down = HubProcess({"HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'down.db'}",
                       "RASA_URL": "http://127.0.0.1:9", "HUB_BOT_UNAVAILABLE_PRIORITY": "high"},
                      tmp_path / "down.log")
    try:
        customer = await open_customer(session, down.url)
        code, data = await customer.send("你好，我的快递呢", "d-1")
        assert code == 200 and data["replies"][-1]["author"] == "system"
        sup = await login(session, down.url, "supervisor")
        _, detail = await sup.call("GET", f"/api/agent/conversations/{customer.id}")
        assert detail["mode"] == "queued" and detail["handoff"]["reason"] == "bot_unavailable"
        assert detail["handoff"]["priority"] == "high"  # as configured
        assert [m["text"] for m in detail["messages"]][0] == "你好，我的快递呢"
    finally:
        down.stop()
    assert customer.token not in down.logs()


async def test_queue_order_position_and_agent_view(hub: HubProcess, session) -> None:
    await _all_presence(session, hub, "online")
    sup = await login(session, hub.url, "supervisor")
    normal = await open_customer(session, hub.url)
    await normal.send("我要转人工")
    angry = await open_customer(session, hub.url)
    await angry.send("我要投诉你们")
    urgent = await open_customer(session, hub.url, sign_identity("C7", IDENTITY_SECRET))
    await urgent.send("我的账号被盗了")
    _, queue = await sup.call("GET", "/api/agent/queue")
    mine = [i for i in queue["items"] if i["conversation_id"] in (normal.id, angry.id, urgent.id)]
    assert [i["conversation_id"] for i in mine] == [urgent.id, angry.id, normal.id]
    assert [i["priority"] for i in mine] == ["urgent", "high", "normal"]
    assert mine[1]["reason"] == "angry" and mine[1]["skill"] == "refunds" and mine[1]["emotion"] == "angry"
    assert mine[0]["summary"] == "账号被盗" and mine[0]["channel"] == "web"
    assert mine[0]["waited_seconds"] >= 0
    positions = [(await c.state())["queue"]["position"] for c in (urgent, angry, normal)]
    assert positions == sorted(positions) and len(set(positions)) == 3
    eta = [(await c.state())["queue"]["eta_seconds"] for c in (urgent, normal)]
    assert 0 < eta[0] < eta[1]
    # the hub words the estimate; the widget shows it as it is
    assert (await normal.state())["queue"]["wait_text"] == wait_text(eta[1])
    for c in (normal, angry, urgent):
        await sup.call("POST", f"/api/agent/conversations/{c.id}/return_to_bot")


async def test_claim_race_exactly_one_wins(hub: HubProcess, session) -> None:
    await _all_presence(session, hub, "online")
    customer = await open_customer(session, hub.url)
    await customer.send("空回复")  # the bot fails: queued for general, every agent's group
    a1 = await login(session, hub.url, "agent1")
    a2 = await login(session, hub.url, "agent2")
    path = f"/api/agent/conversations/{customer.id}/claim"
    results = await asyncio.gather(a1.call("POST", path), a2.call("POST", path),
                                   a1.call("POST", path), a2.call("POST", path))
    codes = sorted(code for code, _ in results)
    assert codes == [200, 409, 409, 409]
    assert all(body["error"]["code"] == "already_claimed" for code, body in results if code == 409)
    winner = next(a for (code, _), a in zip(results, (a1, a2, a1, a2), strict=True) if code == 200)
    state = await customer.state()
    assert state["mode"] == "agent" and state["agent"]["display_name"] == winner.info["display_name"]
    assert state["agent"]["title"] == agent_title(winner.info["display_name"])
    await winner.call("POST", f"/api/agent/conversations/{customer.id}/close")


async def test_agent_conversation_end_to_end_over_websockets(hub: HubProcess, rasa: RasaStandIn, session) -> None:
    await _all_presence(session, hub, "online")
    agent = await login(session, hub.url, "agent1")
    customer = await open_customer(session, hub.url)
    async with customer.ws(hub.ws_url) as cws, agent.ws(hub.ws_url) as aws:
        await next_event(cws, "mode", mode="bot")
        await next_event(aws, "queue")
        await customer.send("帮我转人工")
        await next_event(cws, "mode", mode="queued")
        await next_event(cws, "queue")
        queue_event = await next_event(aws, "queue")
        assert customer.id in [i["conversation_id"] for i in queue_event["items"]]
        code, _ = await agent.call("POST", f"/api/agent/conversations/{customer.id}/claim")
        assert code == 200
        joined = await next_event(cws, "agent_joined")
        assert joined["display_name"] == agent.info["display_name"]
        assert joined["title"] == "客服 小李"  # how the widget names the agent: the hub's agent_title
        notice = await next_event(cws, "message", where=lambda e: e["message"]["author"] == "system"
                                  and "已接入" in e["message"]["text"])
        assert notice["message"]["text"] == "客服 小李 已接入，很高兴为您服务。"  # not "客服 客服 小李"
        await next_event(aws, "assigned", conversation_id=customer.id)
        # agent typing and reply reach the customer
        await agent.call("POST", f"/api/agent/conversations/{customer.id}/typing")
        await next_event(cws, "typing", author="agent")
        code, sent = await agent.call("POST", f"/api/agent/conversations/{customer.id}/messages",
                                      {"text": "您好，我是小李<script>"})
        assert code == 200
        got = await next_event(cws, "message", where=lambda e: e["message"]["author"] == "agent")
        assert got["message"]["author"] == "agent" and got["message"]["text"] == "您好，我是小李<script>"
        # internal note: stored, visible to agents only
        await agent.call("POST", f"/api/agent/conversations/{customer.id}/messages",
                         {"text": "客户情绪稳定", "internal": True})
        # customer message over ws goes to the agent, not to Rasa
        before = len(rasa.for_sender(customer.id))
        await cws.send_json({"type": "message", "text": "谢谢你", "client_msg_id": "ws-1"})
        incoming = await next_event(aws, "message", conversation_id=customer.id,
                                    where=lambda e: e["message"]["author"] == "customer")
        assert incoming["message"]["text"] == "谢谢你" and incoming["message"]["author"] == "customer"
        await cws.send_json({"type": "typing"})
        await next_event(aws, "typing", conversation_id=customer.id, author="customer")
        assert len(rasa.for_sender(customer.id)) == before
        state = await customer.state()
        assert "客户情绪稳定" not in [m["text"] for m in state["messages"]]
        _, detail = await agent.call("GET", f"/api/agent/conversations/{customer.id}")
        assert [n["text"] for n in detail["notes"]] == ["客户情绪稳定"]
        assert detail["messages"][0]["text"] == "帮我转人工"  # bot part of the transcript
        assert detail["handoff"]["reason"] == "requested"
        _, mine = await agent.call("GET", "/api/agent/conversations?scope=mine")
        assert customer.id in [c["conversation_id"] for c in mine["conversations"]]
        # close: CSAT request, back to the bot
        await agent.call("POST", f"/api/agent/conversations/{customer.id}/close")
        await next_event(cws, "csat_request")
        await next_event(cws, "mode", mode="bot")
    code, _ = await customer.post("csat", {"score": 5, "comment": "很好"})
    assert code == 200
    code, body = await customer.post("csat", {"score": 4})
    assert code == 409 and body["error"]["code"] == "no_csat_pending"
    code, data = await customer.send("再问一个问题")
    assert data["replies"][0]["author"] == "bot"  # the bot resumed
    sup = await login(session, hub.url, "supervisor")
    _, stats = await sup.call("GET", "/api/supervisor/stats")
    assert stats["csat"]["count"] >= 1 and 1 <= stats["csat"]["avg"] <= 5
    assert stats["handoffs_by_reason"]["requested"] >= 1
    assert stats["first_response_seconds"]["count"] >= 1
    assert {a["display_name"] for a in stats["agents"]} >= {agent.info["display_name"]}
    assert "queue_length" in stats and "longest_wait_seconds" in stats


async def test_transfer_to_group_and_to_agent(hub: HubProcess, session) -> None:
    await _all_presence(session, hub, "online")
    a1 = await login(session, hub.url, "agent1")
    a2 = await login(session, hub.url, "agent2")
    customer = await open_customer(session, hub.url)
    await customer.send("转人工")
    assert (await a1.call("POST", f"/api/agent/conversations/{customer.id}/claim"))[0] == 200
    code, _ = await a2.call("POST", f"/api/agent/conversations/{customer.id}/messages", {"text": "抢答"})
    assert code == 403
    code, body = await a1.call("POST", f"/api/agent/conversations/{customer.id}/transfer", {"skill": "refunds"})
    assert code == 200 and body["mode"] == "queued" and body["skill"] == "refunds"
    assert (await customer.state())["mode"] == "queued"
    assert (await a2.call("POST", f"/api/agent/conversations/{customer.id}/claim"))[0] == 200
    code, body = await a2.call("POST", f"/api/agent/conversations/{customer.id}/transfer", {"agent_id": a1.id})
    assert code == 200 and body["assigned_agent_id"] == a1.id
    assert (await customer.state())["agent"]["display_name"] == a1.info["display_name"]
    code, body = await a1.call("POST", f"/api/agent/conversations/{customer.id}/transfer", {"skill": "nope"})
    assert code == 400
    await a1.call("POST", f"/api/agent/conversations/{customer.id}/return_to_bot")
    state = await customer.state()
    assert state["mode"] == "bot" and not state["csat_pending"]


async def test_offline_leave_message_creates_ticket(hub: HubProcess, session) -> None:
    await _all_presence(session, hub, "offline")
    customer = await open_customer(session, hub.url)
    async with customer.ws(hub.ws_url) as cws:
        await customer.send("转人工")
        offline = await next_event(cws, "offline")
        assert offline["can_leave_message"] is True
    code, body = await customer.post("leave_message", {"text": "请回电，订单少发了一件", "contact": "微信 kefu_test"})
    assert code == 201
    ticket_id = body["ticket_id"]
    assert (await customer.state())["mode"] == "bot"
    agent = await login(session, hub.url, "agent2")
    _, tickets = await agent.call("GET", "/api/agent/tickets?status=open")
    [ticket] = [t for t in tickets["items"] if t["id"] == ticket_id]
    assert ticket["text"] == "请回电，订单少发了一件" and ticket["status"] == "open"
    assert 23.9 * 3600 < ticket["due_at"] - ticket["created_at"] <= 24 * 3600
    assert ticket["transcript"][0]["text"] == "转人工"
    code, body = await agent.call("PATCH", f"/api/agent/tickets/{ticket_id}", {"status": "solved"})
    assert code == 200 and body["ticket"]["status"] == "solved"
    code, body = await agent.call("PATCH", f"/api/agent/tickets/{ticket_id}", {"status": "done"})
    assert code == 400 and body["error"]["code"] == "invalid_status"
    assert (await agent.call("PATCH", "/api/agent/tickets/999999", {"status": "open"}))[0] == 404


async def test_auth_failures(hub: HubProcess, session) -> None:
    async with session.get(hub.url + "/api/agent/queue") as r:
        assert r.status == 401 and (await r.json())["error"]["code"] == "unauthenticated"
    async with session.post(hub.url + "/api/agent/login", json={"username": "agent1", "password": "x"}) as r:
        assert r.status == 401
    async with session.get(hub.url + "/api/agent/me", headers={"Authorization": "Bearer forged"}) as r:
        assert r.status == 401
    # Cookie session: reads work, writes need the CSRF header.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(hub.url + "/api/agent/login",
                                json={"username": "agent1", "password": "agent1-pass"}) as r:
            data = await r.json()
            assert "httponly" in r.headers["Set-Cookie"].lower()
            assert "samesite=strict" in r.headers["Set-Cookie"].lower()
            assert "token" not in data  # the HttpOnly cookie is the session; page script never sees it
            data["token"] = r.cookies["kefu_session"].value
        async with browser.get(hub.url + "/api/agent/me") as r:
            assert r.status == 200
        async with browser.post(hub.url + "/api/agent/presence", json={"status": "away"}) as r:
            assert r.status == 403 and (await r.json())["error"]["code"] == "csrf_failed"
        async with browser.post(hub.url + "/api/agent/presence", json={"status": "away"},
                                headers={"X-CSRF-Token": data["csrf_token"]}) as r:
            assert r.status == 200
        async with browser.post(hub.url + "/api/agent/logout", headers={"X-CSRF-Token": data["csrf_token"]}) as r:
            assert r.status == 200
        async with session.get(hub.url + "/api/agent/me", headers={"Authorization": f"Bearer {data['token']}"}) as r:
            assert r.status == 401  # the session is gone server-side
    # A customer token opens only its own conversation.
    one = await open_customer(session, hub.url)
    two = await open_customer(session, hub.url)
    async with session.get(f"{hub.url}/api/conversations/{two.id}", headers=one.headers) as r:
        assert r.status == 404
    async with session.get(f"{hub.url}/api/conversations/{two.id}") as r:
        assert r.status == 401
    async with session.ws_connect(f"{hub.ws_url}/ws/customer?conversation_id={two.id}&token={one.token}") as ws:
        msg = await ws.receive_json()
        assert msg["type"] == "error"
    async with session.post(f"{hub.url}/api/conversations", json={"identity": "forged.sig"}) as r:
        assert r.status == 401 and (await r.json())["error"]["code"] == "invalid_identity"
    # Canned replies: agents read, only supervisors edit.
    agent = await login(session, hub.url, "agent1")
    code, canned = await agent.call("GET", "/api/agent/canned")
    assert code == 200 and len(canned["items"]) >= 10
    assert (await agent.call("POST", "/api/agent/canned", {"title": "t", "text": "x"}))[0] == 403
    assert (await agent.call("GET", "/api/supervisor/stats"))[0] == 403
    sup = await login(session, hub.url, "supervisor")
    code, created = await sup.call("POST", "/api/agent/canned", {"title": "测试", "text": "测试话术"})
    assert code == 201
    code, _ = await sup.call("PUT", f"/api/agent/canned/{created['id']}", {"title": "测试2", "text": "改"})
    assert code == 200
    assert (await sup.call("DELETE", f"/api/agent/canned/{created['id']}"))[0] == 200
    assert (await sup.call("DELETE", f"/api/agent/canned/{created['id']}"))[0] == 404
    assert "agent1-pass" not in hub.logs() and one.token not in hub.logs()


async def test_reloaded_console_gets_its_csrf_token_from_me(hub: HubProcess, session) -> None:
    """A console opened again with only its session cookie learns the CSRF token from /me."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(hub.url + "/api/agent/login",
                                json={"username": "agent2", "password": "agent2-pass"}) as r:
            login_csrf = (await r.json())["csrf_token"]
        async with browser.get(hub.url + "/api/agent/me") as r:  # the reload: cookie only
            me = await r.json()
        assert r.status == 200 and me["csrf_token"] == login_csrf
        assert me["agent"]["username"] == "agent2" and "password_hash" not in me["agent"]
        async with browser.post(hub.url + "/api/agent/presence", json={"status": "online"},
                                headers={"X-CSRF-Token": me["csrf_token"]}) as r:
            assert r.status == 200
        async with browser.post(hub.url + "/api/agent/presence", json={"status": "online"},
                                headers={"X-CSRF-Token": "not-" + me["csrf_token"]}) as r:
            assert r.status == 403
        async with browser.post(hub.url + "/api/agent/logout", headers={"X-CSRF-Token": me["csrf_token"]}) as r:
            assert r.status == 200
        async with browser.get(hub.url + "/api/agent/me") as r:
            assert r.status == 401


async def test_agent_presence_is_in_queue_snapshot_and_stats(hub: HubProcess, session) -> None:
    sup = await login(session, hub.url, "supervisor")
    a2 = await login(session, hub.url, "agent2")
    await a2.presence("offline")
    _, queue = await sup.call("GET", "/api/agent/queue")
    row = next(a for a in queue["agents"] if a["id"] == a2.id)
    assert row["presence"] == "offline" and row["display_name"] == a2.info["display_name"]
    assert {"load", "max_chats", "role", "skills"} <= set(row) and "password_hash" not in row
    assert queue["online"] == sum(1 for a in queue["agents"] if a["presence"] == "online")
    async with sup.ws(hub.ws_url) as ws:
        first = await next_event(ws, "queue")
        assert next(a for a in first["agents"] if a["id"] == a2.id)["presence"] == "offline"
        await a2.presence("away")
        await next_event(ws, "presence", agent_id=a2.id, presence="away")
        moved = await next_event(ws, "queue", where=lambda e: any(
            a["id"] == a2.id and a["presence"] == "away" for a in e.get("agents", [])))
        assert moved["online"] == sum(1 for a in moved["agents"] if a["presence"] == "online")
    _, stats = await sup.call("GET", "/api/supervisor/stats")
    assert next(a for a in stats["agents"] if a["id"] == a2.id)["presence"] == "away"
    assert stats["agents_online"] == sum(1 for a in stats["agents"] if a["presence"] == "online")
    await a2.presence("online")


async def test_bad_input_is_rejected_and_nothing_stored(hub: HubProcess, session) -> None:
    customer = await open_customer(session, hub.url)
    code, body = await customer.send("长" * 2001, "long-1")
    assert code == 413 and body["error"]["code"] == "message_too_long"
    code, body = await customer.send("   ", "empty-1")
    assert code == 400 and body["error"]["code"] == "empty_text"
    async with session.post(f"{hub.url}/api/conversations/{customer.id}/messages", data=b"{not json",
                            headers=customer.headers) as r:
        assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_json"
    async with session.post(f"{hub.url}/api/conversations/{customer.id}/messages",
                            data=b'{"text": "' + b"x" * 100_000 + b'"}', headers=customer.headers) as r:
        assert r.status == 413
    code, body = await customer.send("ok", "x" * 65)
    assert code == 400
    code, body = await customer.post("csat", {"score": 9})
    assert code == 400
    assert (await customer.state())["messages"] == []
    # The stored text is raw; escaping is the front end's job.
    code, body = await customer.send("<b>hi</b>", "raw-1")
    assert body["message"]["text"] == "<b>hi</b>"


async def test_rate_limit_per_customer(hub: HubProcess, session) -> None:
    customer = await open_customer(session, hub.url)
    other = await open_customer(session, hub.url)
    codes = [(await customer.send(f"第{i}条", f"rl-{i}"))[0] for i in range(22)]
    assert codes[:20] == [200] * 20 and codes[20:] == [429, 429]
    assert (await other.send("我不受影响"))[0] == 200
    state = await customer.state()
    assert sum(1 for m in state["messages"] if m["author"] == "customer") == 20
    # A retry of an already stored message is not blocked by the limit.
    assert (await customer.send("第0条", "rl-0"))[0] == 200


async def test_openapi_document(hub: HubProcess, session) -> None:
    async with session.get(hub.url + "/openapi.json") as r:
        spec = await r.json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/conversations", "/api/agent/conversations/{id}/claim", "/api/supervisor/stats",
            "/api/agent/tickets/{id}"} <= set(spec["paths"])

    def refs(node):  # every $ref must resolve
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    yield v
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for ref in refs(spec):
        target = spec
        for part in ref.lstrip("#/").split("/"):
            target = target[part]
    for path, ops in spec["paths"].items():
        for op in ops.values():
            assert op["responses"], path
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}, path


async def test_static_pages_and_health(hub: HubProcess, session) -> None:
    async with session.get(hub.url + "/healthz") as r:
        assert r.status == 200 and (await r.json())["database"] == "ok"
    async with session.get(hub.url + "/static/../../pyproject.toml") as r:
        assert r.status == 404
    # ES modules: a JavaScript type, and CORS on every script (shop pages import the widget's modules)
    for path in ("/widget.js", "/static/widget/main.js", "/static/shared/socket.js", "/static/console/main.js"):
        async with session.get(hub.url + path) as r:
            assert r.status == 200, path
            assert "javascript" in r.headers["Content-Type"], path
            assert r.headers["Access-Control-Allow-Origin"] == "*", path
    async with session.get(hub.url + "/static/console.css") as r:
        assert r.status == 200 and "Access-Control-Allow-Origin" not in r.headers
    async with session.get(hub.url + "/api/nothing-here") as r:
        assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"


async def test_ws_unknown_frames_get_errors(hub: HubProcess, session) -> None:
    customer = await open_customer(session, hub.url)
    async with customer.ws(hub.ws_url) as cws:
        await cws.send_str("not json")
        assert (await next_event(cws, "error"))["error"]["code"] == "invalid_json"
        await cws.send_json({"type": "message", "text": "长" * 3000, "client_msg_id": str(uuid.uuid4())})
        assert (await next_event(cws, "error"))["error"]["code"] == "message_too_long"


async def test_waiting_customer_sees_place_move_up(hub: HubProcess, session) -> None:
    await _all_presence(session, hub, "online")
    sup = await login(session, hub.url, "supervisor")
    _, queue = await sup.call("GET", "/api/agent/queue")
    for item in queue["items"]:  # start from an empty queue
        await sup.call("POST", f"/api/agent/conversations/{item['conversation_id']}/return_to_bot")
    first = await open_customer(session, hub.url)
    second = await open_customer(session, hub.url)
    await first.send("转人工")
    await second.send("转人工")
    assert (await second.state())["queue"]["position"] == 2
    async with second.ws(hub.ws_url) as ws:
        assert (await next_event(ws, "queue"))["position"] == 2
        await sup.call("POST", f"/api/agent/conversations/{first.id}/claim")
        moved = await next_event(ws, "queue", where=lambda e: e["position"] == 1)
        assert moved["eta_seconds"] > 0 and moved["wait_text"] == wait_text(moved["eta_seconds"])
    for c in (first, second):
        await sup.call("POST", f"/api/agent/conversations/{c.id}/return_to_bot")


async def test_phone_numbers_and_tokens_stay_out_of_logs(hub: HubProcess, session) -> None:
    customer = await open_customer(session, hub.url)
    await customer.send("我的手机号是13912345678，订单有问题")
    async with customer.ws(hub.ws_url) as ws:
        await next_event(ws, "mode")
    logs = hub.logs()
    assert "13912345678" not in logs and customer.token not in logs


async def test_manual_claim_respects_max_concurrent_chats(hub: HubProcess, session) -> None:
    await _all_presence(session, hub, "online")
    agent = await login(session, hub.url, "agent2")
    customers = [await open_customer(session, hub.url) for _ in range(agent.info["max_chats"] + 1)]
    codes = []
    for c in customers:
        await c.send("我要投诉")  # refunds: agent2's group
        code, body = await agent.call("POST", f"/api/agent/conversations/{c.id}/claim")
        codes.append(body["error"]["code"] if code == 409 else code)
    assert codes == [200] * agent.info["max_chats"] + ["at_capacity"]
    assert (await customers[-1].state())["mode"] == "queued"
    sup = await login(session, hub.url, "supervisor")
    for c in customers:
        await sup.call("POST", f"/api/agent/conversations/{c.id}/return_to_bot")


def _documented(spec: dict, schema: dict) -> set[str]:
    """Property names of a schema of /openapi.json ($ref and allOf followed)."""
    if "$ref" in schema:
        return _documented(spec, spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= _documented(spec, part)
    return names


async def test_front_end_shapes_are_the_documented_ones(hub: HubProcess, session) -> None:
    """Every field the console and the widget read comes in a documented shape: nothing sent is
    missing from /openapi.json (the front ends read only what the description names)."""
    async with session.get(hub.url + "/openapi.json") as r:
        spec = await r.json()
    schemas = spec["components"]["schemas"]

    def ref(name: str) -> set[str]:
        return _documented(spec, {"$ref": f"#/components/schemas/{name}"})

    await _all_presence(session, hub, "online")
    sup = await login(session, hub.url, "supervisor")
    customer = await open_customer(session, hub.url, sign_identity("C8", IDENTITY_SECRET, name="钱八"))
    await customer.send("我要转人工")
    state = await customer.state()
    assert set(state) <= ref("ConversationState")
    assert set(state["queue"]) == _documented(spec, schemas["ConversationState"]["properties"]["queue"])
    for m in state["messages"]:
        assert set(m) <= ref("Message")

    _, queue = await sup.call("GET", "/api/agent/queue")
    assert set(queue) <= _documented(spec, spec["paths"]["/api/agent/queue"]["get"]["responses"]["200"]
                                     ["content"]["application/json"]["schema"])
    assert queue["items"] and all(set(i) <= ref("QueueItem") for i in queue["items"])
    assert all(set(a) <= ref("Agent") for a in queue["agents"])

    await sup.call("POST", f"/api/agent/conversations/{customer.id}/claim")
    await sup.call("POST", f"/api/agent/conversations/{customer.id}/messages", {"text": "备注", "internal": True})
    _, listed = await sup.call("GET", "/api/agent/conversations?scope=all")
    assert listed["conversations"] and all(set(c) == ref("ConversationSummary") for c in listed["conversations"])
    _, conv = await sup.call("GET", f"/api/agent/conversations/{customer.id}")
    assert set(conv) == ref("AgentConversation")
    handoff = schemas["AgentConversation"]["properties"]
    assert set(conv["handoff"]) == _documented(spec, handoff["handoff"])
    assert set(conv["agent"]) == _documented(spec, handoff["agent"])
    assert set(conv["customer"]) == _documented(spec, handoff["customer"])
    assert all(set(o) <= ref("Order") for o in conv["orders"])
    assert conv["notes"] and all(set(m) <= ref("Message") for m in conv["messages"] + conv["notes"])
    state = await customer.state()
    assert set(state["agent"]) == _documented(spec, schemas["ConversationState"]["properties"]["agent"])
    await sup.call("POST", f"/api/agent/conversations/{customer.id}/close")

    _, stats = await sup.call("GET", "/api/supervisor/stats")
    assert set(stats) == ref("Stats")
    assert set(stats["first_response_seconds"]) == _documented(
        spec, schemas["Stats"]["properties"]["first_response_seconds"])
    assert set(stats["csat"]) == _documented(spec, schemas["Stats"]["properties"]["csat"])
    _, tickets = await sup.call("GET", "/api/agent/tickets")
    assert all(set(t) <= ref("Ticket") for t in tickets["items"])
