"""Event fan-out to websockets: in-process, or across hub processes through Redis pub/sub.

Topics: ``conv:<id>`` (the customer's sockets) and ``agents`` (every console). With Redis,
a process publishes only to Redis and delivers what it receives back, so a customer on one
hub and an agent on another see the same events exactly once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

log = logging.getLogger("handoff.realtime")

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


class RedisBus(Bus):
    """Fan-out through Redis pub/sub so several hub processes behave as one."""

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as aioredis

        self.redis = aioredis.from_url(url)
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        await self.redis.publish(CHANNEL_PREFIX + topic, json.dumps(event, ensure_ascii=False))

    async def start(self) -> None:
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.psubscribe(CHANNEL_PREFIX + "*")
        self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                msg = await self._pubsub.get_message(timeout=1.0)
                if msg is None or msg.get("type") != "pmessage":
                    continue
                channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
                topic = channel[len(CHANNEL_PREFIX):]
                if self.has_local(topic):
                    self.deliver(topic, json.loads(msg["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:  # keep listening: a dropped event is better than a dead bus
                log.exception("redis pub/sub listener error; retrying")
                await asyncio.sleep(0.5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self._pubsub is not None:
            await self._pubsub.close()
        await self.redis.close()
