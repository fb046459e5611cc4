"""Event fan-out to websockets: in-process, or across hub processes through Redis pub/sub.

Topics: ``conv:<id>`` (the customer's sockets) and ``agents`` (every console). With Redis,
a process publishes only to Redis and delivers what it receives back, so a customer on one
hub and an agent on another see the same events exactly once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import deque
from typing import Any

log = logging.getLogger("handoff.realtime")


async def cancel_and_wait(*tasks: asyncio.Task[Any] | None) -> None:
    """Stop background tasks and let them unwind; what they raise while stopping is theirs."""
    live = [t for t in tasks if t is not None]
    for task in live:
        task.cancel()
    for task in live:
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass


CHANNEL_PREFIX = "kefu-hub:"


class Subscription:
    """A bounded mailbox of events for one websocket."""

    def __init__(self, bus: Bus, topics: tuple[str, ...], maxsize: int = 1000) -> None:
        self.bus = bus
        self.topics = topics
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)

    def put(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:  # a stalled socket must not grow memory without bound
            log.warning("dropping event for a slow websocket on %s", self.topics[0])

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()

    def close(self) -> None:
        self.bus.unsubscribe(self)


class Bus:
    """In-process publish/subscribe."""

    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = {}

    def subscribe(self, *topics: str) -> Subscription:
        sub = Subscription(self, topics)
        for topic in topics:
            self._subs.setdefault(topic, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        for topic in sub.topics:
            subs = self._subs.get(topic)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[topic]

    def deliver(self, topic: str, event: dict[str, Any]) -> None:
        for sub in list(self._subs.get(topic, ())):
            sub.put(event)

    def has_local(self, topic: str) -> bool:
        return bool(self._subs.get(topic))

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        self.deliver(topic, event)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


RESYNC = "_resync"  # local-only event: the socket may have missed events; read them from the database


class RedisBus(Bus):
    """Fan-out through Redis pub/sub so several hub processes behave as one.

    Every Redis call is bounded by ``timeout`` so a stopped or frozen Redis costs a request at
    most that long. While Redis is unreachable, events still reach this process's own sockets
    at once and wait in an in-memory outbox; they are published, in order, when Redis answers
    again. After an outage every local socket is also told to catch up from the database
    (``RESYNC``): other processes' events of that time may never have been published at all.
    """

    def __init__(self, url: str, timeout: float = 1.5, outbox_limit: int = 50_000,
                 check_every: float = 1.0) -> None:
        super().__init__()
        import redis.asyncio as aioredis

        self.redis = aioredis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.timeout = timeout
        self.check_every = check_every
        self.origin = uuid.uuid4().hex  # this process, so it skips its own already-delivered events
        self.up = False
        self.outbox: deque[tuple[str, str]] = deque(maxlen=outbox_limit)
        self.dropped = 0  # events that fell out of a full outbox (sockets still catch up from the database)
        self._pubsub: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._was_up = False

    def _envelope(self, event: dict[str, Any], delivered: bool) -> str:
        return json.dumps({"origin": self.origin, "delivered": delivered, "event": event}, ensure_ascii=False)

    async def _call(self, awaitable: Any) -> Any:
        return await asyncio.wait_for(awaitable, self.timeout)

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Never raises: a change already committed must not fail because the bus did."""
        channel = CHANNEL_PREFIX + topic
        if self.up and not self.outbox:
            try:
                await self._call(self.redis.publish(channel, self._envelope(event, False)))
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._down(exc)
        self.deliver(topic, event)
        if len(self.outbox) == self.outbox.maxlen:
            self.dropped += 1
        self.outbox.append((channel, self._envelope(event, True)))

    async def publish_now(self, topic: str, event: dict[str, Any]) -> None:
        """Publish or raise (for a one-shot command that has no outbox to wait in)."""
        await self._call(self.redis.publish(CHANNEL_PREFIX + topic, self._envelope(event, False)))

    def _down(self, exc: BaseException | None = None) -> None:
        if self.up:
            log.warning("redis unreachable (%s); events wait in the outbox",
                        type(exc).__name__ if exc else "no answer")
        self.up = False
        ps, self._pubsub = self._pubsub, None
        if ps is not None:
            task = asyncio.get_running_loop().create_task(self._close_pubsub(ps))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _close_pubsub(self, ps: Any) -> None:
        try:
            await self._call(ps.close())
        except Exception:
            pass

    async def start(self) -> None:
        """Starts even with Redis down (the hub then runs degraded until it answers)."""
        loop = asyncio.get_running_loop()
        try:
            await self._connect()
        except Exception as exc:
            log.warning("redis unreachable at start (%s); retrying", type(exc).__name__)
        self._tasks = [loop.create_task(self._supervise()), loop.create_task(self._listen())]

    async def _connect(self) -> None:
        """Subscribe afresh, publish the outbox, then tell local sockets to catch up."""
        ps = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await self._call(ps.psubscribe(CHANNEL_PREFIX + "*"))
        except BaseException:
            await self._close_pubsub(ps)
            raise
        self._pubsub = ps
        while self.outbox:
            channel, payload = self.outbox[0]
            await self._call(self.redis.publish(channel, payload))
            self.outbox.popleft()
        self.up = True
        if self._was_up:
            log.info("redis is back: outbox sent, sockets catch up")
            self.resync_local()
        self._was_up = True

    def resync_local(self) -> None:
        for sub in {sub for subs in self._subs.values() for sub in subs}:
            sub.put({"type": RESYNC})

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(self.check_every)
            try:
                if self.up:
                    await self._call(self.redis.ping())
                else:
                    self._down()
                    await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._down(exc)

    async def _listen(self) -> None:
        while True:
            ps = self._pubsub
            if ps is None or not self.up:
                await asyncio.sleep(0.1)
                continue
            try:
                msg = await ps.get_message(timeout=1.0)
                if msg is None or msg.get("type") != "pmessage":
                    continue
                channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
                topic = channel[len(CHANNEL_PREFIX):]
                if not self.has_local(topic):
                    continue
                data = json.loads(msg["data"])
                if isinstance(data, dict) and "origin" in data and "event" in data:
                    if data.get("delivered") and data["origin"] == self.origin:
                        continue  # delivered here when it was put in the outbox
                    data = data["event"]
                self.deliver(topic, data)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnecting is the supervisor's job
                if ps is self._pubsub:
                    log.warning("redis pub/sub listener error: %s", type(exc).__name__)
                    self._down(exc)
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        if self._pubsub is not None:
            await self._close_pubsub(self._pubsub)
        try:
            await self._call(self.redis.close())
        except Exception:
            pass
