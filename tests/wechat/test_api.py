"""The customer-service API client against a local fake WeChat API server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from handoff.wechat.api import WeChatApi, WeChatApiError
from tests.wechat.fake_api import FakeWeChat


@pytest.fixture
async def fake() -> AsyncIterator[FakeWeChat]:
    server = FakeWeChat()
    await server.start()
    yield server
    await server.stop()


async def test_send_caches_token(fake: FakeWeChat) -> None:
    api = WeChatApi(fake.url, "wxapp", "sec")
    await api.send_text("o_1", "您好")
    await api.send_text("o_1", "再见")
    await api.close()
    assert fake.tokens_issued == ["tok-1"]
    assert [s["text"]["content"] for s in fake.sent] == ["您好", "再见"]


async def test_expired_token_refreshed_and_retried_once(fake: FakeWeChat) -> None:
    api = WeChatApi(fake.url, "wxapp", "sec")
    await api.send_text("o_1", "a")
    fake.tokens_issued.append("tok-server-side")  # WeChat rotated: ours is now invalid (40001)
    await api.send_text("o_1", "b")
    assert [s["text"]["content"] for s in fake.sent] == ["a", "b"]
    fake.errors = [42001, 42001]  # still failing after one refresh: give up, no loop
    with pytest.raises(WeChatApiError) as err:
        await api.send_text("o_1", "c")
    await api.close()
    assert err.value.errcode == 42001


async def test_undeliverable_and_timeout(fake: FakeWeChat) -> None:
    api = WeChatApi(fake.url, "wxapp", "sec", timeout=0.5)
    fake.errors = [45015]
    with pytest.raises(WeChatApiError) as err:
        await api.send_text("o_1", "x")
    assert err.value.errcode == 45015
    fake.delay = 1.0
    with pytest.raises(WeChatApiError) as err:
        await api.send_text("o_1", "y")
    await api.close()
    assert err.value.errcode == -1 and fake.sent == []


@pytest.mark.redis
async def test_token_shared_across_processes_through_redis(fake: FakeWeChat) -> None:
    """Two clients (as two hub processes) on one Redis: one token fetched, refresh once."""
    import os
    import uuid

    import redis.asyncio as aioredis

    client = aioredis.from_url("redis://127.0.0.1:6379")
    try:
        await client.ping()
    except Exception as exc:
        await client.close()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis not reachable: {exc}")
        pytest.skip(f"Redis not reachable: {exc}")
    import asyncio

    appid = f"wx-{uuid.uuid4().hex[:8]}"
    one, two = WeChatApi(fake.url, appid, "sec", client), WeChatApi(fake.url, appid, "sec", client)
    try:
        tokens = await asyncio.gather(*(api.token() for api in (one, two) for _ in range(5)))
        assert set(tokens) == {"tok-1"} and fake.tokens_issued == ["tok-1"]
        fake.tokens_issued.append("tok-rotated")
        await asyncio.gather(one.send_text("o_1", "a"), two.send_text("o_2", "b"))
        assert len(fake.tokens_issued) == 3  # exactly one refresh for both senders
        assert sorted(s["touser"] for s in fake.sent) == ["o_1", "o_2"]
    finally:
        await client.delete(f"wechat:token:{appid}")
        await one.close()
        await two.close()
        await client.close()
