"""The WeChat callback route: verification, pushes, dedup, and WeChat's 5-second rule.

WeChat waits 5 s for an answer and then repeats the push (three more times). So each push
is processed in its own task: if its replies are ready within the reply budget they are the
passive reply; otherwise the route answers ``success`` at once and the replies follow
through the customer-service API. A dedup row (unique key = MsgId, or sender + CreateTime
for events) makes every later copy of a push, on any hub process, a pure read: it gets the
stored passive reply or ``success``, never a second bot turn.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, text
from sqlalchemy.exc import SQLAlchemyError
from wechatpy.crypto import WeChatCrypto

from handoff.channels.wechat import Capture, WeChatChannel, mask
from handoff.realtime import RedisBus
from handoff.service import Hub
from handoff.wechat.api import WeChatApi
from handoff.wechat.config import WeChatSettings
from handoff.wechat.flows import Flows, is_event
from handoff.wechat.inbox import Inbox
from handoff.wechat.protocol import (
    BadPayload,
    BadSignature,
    Inbound,
    pack_reply,
    parse,
    passive_reply,
    signature_ok,
    timestamp_fresh,
    unwrap,
)

log = logging.getLogger("handoff.wechat")

POLL_SECONDS = 0.1
REPLY_JOINER = "\n\n"  # a passive reply carries one message: the push's replies, in order


@dataclass
class Job:
    """One push being processed, shared by the processing task and the route waiting on it."""

    inbound: Inbound
    late: bool = False
    capture: Capture | None = None
    conversation_id: str | None = None


class WeChatEndpoint:
    def __init__(self, cfg: WeChatSettings, hub: Hub, channel: WeChatChannel, inbox: Inbox) -> None:
        self.cfg = cfg
        self.hub = hub
        self.channel = channel
        self.inbox = inbox
        self.flows = Flows(hub, channel, inbox)
        self.crypto = (WeChatCrypto(cfg.token, cfg.encoding_aes_key, cfg.appid)
                       if cfg.mode != "plain" else None)
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # already logged where it happened; read here so a task nobody awaits stays quiet
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return task

    # -- HTTP --------------------------------------------------------------------------------

    async def verify(self, request: Request) -> HTTPResponse:
        """WeChat's URL check: echo ``echostr`` only under a valid signature."""
        args = request.args
        if not signature_ok(self.cfg.token, args.get("signature", ""), args.get("timestamp", ""),
                            args.get("nonce", "")):
            log.warning("WeChat URL verification refused: bad signature")
            return text("forbidden", status=403)
        if not self._fresh(args.get("timestamp", "")):
            log.warning("WeChat URL verification refused: timestamp outside %.0f s", self.cfg.timestamp_window)
            return text("forbidden", status=403)
        return text(args.get("echostr", ""))

    def _fresh(self, timestamp: str) -> bool:
        return timestamp_fresh(timestamp, time.time(), self.cfg.timestamp_window)

    async def receive(self, request: Request) -> HTTPResponse:
        started = time.monotonic()
        params = {k: request.args.get(k, "") for k in
                  ("signature", "timestamp", "nonce", "encrypt_type", "msg_signature")}
        body = request.body or b""
        try:
            xml, encrypted = unwrap(body, params, self.cfg.token, self.crypto, self.cfg.mode)
            inbound = parse(xml)
        except BadSignature as exc:
            log.warning("WeChat push refused (403): %s", exc)
            return text("forbidden", status=403)
        except BadPayload as exc:
            log.warning("WeChat push refused (400): %s, %d bytes", exc, len(body))
            return text("bad request", status=400)
        if not self._fresh(params["timestamp"]):  # signed, but captured and sent again later
            log.warning("WeChat push refused (403): timestamp outside %.0f s, %d bytes",
                        self.cfg.timestamp_window, len(body))
            return text("forbidden", status=403)
        # Shielded: WeChat hanging up at 5 s must not stop the processing or its bookkeeping.
        reply = await asyncio.shield(self._spawn(self.accept(inbound, started + self.cfg.reply_budget)))
        if not reply:
            return text("success")
        xml_reply = passive_reply(inbound, reply, self.crypto, encrypted,
                                  secrets.token_hex(8), str(int(time.time())))
        return text(xml_reply, content_type="application/xml; charset=utf-8")

    # -- dedup and the reply budget --------------------------------------------------------------

    async def accept(self, inbound: Inbound, deadline: float) -> str | None:
        """The passive reply text for this push, or None for ``success``."""
        for _ in range(3):
            if await self.inbox.claim(inbound.dedup_key, inbound.openid, inbound.kind):
                return await self._first(inbound, deadline)
            row = await self.inbox.get(inbound.dedup_key)
            while row is not None and row["state"] == "processing" and time.monotonic() < deadline:
                await asyncio.sleep(POLL_SECONDS)
                row = await self.inbox.get(inbound.dedup_key)
            if row is not None:
                log.info("WeChat retry of %s answered from the first delivery (%s)",
                         mask(inbound.openid), row["state"])
                return row["reply"] if row["state"] == "done" else None
            # released after a failed attempt: this copy processes it
        return None

    async def _first(self, inbound: Inbound, deadline: float) -> str | None:
        job = Job(inbound)
        task = self._spawn(self._work(job))
        await asyncio.wait({task}, timeout=max(0.0, deadline - time.monotonic()))
        if task.done():
            task.result()  # a failure answers 500, and WeChat's retry processes it again
            reply, overflow = pack_reply(job.capture.texts if job.capture else [], REPLY_JOINER)
            if overflow and job.capture is not None:
                # too long for one passive reply: all of it by API, so the order holds
                self.channel.release(job.capture)
                reply = ""
            try:
                await self.inbox.finish(inbound.dedup_key, reply or None, job.conversation_id)
            except SQLAlchemyError:  # the answer is ready: give it; only a retry would lack it
                log.error("could not store the passive reply of a WeChat push")
            return reply or None
        job.late = True
        if job.capture is not None:
            self.channel.release(job.capture)
        log.info("WeChat reply for %s exceeds the %.1f s budget: answering by API",
                 mask(inbound.openid), self.cfg.reply_budget)
        await self.inbox.mark_late(inbound.dedup_key)
        return None

    async def _work(self, job: Job) -> None:
        try:
            await self._process(job)
        except Exception as exc:
            # database errors carry the statement's parameters (the customer's text): name only
            log.error("WeChat push from %s failed: %s", mask(job.inbound.openid), type(exc).__name__,
                      exc_info=not isinstance(exc, SQLAlchemyError))
            try:
                await self.inbox.release(job.inbound.dedup_key)
            except SQLAlchemyError:
                log.error("could not release the dedup row of a failed WeChat push")
            raise
        if job.late:
            await self.inbox.finish(job.inbound.dedup_key, None, job.conversation_id)

    def _capture(self, job: Job, conv: dict[str, Any]) -> None:
        job.conversation_id = conv["id"]
        job.capture = self.channel.start_capture(conv)
        if job.late:
            job.capture.late = True

    async def _process(self, job: Job) -> None:
        inbound = job.inbound
        if inbound.kind == "unsubscribe":
            conv = await self.inbox.conversation_for(inbound.openid, create=False)
            if conv is not None:
                job.conversation_id = conv["id"]
                await self.flows.unsubscribe(conv)
            return
        if inbound.kind == "other" and is_event(inbound):
            log.info("WeChat event %s from %s ignored", inbound.media_type[:32], mask(inbound.openid))
            return
        conv = await self.inbox.conversation_for(inbound.openid)
        assert conv is not None
        self._capture(job, conv)
        if inbound.kind == "text":
            await self.flows.text(conv, inbound)
        elif inbound.kind == "subscribe":
            await self.flows.subscribe(conv, inbound)
        elif inbound.kind == "media":
            await self.flows.media(conv, inbound)
        else:
            await self.flows.other(conv, inbound)

    async def drain(self, timeout: float = 10.0) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


