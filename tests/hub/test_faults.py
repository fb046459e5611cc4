"""Faults of the hub's dependencies, against real hub processes.

Two hubs share a PostgreSQL database and a Redis that belong to this module: the Redis is a
``redis-server`` the tests kill, freeze (SIGSTOP) and restart; each hub reaches PostgreSQL
through its own TCP proxy that the tests cut or freeze, so the shared server is never touched.
A single hub on SQLite is locked from outside. Runs (never skips) under CI=true.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from handoff.store import Store
from tests.services import fresh_pg_database, require_services

from .conftest import (
    Customer,
    HubProcess,
    RasaStandIn,
    free_port,
    hub_processes,
    login,
    next_event,
    open_customer,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

TIMEOUT = aiohttp.ClientTimeout(total=15)


# --- controllable dependencies ----------------------------------------------------------------

class RedisServer:
    """A throw-away ``redis-server`` on a free port that a test may kill, freeze and restart."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def freeze(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.thaw()
            self.kill()


class TcpProxy:
    """Forwards a port to another; ``cut()`` drops every connection and refuses new ones,
    ``freeze()`` keeps connections but moves no bytes, ``restore()`` undoes either."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.mode = "open"
        self.flowing = threading.Event()
        self.flowing.set()
        self.conns: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode == "cut":
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self.flowing.wait()
                if self.mode == "cut":
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._drop(s)

    def _drop(self, s: socket.socket) -> None:
        with self.lock:
            self.conns.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def cut(self) -> None:
        self.mode = "cut"
        self.flowing.set()
        with self.lock:
            conns = list(self.conns)
        for s in conns:
            self._drop(s)

    def freeze(self) -> None:
        self.mode = "frozen"
        self.flowing.clear()

    def restore(self) -> None:
        self.mode = "open"
        self.flowing.set()

    def close(self) -> None:
        self.closed = True
        self.restore()
        self.cut()
        self.sock.close()


class Cluster:
    def __init__(self, hubs: list[HubProcess], proxies: list[TcpProxy], env: dict[str, str],
                 per_hub: list[dict[str, str]], folder: Path) -> None:
        self.hubs, self.proxies, self.env, self.per_hub, self.folder = hubs, proxies, env, per_hub, folder

    def kill(self, i: int) -> None:
        self.hubs[i].proc.kill()
        self.hubs[i].proc.wait()

    def restart(self, i: int) -> None:
        self.hubs[i].stop()
        self.hubs[i] = HubProcess({**self.env, **self.per_hub[i]}, self.folder / f"hub{i + 1}-again.log")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    require_services()
    with fresh_pg_database("hub_faults") as url:
        yield url


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(pg_url: str, redis_server: RedisServer, rasa: RasaStandIn,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    url = make_url(pg_url)
    proxies = [TcpProxy(url.port or 5432, url.host or "127.0.0.1") for _ in range(2)]
    env = {"REDIS_URL": redis_server.url, "RASA_URL": rasa.url, "HUB_RASA_TIMEOUT": "2",
           "HUB_BOT_RETRY_EVERY": "1", "HUB_AGENT_AWAY_AFTER": "2", "HUB_AWAY_REQUEUE_AFTER": "3",
           "HUB_SESSION_CHECK": "600", "HUB_RATE_LIMIT": "100"}
    per_hub = [{"HUB_DATABASE_URL": url.set(host="127.0.0.1", port=p.port).render_as_string(hide_password=False)}
               for p in proxies]
    folder = tmp_path_factory.mktemp("faults")
    with hub_processes(env, folder, 2, per_hub) as hubs:
        yield Cluster(hubs, proxies, env, per_hub, folder)
        for proxy in proxies:
            proxy.restore()
    for proxy in proxies:
        proxy.close()


@pytest.fixture
async def client() -> Any:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        yield session


async def eventually(check: Any, timeout: float, every: float = 0.3) -> Any:
    """The first truthy result of ``await check()`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(every)


async def health(session: aiohttp.ClientSession, hub: HubProcess) -> tuple[int, dict]:
    async with session.get(hub.url + "/healthz") as r:
        return r.status, await r.json()


async def claimed_chat(session: aiohttp.ClientSession, hub: HubProcess, agent: Any,
                       ask: str = "转人工") -> Customer:
    """A chat the agent took: ``ask`` picks its group (转人工 orders, 投诉 refunds)."""
    customer = await open_customer(session, hub.url)
    code, _ = await customer.send(ask, f"h-{customer.id[:8]}")
    assert code == 200
    code, data = await agent.call("POST", f"/api/agent/conversations/{customer.id}/claim")
    assert code == 200, data
    return customer


async def collect(ws: Any, want: set[str], timeout: float, author: str) -> dict[str, str]:
    """Message events of ``author`` until every text in ``want`` was seen: text -> message id."""
    seen: dict[str, str] = {}

    async def run() -> None:
        while not want <= set(seen):
            event = await next_event(ws, "message", timeout=timeout,
                                     where=lambda e: e["message"]["author"] == author)
            seen.setdefault(event["message"]["text"], event["message"]["id"])

    try:
        await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        pass
    return seen


async def console_got(ws: Any, agent: Any, conversation_id: str, *texts: str, timeout: float = 20) -> None:
    """The console hears of every one of ``texts``: as its event, or told to reload (``resync``,
    after a bus outage) and then finds it in the conversation. One call waits for all of them:
    a bus outage sends a single resync, which may stand for several missed messages."""
    missing = set(texts)

    async def run() -> None:
        while missing:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            event = json.loads(msg.data)
            if event.get("type") == "message":
                missing.discard(event["message"]["text"])
            if event.get("type") == "resync":
                code, data = await agent.call("GET", f"/api/agent/conversations/{conversation_id}/messages")
                if code == 200:
                    missing.difference_update(m["text"] for m in data["messages"])

    try:
        await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"the console never heard of {sorted(missing)}") from None


# --- 10. Redis stopped -----------------------------------------------------------------------

async def test_redis_down_changes_answer_and_are_announced_when_it_returns(
        cluster: Cluster, redis_server: RedisServer, client: aiohttp.ClientSession) -> None:
    hub1, hub2 = cluster.hubs
    agent = await login(client, hub2.url, "agent1")
    await agent.presence("online")
    quiet = await claimed_chat(client, hub1, agent)
    waiting = await open_customer(client, hub1.url)
    assert (await waiting.send("转人工", "w-1"))[0] == 200
    async with quiet.ws(hub1.ws_url) as cws, waiting.ws(hub1.ws_url) as wws, agent.ws(hub2.ws_url) as aws:
        await next_event(cws, "mode")
        await next_event(wws, "mode")
        await next_event(aws, "queue")
        redis_server.kill()
        texts = [f"客服回复 {i}" for i in range(17)]
        for text in texts:
            started = time.monotonic()
            code, data = await agent.call("POST", f"/api/agent/conversations/{quiet.id}/messages", {"text": text})
            assert code == 200, data
            assert time.monotonic() - started < 4
        code, data = await agent.call("POST", f"/api/agent/conversations/{waiting.id}/claim")
        assert code == 200, data
        assert (await login(client, hub1.url, "agent2")).id  # logins need no Redis
        code, data = await quiet.send("还在吗", "q-1")  # the shared rate limit falls back to the process
        assert code == 200, data
        status, body = await eventually(
            lambda: _redis_reported(client, hub1, "down"), 5)
        assert status == 200 and body["database"] == "ok" and body["outbox"] >= 1
        redis_server.start()
        got = await collect(cws, set(texts), 20, "agent")
        assert set(texts) <= set(got), f"customer saw {len(set(texts) & set(got))} of 17"
        assert (await next_event(wws, "mode", timeout=15, mode="agent"))
        await console_got(aws, agent, quiet.id, "还在吗")
        await eventually(lambda: _redis_reported(client, hub1, "ok"), 10)
    for c in (quiet, waiting):
        await agent.call("POST", f"/api/agent/conversations/{c.id}/return_to_bot")


async def _redis_reported(session: aiohttp.ClientSession, hub: HubProcess, state: str) -> tuple[int, dict] | None:
    status, body = await health(session, hub)
    return (status, body) if body.get("redis") == state else None


# --- 11. Redis frozen --------------------------------------------------------------------------

async def test_redis_frozen_requests_are_bounded(cluster: Cluster, redis_server: RedisServer,
                                                 client: aiohttp.ClientSession) -> None:
    hub1, hub2 = cluster.hubs
    agent = await login(client, hub2.url, "agent1")
    await agent.presence("online")
    customer = await claimed_chat(client, hub1, agent)
    async with customer.ws(hub1.ws_url) as cws, agent.ws(hub2.ws_url) as aws:
        await next_event(cws, "mode")
        await next_event(aws, "queue")
        redis_server.freeze()
        try:
            for i in range(3):
                started = time.monotonic()
                code, data = await customer.send(f"冻结中 {i}", f"fz-{i}")
                assert code == 200, data
                assert time.monotonic() - started < 5, "a frozen Redis must cost a request at most a few seconds"
                started = time.monotonic()
                code, data = await agent.call("POST", f"/api/agent/conversations/{customer.id}/messages",
                                              {"text": f"冻结时回复 {i}"})
                assert code == 200, data
                assert time.monotonic() - started < 5
            await eventually(lambda: _redis_reported(client, hub1, "down"), 5)
            limited = [(await customer.send(f"计数 {i}", f"fz-{i}"))[0] for i in range(3)]  # re-sent ids
            assert limited == [200, 200, 200]
        finally:
            redis_server.thaw()
        got = await collect(cws, {f"冻结时回复 {i}" for i in range(3)}, 20, "agent")
        assert len(got) == 3, got
        await console_got(aws, agent, customer.id, *(f"冻结中 {i}" for i in range(3)))
    await agent.call("POST", f"/api/agent/conversations/{customer.id}/return_to_bot")


# --- 12. a bot turn in progress ----------------------------------------------------------------

async def _bot_texts(customer: Customer) -> list[str]:
    return [m["text"] for m in (await customer.state())["messages"] if m["author"] == "bot"]


async def _wait_for_rasa(rasa: RasaStandIn, sender: str, count: int = 1) -> None:
    async def arrived() -> bool:
        return len(rasa.for_sender(sender)) >= count

    await eventually(arrived, 5, 0.05)


async def test_bot_turn_of_a_killed_hub_is_retried(cluster: Cluster, rasa: RasaStandIn,
                                                   client: aiohttp.ClientSession) -> None:
    hub1, hub2 = cluster.hubs
    resend = await open_customer(client, hub1.url)
    quiet = await open_customer(client, hub1.url)
    rasa.hold()
    try:
        sends = [asyncio.ensure_future(c.send(f"阻塞 订单 {i}", f"k-{i}")) for i, c in enumerate((resend, quiet))]
        for c in (resend, quiet):
            await _wait_for_rasa(rasa, c.id)
        cluster.kill(0)  # while Rasa is answering both
    finally:
        rasa.release()
    for task in sends:
        with pytest.raises(aiohttp.ClientError):
            await task
    on_hub2 = [Customer(client, hub2.url, {"conversation_id": c.id, "token": c.token}) for c in (resend, quiet)]
    assert [m["author"] for m in (await on_hub2[0].state())["messages"]] == ["customer"]

    async def replayed() -> list[dict] | None:
        code, data = await on_hub2[0].send("阻塞 订单 0", "k-0")
        assert code == 200, data
        return data["replies"] or None

    replies = await eventually(replayed, 20, 1.0)
    assert [r["text"] for r in replies] == ["收到：阻塞 订单 0"]
    assert await eventually(lambda: _bot_texts(on_hub2[1]), 20) == ["收到：阻塞 订单 1"]  # the sweep
    await asyncio.sleep(2)
    for n, c in enumerate(on_hub2):
        assert await _bot_texts(c) == [f"收到：阻塞 订单 {n}"]  # answered once
    cluster.restart(0)


async def test_bot_turn_cut_off_from_the_database_is_retried(cluster: Cluster, rasa: RasaStandIn,
                                                             client: aiohttp.ClientSession) -> None:
    hub1, hub2 = cluster.hubs
    customer = await open_customer(client, hub1.url)
    watcher = Customer(client, hub2.url, {"conversation_id": customer.id, "token": customer.token})
    async with watcher.ws(hub2.ws_url) as cws:
        await next_event(cws, "mode")
        rasa.hold()
        try:
            send = asyncio.ensure_future(customer.send("阻塞 断库", "cut-1"))
            await _wait_for_rasa(rasa, customer.id)
            cluster.proxies[0].cut()
        finally:
            rasa.release()
        try:
            code, data = await send
        finally:
            cluster.proxies[0].restore()
        assert code == 503 and data["error"]["code"] == "reply_pending", data
        assert "nothing was changed" not in data["error"]["message"]
        event = await next_event(cws, "message", timeout=25, where=lambda e: e["message"]["author"] == "bot")
        assert event["message"]["text"] == "收到：阻塞 断库"
    assert [m["author"] for m in (await watcher.state())["messages"]] == ["customer", "bot"]


# --- 13. presence after an outage ----------------------------------------------------------

async def _presence(agent: Any, agent_id: int) -> str:
    code, data = await agent.call("GET", "/api/agent/agents")
    assert code == 200, data
    return next(a["presence"] for a in data["agents"] if a["id"] == agent_id)


async def test_presence_comes_back_after_a_database_outage(cluster: Cluster,
                                                           client: aiohttp.ClientSession) -> None:
    hub1, hub2 = cluster.hubs
    sup = await login(client, hub1.url, "supervisor")
    agent = await login(client, hub2.url, "agent2")
    async with agent.ws(hub2.ws_url) as aws:
        await next_event(aws, "queue")
        await agent.presence("online")
        for proxy in cluster.proxies:
            proxy.cut()
        await asyncio.sleep(1)
        cluster.proxies[0].restore()  # hub 1 is back first; hub 2 cannot stamp its console yet

        async def away() -> bool:
            return await _presence(sup, agent.id) == "away"

        await eventually(away, 8)
        cluster.proxies[1].restore()

        async def online() -> bool:
            return await _presence(sup, agent.id) == "online"

        await eventually(online, 6)
        assert (await next_event(aws, "presence", timeout=5, agent_id=agent.id))["presence"] in ("away", "online")


async def test_chats_of_an_agent_away_too_long_go_back_to_the_queue(cluster: Cluster,
                                                                    client: aiohttp.ClientSession) -> None:
    hub1, hub2 = cluster.hubs
    agent = await login(client, hub1.url, "agent2")
    async with agent.ws(hub1.ws_url) as aws:
        await next_event(aws, "queue")
        await agent.presence("online")
        customer = await claimed_chat(client, hub2, agent, "投诉")  # agent2 serves refunds
    async with customer.ws(hub2.ws_url) as cws:  # the console is gone: away after 2 s, chat requeued 3 s later
        await next_event(cws, "mode", mode="agent")
        started = time.monotonic()
        await next_event(cws, "mode", timeout=15, mode="queued")
        assert time.monotonic() - started >= 3
    state = await customer.state()
    assert state["mode"] == "queued" and state["messages"][-1]["author"] == "system"
    sup = await login(client, hub1.url, "supervisor")
    await sup.call("POST", f"/api/agent/conversations/{customer.id}/return_to_bot")


# --- 14. reconnects and long histories -------------------------------------------------------

async def test_websocket_refused_while_the_database_is_out_of_reach(cluster: Cluster,
                                                                    client: aiohttp.ClientSession) -> None:
    hub1 = cluster.hubs[0]
    customer = await open_customer(client, hub1.url)
    agent = await login(client, hub1.url, "agent1")
    cluster.proxies[0].cut()
    try:
        for url in (f"{hub1.ws_url}/ws/customer?conversation_id={customer.id}&token={customer.token}",
                    f"{hub1.ws_url}/ws/agent?token={agent.token}"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                async with client.ws_connect(url):
                    pass
            assert refused.value.status == 503
        status, body = await health(client, hub1)
        assert status == 503 and body["database"] == "down"
    finally:
        cluster.proxies[0].restore()
    async with customer.ws(hub1.ws_url) as cws:
        await next_event(cws, "mode", timeout=10)


async def test_long_history_reads_on_with_after(cluster: Cluster, pg_url: str,
                                                client: aiohttp.ClientSession) -> None:
    hub1 = cluster.hubs[0]
    customer = await open_customer(client, hub1.url)
    store = Store.from_url(pg_url)
    try:
        await store.messages.add(customer.id, "web", [{"author": "customer", "text": f"第 {i} 条"}
                                                      for i in range(1, 521)])
    finally:
        await store.close()
    first = await customer.state()
    assert len(first["messages"]) == 500 and first["has_more"] is True
    async with client.get(f"{hub1.url}/api/conversations/{customer.id}?after=500", headers=customer.headers) as r:
        rest = await r.json()
    assert [m["text"] for m in rest["messages"]] == [f"第 {i} 条" for i in range(501, 521)]
    assert rest["has_more"] is False
    async with client.get(f"{hub1.url}/api/conversations/{customer.id}/messages?after=0",
                          headers=customer.headers) as r:
        page = await r.json()
    assert len(page["messages"]) == 500 and page["has_more"] is True


# --- 7. SQLite locked from outside ---------------------------------------------------------------

@pytest.fixture(scope="module")
def sqlite_hub(rasa: RasaStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("sqlite-lock")
    proc = HubProcess({"HUB_DATABASE_URL": f"sqlite:///{tmp / 'hub.db'}", "RASA_URL": rasa.url},
                      tmp / "hub.log")
    proc.db_path = tmp / "hub.db"  # type: ignore[attr-defined]
    yield proc
    proc.stop()


async def _login_status(session: aiohttp.ClientSession, hub: HubProcess) -> int:
    async with session.post(f"{hub.url}/api/agent/login", json={"username": "agent1", "password": "x"}) as r:
        return r.status


async def _timed(coro: Any) -> tuple[float, Any]:
    started = time.monotonic()
    result = await coro
    return time.monotonic() - started, result


async def test_locked_sqlite_reads_go_on_and_writes_answer_503(sqlite_hub: HubProcess,
                                                               client: aiohttp.ClientSession) -> None:
    customer = await open_customer(client, sqlite_hub.url)
    assert (await customer.send("你好", "l-0"))[0] == 200
    lock = sqlite3.connect(sqlite_hub.db_path, isolation_level=None)  # type: ignore[attr-defined]
    lock.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        stuck = asyncio.ensure_future(_timed(customer.send("锁住时", "l-1")))  # a write waits for the lock
        await asyncio.sleep(0.3)
        took, state = await _timed(customer.state())  # reads do not queue behind it
        assert took < 1.5 and [m["text"] for m in state["messages"]][0] == "你好"
        took, (status, body) = await _timed(health(client, sqlite_hub))
        assert took < 2.5 and status == 503 and body["database"] == "locked", body
        took, (code, data) = await stuck
        assert took < 4 and code == 503, data
        took, status = await _timed(_login_status(client, sqlite_hub))
        assert took < 4 and status == 503
        took, _ = await _timed(customer.state())
        assert took < 1.5
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert (await health(client, sqlite_hub))[0] == 200
    code, data = await customer.send("锁住时", "l-1")
    assert code == 200 and data["replies"], data

