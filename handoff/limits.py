"""Per-customer rate limit: a sliding window in process, or shared through Redis."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from typing import Any

log = logging.getLogger("handoff.limits")


class WindowCounter:
    """Pure sliding window: at most ``limit`` events per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float | None = None) -> bool:
        """Record one event; False when it exceeds the limit (and then it is not counted)."""
        now = time.monotonic() if now is None else now
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        if len(self._events) > 100_000:  # forget idle keys so memory stays bounded
            for k in [k for k, v in self._events.items() if not v or v[-1] <= now - self.window]:
                del self._events[k]
        return True


    def full(self, key: str, now: float | None = None) -> bool:
        """Whether the next event would be refused (without recording one)."""
        now = time.monotonic() if now is None else now
        events = self._events.get(key)
        return bool(events) and sum(1 for t in events if t > now - self.window) >= self.limit


_SLIDING_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
if ARGV[4] == '0' then return count end
if count >= tonumber(ARGV[3]) then return -1 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
redis.call('PEXPIRE', KEYS[1], math.ceil(ARGV[2] * 1000) + 1000)
return count + 1
"""


class RateLimiter:
    """The same sliding window, shared by all hub processes when Redis is configured
    (one atomic Lua script per event)."""

    def __init__(self, limit: int, window: float, redis: Any = None, timeout: float = 1.5) -> None:
        self.local = WindowCounter(limit, window)
        self.redis = redis
        self.timeout = timeout
        self.limit = limit
        self.window = window
        self._script = redis.register_script(_SLIDING_LUA) if redis is not None else None

    async def _run(self, key: str, record: bool) -> int:
        now = time.time()
        member = f"{now:.6f}:{uuid.uuid4().hex[:8]}"
        return int(await self._script(
            keys=[f"hub:rl:{key}"], args=[now, self.window, self.limit, "1" if record else "0", member]
        ))

    async def _shared(self, key: str, record: bool) -> int | None:
        """The shared count, or None when Redis does not answer in time: the limit then holds
        per process (a stopped or frozen Redis must not stall or fail customer messages)."""
        try:
            return await asyncio.wait_for(self._run(key, record), self.timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("rate limit counted in process: redis %s", type(exc).__name__)
            return None

    async def hit(self, key: str) -> bool:
        if self.redis is None:
            return self.local.hit(key)
        count = await self._shared(key, True)
        return self.local.hit(key) if count is None else count != -1

    async def full(self, key: str) -> bool:
        if self.redis is None:
            return self.local.full(key)
        count = await self._shared(key, False)
        return self.local.full(key) if count is None else count >= self.limit
