"""Hub test fixtures: real hub processes, a tiny Rasa stand-in for failure modes, clients."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.stack import HubService, free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"supervisor": "sup-pass-1", "agent1": "agent1-pass", "agent2": "agent2-pass"}
IDENTITY_SECRET = "test-identity-secret"
# Every test customer comes from 127.0.0.1, so the per-address limits are raised for hubs that
# are not testing them (per-customer limits stay as deployed: a real customer never reaches them).
ROOMY_LIMITS = {"HUB_OPEN_PER_ADDRESS": "100000", "HUB_QUEUE_PER_ADDRESS": "100000",
                "HUB_TICKETS_PER_ADDRESS": "100000", "HUB_TYPING_PER_ADDRESS": "100000"}


# --- Rasa stand-in -----------------------------------------------------------------------

HANDOFF_WORDS = {
    # keyword in the customer's text -> handoff payload the stand-in bot answers with
    "转人工": {"reason": "requested", "priority": "normal", "skill": "orders", "summary": "客户要求人工"},
    "被盗": {"reason": "urgent", "priority": "urgent", "skill": "account", "summary": "账号被盗"},
    "投诉": {"reason": "angry", "priority": "high", "skill": "refunds", "summary": "客户不满退款进度"},
}


class RasaStandIn:
    """Answers like Rasa's REST channel; the customer's text picks the behaviour:
    慢 → slower than the hub's timeout, 空 → ``[]``, 坏 → HTTP 500, 阻塞 → held until the test
    calls ``release()``, 断线 → the first request of a sender loses its connection unanswered,
    a HANDOFF_WORDS key → a handoff payload, anything else → an echo with buttons.
    ``max_in_flight`` is the most requests it was ever working on at once."""

    def __init__(self, delay: float = 3.0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.delay = delay
        self.gate = threading.Event()
        self.gate.set()
        self.in_flight = 0
        self.max_in_flight = 0
        self._count_lock = threading.Lock()
        self._dropped: set[str] = set()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.startswith("/model/parse"):  # as Rasa without --enable-api: no NLU here
                    self.send_error(404)
                    return
                stand_in.requests.append(body)
                text = body.get("message", "")
                if "断线" in text and body["sender"] not in stand_in._dropped:
                    stand_in._dropped.add(body["sender"])
                    self.close_connection = True  # no status line: the client sees a dropped connection
                    return
                with stand_in._count_lock:
                    stand_in.in_flight += 1
                    stand_in.max_in_flight = max(stand_in.max_in_flight, stand_in.in_flight)
                try:
                    self.answer(body, text)
                finally:
                    with stand_in._count_lock:
                        stand_in.in_flight -= 1

            def answer(self, body: dict[str, Any], text: str) -> None:
                status, payload = 200, [{"recipient_id": body["sender"], "text": f"收到：{text}",
                                         "buttons": [{"title": "查订单", "payload": "/order_status"}]}]
                if "慢" in text:
                    time.sleep(stand_in.delay)
                elif "阻塞" in text:
                    stand_in.gate.wait()
                elif "空" in text:
                    payload = []
                elif "坏" in text:
                    status, payload = 500, {"error": "boom"}
                else:
                    for word, handoff in HANDOFF_WORDS.items():
                        if word in text:
                            payload = [
                                {"recipient_id": body["sender"], "text": "好的，正在为您转接人工客服。"},
                                {"recipient_id": body["sender"],
                                 "custom": {"handoff": {**handoff, "emotion": "angry" if word == "投诉" else None}}},
                            ]
                raw = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def hold(self) -> None:
        """From now on, 阻塞 messages wait until ``release()``."""
        with self._count_lock:
            self.max_in_flight = self.in_flight
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    def for_sender(self, sender: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["sender"] == sender]

    def stop(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


# --- hub processes -----------------------------------------------------------------------

class HubProcess(HubService):
    """``python -m handoff`` in a subprocess, as deployed, with the test accounts; ready."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        super().__init__({
            "HUB_IDENTITY_SECRET": IDENTITY_SECRET,
            "HUB_SUPERVISOR_PASSWORD": PASSWORDS["supervisor"],
            "HUB_AGENT1_PASSWORD": PASSWORDS["agent1"],
            "HUB_AGENT2_PASSWORD": PASSWORDS["agent2"],
            "HUB_WORKING_HOURS": "00:00-24:00",
            "HUB_RASA_TIMEOUT": "1",
            "DATABASE_URL": f"sqlite:///{log_path.parent / 'no-shop.db'}",
            **ROOMY_LIMITS,
            **env,
        }, log_path, fresh_log=True)
        self.start(60)


