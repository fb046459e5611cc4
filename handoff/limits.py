"""Rate limits: sliding windows in process, or shared through Redis by every hub process.

``RateLimiter.hit`` counts one key (customer messages); ``RateLimiter.take`` counts several keys
at once (per client address and per customer), all or none, and says how long to wait.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

from handoff.errors import ApiError

if TYPE_CHECKING:
    from handoff.settings import Settings

Check = tuple[str, int, float]  # (key, limit, window seconds)

log = logging.getLogger("handoff.limits")


class WindowCounter:
    """Pure sliding window: at most ``limit`` events per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[float]] = {}
        self._longest = window  # the longest window any key uses (idle keys older are dropped)
        self._seen: dict[tuple[str, str], float] = {}  # (key, event id) -> when it was counted

    def hit(self, key: str, now: float | None = None, event_id: str | None = None) -> bool:
        """Record one event; False when it exceeds the limit (and then it is not counted).
        An event already counted under the same ``event_id`` (a client's retry) passes uncounted."""
        now = time.monotonic() if now is None else now
        if event_id is not None:
            seen = self._seen.get((key, event_id))
            if seen is not None and seen > now - self.window:
                return True
            if len(self._seen) > 100_000:
                self._seen = {k: t for k, t in self._seen.items() if t > now - self.window}
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        if event_id is not None:
            self._seen[(key, event_id)] = now
        if len(self._events) > 100_000:  # forget idle keys so memory stays bounded
            for k in [k for k, v in self._events.items() if not v or v[-1] <= now - self._longest]:
                del self._events[k]
        return True


    def full(self, key: str, now: float | None = None) -> bool:
        """Whether the next event would be refused (without recording one)."""
        now = time.monotonic() if now is None else now
        events = self._events.get(key)
        return bool(events) and sum(1 for t in events if t > now - self.window) >= self.limit

    def take(self, checks: list[Check], now: float | None = None) -> float:
        """Count one event on every key when each has room; else count nothing and return the
        seconds until all have room again."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for key, limit, window in checks:
            events = [t for t in self._events.get(key, ()) if t > now - window]
            self._events[key] = deque(events)
            if len(events) >= limit:
                wait = max(wait, events[len(events) - limit] + window - now)
        if wait > 0:
            return wait
        for key, _limit, _window in checks:
            self._events[key].append(now)
        self._longest = max(self._longest, *(window for _k, _l, window in checks))
        if len(self._events) > 100_000:  # forget idle keys so memory stays bounded
            for k in [k for k, v in self._events.items() if not v or v[-1] <= now - self._longest]:
                del self._events[k]
        return 0.0


_SLIDING_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
if ARGV[4] == '0' then return count end
if ARGV[6] == '1' and redis.call('ZSCORE', KEYS[1], ARGV[5]) then return count end
if count >= tonumber(ARGV[3]) then return -1 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
redis.call('PEXPIRE', KEYS[1], math.ceil(ARGV[2] * 1000) + 1000)
return count + 1
"""