def register(app: Sanic, cfg: WeChatSettings) -> None:
    """Add the callback route and start the channel with the hub (call after the hub's
    own ``before_server_start`` listener is registered: listeners run in order)."""

    async def callback(request: Request) -> HTTPResponse:
        endpoint: WeChatEndpoint = request.app.ctx.wechat
        if request.method == "GET":
            return await endpoint.verify(request)
        return await endpoint.receive(request)

    app.add_route(callback, cfg.callback_path, methods=["GET", "POST"], name="wechat_callback")

    async def start(app: Sanic, _loop: Any) -> None:
        hub: Hub = app.ctx.hub
        redis = hub.bus.redis if isinstance(hub.bus, RedisBus) else None
        if not (cfg.appid and cfg.appsecret):
            log.warning("WECHAT_APPID/WECHAT_APPSECRET not set: only passive replies reach WeChat "
                        "customers; agent replies will be reported as undelivered")
        api = WeChatApi(cfg.api_base, cfg.appid, cfg.appsecret, redis, timeout=cfg.api_timeout)
        channel = WeChatChannel(hub, api)
        hub.add_channel(channel)
        app.ctx.wechat = WeChatEndpoint(cfg, hub, channel, Inbox(hub.store))
        log.info("WeChat callback on %s (%s mode, reply budget %.1f s)",
                 cfg.callback_path, cfg.mode, cfg.reply_budget)

    async def stop(app: Sanic, _loop: Any) -> None:
        endpoint: WeChatEndpoint | None = getattr(app.ctx, "wechat", None)
        if endpoint is None:
            return
        await endpoint.drain()
        await endpoint.channel.drain()
        await endpoint.channel.api.close()

    app.register_listener(start, "before_server_start")
    app.register_listener(stop, "after_server_stop")