@contextmanager
def hub_processes(env: dict[str, str], folder: Path, count: int = 2,
                  per_hub: list[dict[str, str]] | None = None) -> Iterator[list[HubProcess]]:
    """`count` hub processes on one configuration (several hubs behind a load balancer);
    ``per_hub[i]`` adds to hub i's environment (e.g. its own route to the database)."""
    started: list[HubProcess] = []
    try:
        for i in range(1, count + 1):
            extra = per_hub[i - 1] if per_hub else {}
            started.append(HubProcess({**env, **extra}, folder / f"hub{i}.log"))
        yield started
    finally:
        for proc in started:
            proc.stop()


@pytest.fixture(scope="module")
def rasa() -> Iterator[RasaStandIn]:
    stand_in = RasaStandIn()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def hub(rasa: RasaStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("hub")
    proc = HubProcess({"HUB_DATABASE_URL": f"sqlite:///{tmp / 'hub.db'}", "RASA_URL": rasa.url,
                       "HUB_RATE_LIMIT": "20"}, tmp / "hub.log")
    yield proc
    proc.stop()


# --- clients -------------------------------------------------------------------------------

class Customer:
    def __init__(self, session: aiohttp.ClientSession, base: str, data: dict[str, Any]) -> None:
        self.session, self.base = session, base
        self.id: str = data["conversation_id"]
        self.token: str = data["token"]
        self.headers = {"Authorization": f"Bearer {self.token}"}

    async def send(self, text: str, client_msg_id: str | None = None, **extra: Any) -> tuple[int, dict]:
        body = {"text": text, **extra}
        if client_msg_id:
            body["client_msg_id"] = client_msg_id
        async with self.session.post(f"{self.base}/api/conversations/{self.id}/messages",
                                     json=body, headers=self.headers) as r:
            return r.status, await r.json()

    async def state(self) -> dict:
        async with self.session.get(f"{self.base}/api/conversations/{self.id}", headers=self.headers) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def post(self, path: str, body: dict | None = None) -> tuple[int, dict]:
        async with self.session.post(f"{self.base}/api/conversations/{self.id}/{path}",
                                     json=body or {}, headers=self.headers) as r:
            return r.status, await r.json()

    def ws(self, ws_base: str) -> Any:
        return self.session.ws_connect(f"{ws_base}/ws/customer?conversation_id={self.id}&token={self.token}")


async def open_customer(session: aiohttp.ClientSession, base: str, identity: str | None = None) -> Customer:
    body: dict[str, Any] = {"channel": "web"}
    if identity:
        body["identity"] = identity
    async with session.post(f"{base}/api/conversations", json=body) as r:
        assert r.status == 201, await r.text()
        return Customer(session, base, await r.json())


class Agent:
    """An API client with the bearer token from login."""

    def __init__(self, session: aiohttp.ClientSession, base: str, data: dict[str, Any]) -> None:
        self.session, self.base = session, base
        self.info = data["agent"]
        self.id: int = data["agent"]["id"]
        self.token: str = data["token"]
        self.csrf: str = data["csrf_token"]
        self.headers = {"Authorization": f"Bearer {self.token}"}

    async def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        async with self.session.request(method, self.base + path, json=body, headers=self.headers) as r:
            return r.status, await r.json()

    async def presence(self, status: str) -> None:
        code, data = await self.call("POST", "/api/agent/presence", {"status": status})
        assert code == 200, data

    def ws(self, ws_base: str) -> Any:
        return self.session.ws_connect(f"{ws_base}/ws/agent?token={self.token}")


async def login(session: aiohttp.ClientSession, base: str, username: str) -> Agent:
    """Log in as an API client: it asks for the bearer token (browsers get only the cookie)."""
    async with session.post(f"{base}/api/agent/login",
                            json={"username": username, "password": PASSWORDS[username], "bearer": True}) as r:
        assert r.status == 200, await r.text()
        return Agent(session, base, await r.json())


async def next_event(ws: Any, kind: str, timeout: float = 5.0, where: Any = None, **match: Any) -> dict:
    """The next websocket event of a type (and matching fields), skipping others."""
    import asyncio

    async def wait() -> dict:
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"websocket closed while waiting for {kind}: {msg}")
            event = json.loads(msg.data)
            if (event.get("type") == kind and all(event.get(k) == v for k, v in match.items())
                    and (where is None or where(event))):
                return event

    return await asyncio.wait_for(wait(), timeout)