# KEYS: the counters; ARGV: now, a unique member, then limit and window of each key.
_TAKE_LUA = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local gate = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local w = tonumber(gate[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 + 2 * i]) * 1000) + 1000)
end
return '0'
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
        self._take = redis.register_script(_TAKE_LUA) if redis is not None else None

    async def _run(self, key: str, record: bool, event_id: str | None = None) -> int:
        now = time.time()
        member = f"id:{event_id}" if event_id else f"{now:.6f}:{uuid.uuid4().hex[:8]}"
        return int(await self._script(
            keys=[f"hub:rl:{key}"],
            args=[now, self.window, self.limit, "1" if record else "0", member, "1" if event_id else "0"],
        ))

    async def _shared(self, key: str, record: bool, event_id: str | None = None) -> int | None:
        """The shared count, or None when Redis does not answer in time: the limit then holds
        per process (a stopped or frozen Redis must not stall or fail customer messages)."""
        try:
            return await asyncio.wait_for(self._run(key, record, event_id), self.timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("rate limit counted in process: redis %s", type(exc).__name__)
            return None

    async def hit(self, key: str, event_id: str | None = None) -> bool:
        """Count one event; a retry carrying an ``event_id`` already counted is not counted again."""
        if self.redis is None:
            return self.local.hit(key, event_id=event_id)
        count = await self._shared(key, True, event_id)
        return self.local.hit(key, event_id=event_id) if count is None else count != -1

    async def full(self, key: str) -> bool:
        if self.redis is None:
            return self.local.full(key)
        count = await self._shared(key, False)
        return self.local.full(key) if count is None else count >= self.limit

    async def take(self, checks: list[Check]) -> float:
        """0: counted on every key; else nothing counted and the seconds to wait (all hub
        processes share the counters when Redis is configured: one atomic script)."""
        checks = [c for c in checks if c[1] > 0]
        if not checks:
            return 0.0
        if self.redis is None:
            return self.local.take(checks)
        now = time.time()
        args: list[Any] = [now, f"{now:.6f}:{uuid.uuid4().hex[:8]}"]
        for _key, limit, window in checks:
            args += [limit, window]
        try:
            return float(await asyncio.wait_for(
                self._take(keys=[f"hub:rl:{k}" for k, _l, _w in checks], args=args), self.timeout))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis stopped or frozen: the limits hold per process
            log.warning("customer limits counted in process: redis %s", type(exc).__name__)
            return self.local.take(checks)


LIMITED = {  # kind -> what the customer is told (English. 中文), with {wait} filled in
    "open": "Too many new conversations from this network or browser; retry in {wait}. "
            "新建会话过于频繁，请 {wait_zh}后再试。",
    "tickets": "Too many messages left from this network or customer; retry in {wait}. "
               "留言过于频繁，请 {wait_zh}后再试。",
    "typing": "Too many typing notices; slow down. 输入状态发送过于频繁。",
}


def customer_key(customer_id: str | None, channel: str | None, external_id: str | None,
                 conversation_id: str | None = None) -> str | None:
    """One customer across conversations: a signed shop customer, else the channel's own id of
    the person (a browser's visitor id, a WeChat openid), else just the conversation."""
    if customer_id:
        return f"customer:{customer_id}"
    if external_id:
        return f"{channel}:{external_id}"
    return f"conv:{conversation_id}" if conversation_id else None


def conversation_key(conv: dict[str, Any]) -> str | None:
    return customer_key(conv.get("customer_id"), conv.get("channel"), conv.get("external_id"), conv.get("id"))


def wait_words(seconds: float) -> tuple[str, str]:
    """"40 seconds" / "40 秒", or whole minutes from a minute on."""
    if seconds < 60:
        n = max(1, math.ceil(seconds))
        return f"{n} seconds", f"{n} 秒"
    n = math.ceil(seconds / 60)
    return f"{n} minutes", f"{n} 分钟"


class CustomerLimits:
    """Conversation creation, queue entries, leave-message tickets and typing notices, each
    limited per client address and per customer (``Settings``: ``*_per_address``,
    ``*_per_customer``). A flood from one address cannot fill the queue, and one customer
    cannot hold several places in it."""

    def __init__(self, settings: Settings, limiter: RateLimiter) -> None:
        self.settings = settings
        self.limiter = limiter

    def checks(self, kind: str, address: str | None, customer: str | None) -> list[Check]:
        s = self.settings
        window = s.rate_limit_window if kind == "typing" else s.limit_window
        per_address, per_customer = {
            "open": (s.open_per_address, s.open_per_customer),
            "queue": (s.queue_per_address, s.queue_per_customer),
            "tickets": (s.tickets_per_address, s.tickets_per_customer),
            "typing": (s.typing_per_address, s.typing_per_customer),
        }[kind]
        out: list[Check] = []
        if address:  # channels without one (WeChat pushes from WeChat's servers) count per customer
            out.append((f"{kind}:addr:{address}", per_address, window))
        if customer:
            out.append((f"{kind}:{customer}", per_customer, window))
        return out

    async def take(self, kind: str, address: str | None, customer: str | None) -> float:
        """0: allowed (and counted); else seconds until it would be."""
        return await self.limiter.take(self.checks(kind, address, customer))

    async def enforce(self, kind: str, address: str | None, customer: str | None) -> None:
        """Count the event or refuse it: ``429 rate_limited`` with ``Retry-After``."""
        wait = await self.take(kind, address, customer)
        if wait > 0:
            en, zh = wait_words(wait)
            retry = max(1, math.ceil(wait))
            raise ApiError(429, "rate_limited", LIMITED[kind].format(wait=en, wait_zh=zh),
                           headers={"Retry-After": str(retry)}, details={"retry_after": retry})
