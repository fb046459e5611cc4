"""The shared rate limit on a real Redis: a client's retry of one message is counted once."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from handoff.limits import RateLimiter
from tests.services import REDIS_URL, require_services


@pytest.mark.asyncio
async def test_a_retried_message_is_counted_once_across_processes() -> None:
    require_services()
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        # two limiters on one Redis: two hub processes
        first, second = RateLimiter(2, 30.0, client), RateLimiter(2, 30.0, client)
        key = f"test:{uuid.uuid4().hex}"
        assert await first.hit(key, event_id="m1")
        assert await second.hit(key, event_id="m1")  # the retry reached the other hub
        assert await second.hit(key, event_id="m2")
        assert not await first.hit(key, event_id="m3")  # two distinct messages fill the window
        assert await first.hit(key, event_id="m2")  # a retry still passes
    finally:
        await client.close()
