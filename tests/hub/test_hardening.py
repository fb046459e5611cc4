"""Attacks on a running hub (SQLite) that must fail: login throttling, cross-site use of the
console session, sessions that outlive logout, hostile input, and smaller header/URL checks.

The hub trusts one proxy here (``HUB_PROXIES_COUNT=1``), so each test speaks from its own
client addresses through ``X-Forwarded-For`` and the login counters of one test do not touch
another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from types import SimpleNamespace

import aiohttp
import pytest

from handoff.auth import hash_password
from handoff.identity import sign_identity
from handoff.settings import Settings
from handoff.store import Store

from .conftest import (
    IDENTITY_SECRET,
    ROOT,
    Agent,
    Customer,
    HubProcess,
    RasaStandIn,
    login,
    next_event,
    open_customer,
)

GUARD_PASSWORD = "guard-pass-1"
GUARDS = [f"guard{i}" for i in range(1, 9)]
HUGE = 2**70


def create_agents(db_url: str, usernames: list[str]) -> None:
    """Extra accounts straight in the database, so each test locks only its own."""
    async def run() -> None:
        store = Store.from_url(db_url)
        try:
            await store.create_schema()
            pw_hash = hash_password(GUARD_PASSWORD)
            for name in usernames:
                await store.agents.create(name, name, pw_hash, "agent", ["general"])
        finally:
            await store.close()

    asyncio.run(run())


@pytest.fixture(scope="module")
def hard_hub(rasa: RasaStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("hardening")
    db_url = f"sqlite:///{tmp / 'hub.db'}"
    create_agents(db_url, GUARDS)
    proc = HubProcess({"HUB_DATABASE_URL": db_url, "RASA_URL": rasa.url, "HUB_PROXIES_COUNT": "1",
                       "HUB_SESSION_CHECK": "1",
                       "SANIC_REQUEST_TIMEOUT": "3"}, tmp / "hub.log")
    proc.db_url = db_url  # type: ignore[attr-defined]
    yield proc
    proc.stop()


async def attempt(session: aiohttp.ClientSession, hub: HubProcess, username: str, password: str,
                  address: str, **extra: object) -> tuple[int, dict]:
    async with session.post(f"{hub.url}/api/agent/login", headers={"X-Forwarded-For": address},
                            json={"username": username, "password": password, **extra}) as r:
        return r.status, await r.json()


async def guard_login(session: aiohttp.ClientSession, hub: HubProcess, username: str, address: str) -> Agent:
    code, data = await attempt(session, hub, username, GUARD_PASSWORD, address, bearer=True)
    assert code == 200, data
    return Agent(session, hub.url, data)


# -- 1. the login limit holds under concurrency -----------------------------------------------

async def test_concurrent_guesses_cannot_pass_the_login_limit(hard_hub: HubProcess, session) -> None:
    """39 simultaneous wrong logins: the count is taken before the password is checked, so at
    most the limit (10) of them are checked at all, and the right password afterwards is
    refused. (A right password inside the burst may arrive among the first ten and succeed,
    which by design starts its counter again; the burst holds only wrong guesses.)"""
    results = await asyncio.gather(*(attempt(session, hard_hub, "guard1", f"wrong-{i}", "10.0.1.1")
                                     for i in range(39)))
    statuses = [code for code, _ in results]
    assert set(statuses) <= {401, 429} and len([s for s in statuses if s != 429]) <= 10, statuses
    code, body = await attempt(session, hard_hub, "guard1", GUARD_PASSWORD, "10.0.1.1")
    assert code == 429 and body["error"]["code"] == "login_locked"


# -- 5. lock-out cannot be used as a weapon ---------------------------------------------------------

async def test_guesses_elsewhere_do_not_lock_the_agent_out(hard_hub: HubProcess, session) -> None:
    await guard_login(session, hard_hub, "guard2", "10.0.2.1")  # the agent's own computer
    for i in range(10):
        assert (await attempt(session, hard_hub, "guard2", f"nope-{i}", "10.0.2.66"))[0] == 401
    code, body = await attempt(session, hard_hub, "guard2", GUARD_PASSWORD, "10.0.2.66")
    assert code == 429 and body["error"]["code"] == "login_locked"  # the attacker's address is locked …
    await guard_login(session, hard_hub, "guard2", "10.0.2.1")  # … the agent's is not
    await guard_login(session, hard_hub, "guard2", "10.0.2.2")  # nor a new one, yet
    # Guessing from many addresses locks the account for addresses it never logged in from,
    # but not where the agent works, nor a holder of a live session.
    holder = await guard_login(session, hard_hub, "guard2", "10.0.2.3")
    await asyncio.gather(*(attempt(session, hard_hub, "guard2", "nope", f"10.0.3.{i}") for i in range(1, 61)))
    code, body = await attempt(session, hard_hub, "guard2", GUARD_PASSWORD, "10.0.4.1")
    assert code == 429 and body["error"]["code"] == "login_locked" and "主管" in body["error"]["message"]
    await guard_login(session, hard_hub, "guard2", "10.0.2.1")
    async with session.post(f"{hard_hub.url}/api/agent/login", json={"username": "guard2", "password": GUARD_PASSWORD},
                            headers={**holder.headers, "X-Forwarded-For": "10.0.4.2"}) as r:
        assert r.status == 200


async def test_spraying_usernames_from_one_address_is_throttled(hard_hub: HubProcess, session) -> None:
    statuses = [(await attempt(session, hard_hub, f"user{i}", "password1", "10.0.5.1"))[0] for i in range(31)]
    assert statuses[:30] == [401] * 30 and statuses[30] == 429
    assert (await attempt(session, hard_hub, "guard3", GUARD_PASSWORD, "10.0.5.1"))[0] == 429
    await guard_login(session, hard_hub, "guard3", "10.0.5.2")


async def test_unknown_usernames_take_as_long_as_known_ones(hard_hub: HubProcess, session) -> None:
    """The same password hash runs for a name that does not exist (2–5 ms against ~55 ms before)."""
    known: list[float] = []
    unknown: list[float] = []
    for i in range(6):
        for name, times in (("guard5", known), (f"nobody{i}", unknown)):
            start = time.perf_counter()
            code, _ = await attempt(session, hard_hub, name, "wrong", f"10.0.6.{i}")
            times.append(time.perf_counter() - start)
            assert code == 401
    assert statistics.median(unknown) > 0.5 * statistics.median(known), (known, unknown)


# -- 4. the session cookie only works from the hub's own pages --------------------------------------

async def test_cookie_websocket_from_a_foreign_origin_is_refused(hard_hub: HubProcess) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(f"{hard_hub.url}/api/agent/login", headers={"X-Forwarded-For": "10.0.7.1"},
                                json={"username": "agent1", "password": "agent1-pass"}) as r:
            assert r.status == 200
        for query in ("?token=bogus", "", "?token="):
            async with browser.ws_connect(f"{hard_hub.ws_url}/ws/agent{query}", origin="http://evil.example") as ws:
                first = await ws.receive_json(timeout=5)
                assert first["type"] == "error", (query, first)
                assert (await ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        async with browser.get(f"{hard_hub.url}/api/agent/me", headers={"Origin": "http://evil.example"}) as r:
            assert r.status == 403 and (await r.json())["error"]["code"] == "bad_origin"
        async with browser.ws_connect(f"{hard_hub.ws_url}/ws/agent", origin=hard_hub.url) as ws:
            assert (await next_event(ws, "queue"))["type"] == "queue"


# -- 3. ending a session closes its consoles ---------------------------------------------------------

async def test_logout_and_password_reset_close_open_consoles(hard_hub: HubProcess, session) -> None:
    agent = await guard_login(session, hard_hub, "guard4", "10.0.8.1")
    other = await guard_login(session, hard_hub, "guard4", "10.0.8.1")
    async with agent.ws(hard_hub.ws_url) as ws, other.ws(hard_hub.ws_url) as ws2:
        await next_event(ws, "queue")
        await next_event(ws2, "queue")
        code, _ = await agent.call("POST", "/api/agent/logout")
        assert code == 200
        assert (await next_event(ws, "error", timeout=5))["error"]["code"] == "session_revoked"
        assert (await ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        # The other session lives on until the password is reset from the command line.
        subprocess.run([sys.executable, "-m", "handoff", "--reset-password", "guard4"], cwd=ROOT, check=True,
                       capture_output=True, env={**os.environ, "HUB_DATABASE_URL": hard_hub.db_url})  # type: ignore[attr-defined]
        assert (await next_event(ws2, "error", timeout=10))["error"]["code"] == "session_revoked"
    async with agent.ws(hard_hub.ws_url) as ws:
        assert (await ws.receive_json(timeout=5))["error"]["code"] == "unauthenticated"


async def test_a_busy_console_still_notices_its_session_ended(hard_hub: HubProcess, session) -> None:
    """Without Redis the reset is not announced; the console's periodic check must run even
    while events arrive more often than the check interval (a busy hub)."""
    agent = await guard_login(session, hard_hub, "guard7", "10.0.8.2")
    colleague = await guard_login(session, hard_hub, "guard8", "10.0.8.3")
    async with agent.ws(hard_hub.ws_url) as ws:
        await next_event(ws, "queue")
        busy = True

        async def churn() -> None:  # presence and queue events every 0.3 s
            for i in range(100):
                if not busy:
                    return
                await colleague.presence("away" if i % 2 else "online")
                await asyncio.sleep(0.3)

        task = asyncio.create_task(churn())
        try:
            subprocess.run([sys.executable, "-m", "handoff", "--reset-password", "guard7"], cwd=ROOT, check=True,
                           capture_output=True, env={**os.environ, "HUB_DATABASE_URL": hard_hub.db_url})  # type: ignore[attr-defined]
            assert (await next_event(ws, "error", timeout=8))["error"]["code"] == "session_revoked"
        finally:
            busy = False
            await task


# -- 6. hostile input: a clear 4xx, nothing stored, sockets answer ------------------------------------

def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


async def raw_post(session: aiohttp.ClientSession, url: str, body: str, headers: dict[str, str]) -> tuple[int, dict]:
    async with session.post(url, data=body.encode(), headers={**headers, "Content-Type": "application/json"}) as r:
        return r.status, await r.json()


async def test_hostile_input_gets_a_clear_4xx_and_nothing_is_stored(hard_hub: HubProcess, session) -> None:
    customer = await open_customer(session, hard_hub.url)
    base = f"{hard_hub.url}/api/conversations/{customer.id}"
    deep = "[" * 5000 + "]" * 5000
    deeper = "[" * 30000 + "]" * 30000
    bodies = {
        "messages": ['{"text": "\\ud800"}', '{"text": "ok", "title": "\\udfff"}', '{"text": "a\\u0000b"}',
                     '{"text": "ok", "client_msg_id": "\\ud800"}', '{"text": ' + deep + "}", deeper,
                     json.dumps({"text": "ok", "x": nested(40)})],
        "leave_message": ['{"text": "\\ud800"}', '{"text": "hi", "contact": "\\udc00"}'],
        "csat": ['{"score": 5, "comment": "\\ud800"}'],
    }
    for path, items in bodies.items():
        for body in items:
            code, data = await raw_post(session, f"{base}/{path}", body, customer.headers)
            assert 400 <= code < 500 and data["error"]["code"], (path, body[:40], code, data)
    for after in (str(HUGE), str(-HUGE), "1e9"):
        async with session.get(f"{base}/messages?after={after}", headers=customer.headers) as r:
            assert r.status == 400, after
    async with session.post(f"{hard_hub.url}/api/conversations", json={"identity": "张伟.签名"}) as r:
        assert r.status == 401 and (await r.json())["error"]["code"] == "invalid_identity"
    async with session.get(f"{hard_hub.url}/api/conversations/%00", headers=customer.headers) as r:
        assert r.status == 404
    assert (await customer.state())["messages"] == []

    sup = await login(session, hard_hub.url, "supervisor")
    for method, path, body in (("PUT", f"/api/agent/canned/{HUGE}", {"title": "t", "text": "x"}),
                               ("DELETE", f"/api/agent/canned/{HUGE}", None),
                               ("PATCH", f"/api/agent/tickets/{HUGE}", {"status": "open"}),
                               ("POST", f"/api/agent/conversations/{customer.id}/transfer", {"agent_id": HUGE}),
                               ("GET", f"/api/agent/conversations/{customer.id}/messages?after={HUGE}", None)):
        code, data = await sup.call(method, path, body)
        assert code == 400, (method, path, code, data)
    # a string where a boolean belongs: "no" must not be taken as a hidden note (nor as a reply)
    code, data = await sup.call("POST", f"/api/agent/conversations/{customer.id}/messages",
                                {"text": "内容", "internal": "no"})
    assert code == 400 and data["error"]["code"] == "invalid_internal", data
    for path, body in (("/api/agent/canned", '{"title": "\\ud800", "text": "x"}'),
                       (f"/api/agent/conversations/{customer.id}/messages", '{"text": "\\ud800", "internal": true}'),
                       ("/api/agent/login", '{"username": "agent1", "password": "\\ud800"}')):
        code, data = await raw_post(session, hard_hub.url + path, body, sup.headers)
        assert code == 400 and data["error"]["code"] == "invalid_unicode", (path, code, data)
    code, conv = await sup.call("GET", f"/api/agent/conversations/{customer.id}")
    assert code == 200 and conv["messages"] == [] and conv["notes"] == []

    async with customer.ws(hard_hub.ws_url) as cws:
        await next_event(cws, "mode")
        for frame in (deeper, '{"type": "message", "text": "\\ud800"}', '{"type": "message", "text": "a\\u0000"}'):
            await cws.send_str(frame)
            err = await next_event(cws, "error")
            assert err["error"]["code"] in ("too_deep", "invalid_json", "invalid_unicode"), err
        await cws.send_json({"type": "message", "text": "还在吗", "client_msg_id": "alive-1"})
        assert (await next_event(cws, "ack"))["message"]["text"] == "还在吗"
    async with sup.ws(hard_hub.ws_url) as aws:
        await next_event(aws, "queue")
        await aws.send_str(deeper)
        assert (await next_event(aws, "error"))["error"]["code"] in ("too_deep", "invalid_json")
        await aws.send_str('{"type": "typing", "conversation_id": "\\ud800"}')
        assert (await next_event(aws, "error"))["error"]["code"] == "invalid_unicode"


# -- 9. smaller findings -------------------------------------------------------------------------

async def test_login_answer_has_the_token_only_for_api_clients(hard_hub: HubProcess, session) -> None:
    code, data = await attempt(session, hard_hub, "guard6", GUARD_PASSWORD, "10.0.9.1")
    assert code == 200 and "token" not in data and data["csrf_token"]
    code, data = await attempt(session, hard_hub, "guard6", GUARD_PASSWORD, "10.0.9.1", bearer=True)
    assert code == 200 and data["token"]
    async with session.post(f"{hard_hub.url}/api/agent/login", json={"username": "guard6", "password": GUARD_PASSWORD},
                            headers={"X-Forwarded-For": "10.0.9.1", "X-Forwarded-Proto": "https"}) as r:
        assert r.status == 200 and "secure" in r.headers["Set-Cookie"].lower()  # TLS ends at the trusted proxy


async def test_cross_site_form_login_is_refused(hard_hub: HubProcess, session) -> None:
    body = json.dumps({"username": "guard6", "password": GUARD_PASSWORD})
    for headers, status in (({"Content-Type": "text/plain", "Origin": "http://evil.example"}, 403),
                            ({"Content-Type": "text/plain"}, 415),
                            ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
                            ({"Content-Type": "application/json", "Origin": "http://evil.example"}, 403)):
        async with session.post(f"{hard_hub.url}/api/agent/login", data=body,
                                headers={**headers, "X-Forwarded-For": "10.0.10.1"}) as r:
            assert r.status == status, (headers, await r.text())
            assert "Set-Cookie" not in r.headers


async def test_console_cannot_be_framed(hard_hub: HubProcess, session) -> None:
    async with session.get(f"{hard_hub.url}/console") as r:
        assert r.status == 200
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]


async def test_invisible_messages_are_refused_and_bidi_controls_removed(hard_hub: HubProcess, session) -> None:
    customer = await open_customer(session, hard_hub.url)
    for text in ("\u200b", "\u200b\u200c\u200d\ufeff\u2060", " \u200b\n", "\u202e\u2066"):
        code, body = await customer.send(text)
        assert code == 400 and body["error"]["code"] == "empty_text", repr(text)
    code, body = await customer.send("退款到账户 \u202e4321\u202c 可以吗\u2067", "bidi-1")
    assert code == 200 and body["message"]["text"] == "退款到账户 4321 可以吗"
    sup = await login(session, hard_hub.url, "supervisor")
    code, body = await sup.call("POST", "/api/agent/canned", {"title": "\u200b", "text": "x"})
    assert code == 400


async def test_long_url_gets_414_and_long_headers_431(hard_hub: HubProcess) -> None:
    url = f"{hard_hub.url}/api/conversations/abc?x={'a' * 8200}"
    async with aiohttp.ClientSession() as fresh:  # the hub closes the connection after refusing
        async with fresh.get(url) as r:
            assert r.status == 414 and (await r.json())["error"]["code"] == "uri_too_long"
    async with aiohttp.ClientSession() as fresh:
        async with fresh.get(f"{hard_hub.url}/healthz", headers={"X-Big": "b" * 9000}) as r:
            assert r.status == 431 and (await r.json())["error"]["code"] == "headers_too_large"


async def test_a_request_head_trickled_slowly_is_cut_off(hard_hub: HubProcess) -> None:
    """Slowloris: a header line every second must not keep the connection past the request
    timeout (3 s here), counted from the head's first byte."""
    reader, writer = await asyncio.open_connection("127.0.0.1", hard_hub.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n")
    sent = 0
    with contextlib.suppress(ConnectionError):
        for i in range(10):
            await asyncio.sleep(1)
            if reader.at_eof() or writer.is_closing():
                break
            writer.write(f"X-Slow-{i}: x\r\n".encode())
            await writer.drain()
            sent += 1
    answer = b""
    with contextlib.suppress(ConnectionError):  # the hub closed it: the rest, then EOF (else a timeout)
        answer = await asyncio.wait_for(reader.read(), 3)
    writer.close()
    # cut off while trickling (a line a second against a 3 s limit), never answered
    assert sent < 10 and b"200 OK" not in answer


# -- 2. customer floods: limits per client address and per customer -------------------------------

LIMIT_VARS = {"HUB_OPEN_PER_ADDRESS": "open_per_address", "HUB_OPEN_PER_CUSTOMER": "open_per_customer",
              "HUB_QUEUE_PER_ADDRESS": "queue_per_address", "HUB_QUEUE_PER_CUSTOMER": "queue_per_customer",
              "HUB_TICKETS_PER_ADDRESS": "tickets_per_address",
              "HUB_TICKETS_PER_CUSTOMER": "tickets_per_customer",
              "HUB_TYPING_PER_ADDRESS": "typing_per_address", "HUB_TYPING_PER_CUSTOMER": "typing_per_customer"}
DEFAULTS = Settings()


@pytest.fixture(scope="module")
def flood_hub(rasa: RasaStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A hub with the limits as deployed, behind one trusted proxy (each test its own addresses)."""
    tmp = tmp_path_factory.mktemp("flood")
    env = {"HUB_DATABASE_URL": f"sqlite:///{tmp / 'hub.db'}", "RASA_URL": rasa.url, "HUB_PROXIES_COUNT": "1",
           **{var: str(getattr(DEFAULTS, attr)) for var, attr in LIMIT_VARS.items()}}
    proc = HubProcess(env, tmp / "hub.log")
    yield proc
    proc.stop()


async def post_json(session: aiohttp.ClientSession, url: str, body: dict, headers: dict[str, str]
                    ) -> tuple[int, dict[str, str], dict]:
    async with session.post(url, json=body, headers=headers) as r:
        return r.status, dict(r.headers), await r.json()


def assert_limited(headers: dict[str, str], body: dict, words: str) -> None:
    assert int(headers["Retry-After"]) >= 1 and body["error"]["code"] == "rate_limited", body
    assert body["error"]["retry_after"] >= 1 and words in body["error"]["message"], body


async def queue_ids(hub: HubProcess, session: aiohttp.ClientSession) -> set[str]:
    sup = await login(session, hub.url, "supervisor")
    _, queue = await sup.call("GET", "/api/agent/queue")
    return {i["conversation_id"] for i in queue["items"]}


async def test_anonymous_flood_cannot_fill_the_queue(flood_hub: HubProcess, session) -> None:
    """500 anonymous conversations in a burst from one address, all asking for a human, many
    leaving messages and typing: each step stops at its limit with 429 + Retry-After (or, for the
    queue, a message in the chat), and a real customer elsewhere is still near the front."""
    hub = flood_hub
    await (await login(session, hub.url, "agent1")).presence("online")
    before = await queue_ids(hub, session)
    attacker = {"X-Forwarded-For": "10.66.0.1"}
    results = await asyncio.gather(*(post_json(session, f"{hub.url}/api/conversations", {"channel": "web"}, attacker)
                                     for _ in range(500)))
    created = [body for code, _, body in results if code == 201]
    refused = [(headers, body) for code, headers, body in results if code == 429]
    assert len(created) == DEFAULTS.open_per_address and len(refused) == 500 - len(created)
    assert_limited(*refused[0], "新建会话过于频繁")

    customers = [Customer(session, hub.url, body) for body in created]
    for c in customers:
        c.headers = {**c.headers, **attacker}
    sent = await asyncio.gather(*(c.send("转人工") for c in customers))
    assert {code for code, _ in sent} == {200}
    waiting = (await queue_ids(hub, session)) - before
    assert len(waiting) == DEFAULTS.queue_per_address
    turned_away = next(c for c, (_, data) in zip(customers, sent, strict=True) if c.id not in waiting)
    state = await turned_away.state()
    assert state["mode"] == "bot" and "转人工的请求过于频繁" in state["messages"][-1]["text"]

    queued = next(c for c in customers if c.id in waiting)
    typing = await asyncio.gather(*(post_json(session, f"{hub.url}/api/conversations/{queued.id}/typing", {},
                                              queued.headers) for _ in range(30)))
    assert sum(1 for code, _, _ in typing if code == 200) == DEFAULTS.typing_per_customer
    assert_limited(*next((h, b) for code, h, b in typing if code == 429), "输入状态发送过于频繁")

    left = await asyncio.gather(*(post_json(session, f"{hub.url}/api/conversations/{c.id}/leave_message",
                                            {"text": "请回电"}, c.headers) for c in customers[-50:]))
    assert sum(1 for code, _, _ in left if code == 201) == DEFAULTS.tickets_per_address
    assert_limited(*next((h, b) for code, h, b in left if code == 429), "留言过于频繁")

    real = await open_customer(session, hub.url)  # another address: untouched by the flood
    code, data = await real.send("转人工")
    assert code == 200 and (await real.state())["mode"] == "queued"
    place = int(re.search(r"第 (\d+) 位", data["replies"][-1]["text"])[1])
    assert place <= len(before) + DEFAULTS.queue_per_address + 1


async def test_one_waiting_place_per_customer_and_browser(flood_hub: HubProcess, session) -> None:
    hub = flood_hub
    await (await login(session, hub.url, "agent1")).presence("online")
    signed = sign_identity("C-twice", IDENTITY_SECRET, name="重复客户")
    for i, extra in enumerate(({"identity": signed}, {"visitor": "browser-0001-abcd"})):
        address = {"X-Forwarded-For": f"10.66.1.{i + 1}"}
        first, second = [Customer(session, hub.url, (await post_json(
            session, f"{hub.url}/api/conversations", {"channel": "web", **extra}, address))[2]) for _ in range(2)]
        assert (await first.send("转人工"))[0] == 200
        code, data = await second.send("转人工")
        assert code == 200 and "您已有一个会话在排队" in data["replies"][-1]["text"]
        assert (await first.state())["mode"] == "queued" and (await second.state())["mode"] == "bot"
    # The same browser asking in five conversations at once: one place, the others are told.
    address = {"X-Forwarded-For": "10.66.1.9"}
    chats = [Customer(session, hub.url, (await post_json(
        session, f"{hub.url}/api/conversations", {"channel": "web", "visitor": "browser-race-0001"}, address))[2])
        for _ in range(5)]
    sent = await asyncio.gather(*(c.send("转人工") for c in chats))
    assert [(await c.state())["mode"] for c in chats].count("queued") == 1
    assert sum("您已有一个会话在排队" in data["replies"][-1]["text"] for _, data in sent) == 4
    # The customer limit holds whatever address the customer comes from.
    many = sign_identity("C-many", IDENTITY_SECRET)
    codes = [(await post_json(session, f"{hub.url}/api/conversations", {"identity": many},
                              {"X-Forwarded-For": f"10.66.2.{i}"}))[0] for i in range(DEFAULTS.open_per_customer + 1)]
    assert codes == [201] * DEFAULTS.open_per_customer + [429]


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    from sanic.compat import Header

    from handoff.auth import client_address

    def address(peer: str, xff: str | None, proxies: tuple[str, ...]) -> str:
        settings = Settings(trusted_proxies=proxies)
        request = SimpleNamespace(app=SimpleNamespace(ctx=SimpleNamespace(settings=settings)), ip=peer,
                                  remote_addr="", headers=Header({"X-Forwarded-For": xff} if xff else {}))
        return client_address(request)  # type: ignore[arg-type]

    assert address("203.0.113.5", "10.0.0.1", ()) == "203.0.113.5"  # default: the header is ignored
    assert address("203.0.113.5", "10.0.0.1", ("10.9.0.0/16",)) == "203.0.113.5"  # peer is no proxy
    assert address("10.9.0.2", "198.51.100.7, 10.9.0.3", ("10.9.0.0/16",)) == "198.51.100.7"
    assert address("10.9.0.2", "1.1.1.1, 198.51.100.7", ("10.9.0.0/16",)) == "198.51.100.7"  # forged left part
    assert address("10.9.0.2", None, ("10.9.0.0/16",)) == "10.9.0.2"


# -- 8. agent scope: the same rule over REST and the console websocket ----------------------------

async def test_agents_see_and_act_within_their_scope(hard_hub: HubProcess, session) -> None:
    hub = hard_hub
    sup, a1, a2 = [await login(session, hub.url, n) for n in ("supervisor", "agent1", "agent2")]
    for agent in (sup, a1, a2):
        await agent.presence("online")
    orders = await open_customer(session, hub.url)
    await orders.send("转人工")  # stand-in bot: skill orders (agent1's group, not agent2's)
    refunds = [await open_customer(session, hub.url) for _ in range(6)]
    for c in refunds:
        await c.send("我要投诉")  # skill refunds (agent2's group)
    base = f"/api/agent/conversations/{orders.id}"

    async def queue_of(agent: Agent) -> set[str]:
        return {i["conversation_id"] for i in (await agent.call("GET", "/api/agent/queue"))[1]["items"]}

    assert orders.id not in await queue_of(a2) and refunds[0].id in await queue_of(a2)
    assert orders.id in await queue_of(a1) and refunds[0].id not in await queue_of(a1)
    for method, path, body, code in (("GET", base, None, "not_in_scope"),
                                     ("GET", f"{base}/messages", None, "not_in_scope"),
                                     ("POST", f"{base}/messages", {"text": "偷看", "internal": True}, "not_in_scope"),
                                     ("POST", f"{base}/close", None, "not_your_group"),
                                     ("POST", f"{base}/claim", None, "not_your_group"),
                                     ("GET", "/api/agent/conversations?scope=all", None, "supervisor_only")):
        status, data = await a2.call(method, path, body)
        assert status == 403 and data["error"]["code"] == code, (method, path, data)

    async with a2.ws(hub.ws_url) as ws:
        first = await next_event(ws, "queue")
        assert orders.id not in {i["conversation_id"] for i in first["items"]}
        assert (await a1.call("POST", f"{base}/claim"))[0] == 200
        assert (await a1.call("POST", f"{base}/messages", {"text": "内部：老客户", "internal": True}))[0] == 200
        await orders.send("订单号 123")
        await refunds[0].send("退款呢")
        got = await next_event(ws, "message", where=lambda e: e["message"]["author"] in ("customer", "agent"))
        assert got["conversation_id"] == refunds[0].id  # nothing of agent1's chat reached agent2
    status, data = await a2.call("POST", f"{base}/messages", {"text": "备注", "internal": True})
    assert status == 403
    status, detail = await sup.call("GET", base)
    assert status == 200 and [n["text"] for n in detail["notes"]] == ["内部：老客户"]

    # Transfers: only to an online colleague below the chat limit; supervisors may exceed the limit.
    await a2.presence("offline")
    status, data = await a1.call("POST", f"{base}/transfer", {"agent_id": a2.id})
    assert status == 403 and data["error"]["code"] == "agent_not_online"
    status, data = await sup.call("POST", f"{base}/transfer", {"agent_id": a2.id})
    assert status == 403 and data["error"]["code"] == "agent_not_online"
    await a2.presence("online")
    for c in refunds[:5]:
        assert (await a2.call("POST", f"/api/agent/conversations/{c.id}/claim"))[0] == 200
    status, data = await a1.call("POST", f"{base}/transfer", {"agent_id": a2.id})
    assert status == 403 and data["error"]["code"] == "agent_at_capacity"
    assert (await sup.call("POST", f"{base}/transfer", {"agent_id": a2.id}))[0] == 200
    # agent1 served the chat: it may still read it; agent2 now owns it and closes it
    assert (await a1.call("GET", base))[0] == 200
    assert (await a1.call("POST", f"{base}/close"))[0] == 403
    assert (await a2.call("POST", f"{base}/close"))[0] == 200
    for c in refunds:
        await sup.call("POST", f"/api/agent/conversations/{c.id}/return_to_bot")
