"""A local fake of WeChat's API server: issues tokens, records sends, answers scripted errors."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class FakeWeChat:
    tokens_issued: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)  # next send answers these errcodes in order
    delay: float = 0.0
    url: str = ""
    _runner: Any = None

    @property
    def valid(self) -> str | None:
        return self.tokens_issued[-1] if self.tokens_issued else None

    async def token(self, request: web.Request) -> web.Response:
        if request.query.get("secret") != "sec":
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        tok = f"tok-{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(tok)
        return web.json_response({"access_token": tok, "expires_in": 7200})

    async def send(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.query.get("access_token") != self.valid:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        if self.errors:
            code = self.errors.pop(0)
            return web.json_response({"errcode": code, "errmsg": "scripted"})
        self.sent.append(json.loads(await request.read()))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self.token)
        app.router.add_post("/cgi-bin/message/custom/send", self.send)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        await self._runner.cleanup()

    def texts_to(self, openid: str) -> list[str]:
        """What the customer-service API accepted for one customer, in order."""
        return [s["text"]["content"] for s in list(self.sent) if s.get("touser") == openid]


class FakeWeChatThread:
    """A FakeWeChat on its own event loop thread: hub processes outlive a test's event loop."""

    def __init__(self) -> None:
        import threading

        self.fake = FakeWeChat()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeWeChat:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
