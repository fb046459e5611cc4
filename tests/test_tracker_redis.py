"""Trackers in Redis (`TRACKER_DATABASE_URL=redis://…`): the endpoints `bot.stack` writes give
Rasa's own Redis tracker store, which keeps a conversation where every Rasa process finds it."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest

from bot.stack import write_endpoints
from tests.services import REDIS_URL, reachable

pytestmark = pytest.mark.redis


def test_rasa_keeps_a_conversation_in_redis(tmp_path: Path) -> None:
    if not reachable(6379):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Redis must run under CI=true")
        pytest.skip("Redis not running")
    import redis
    from rasa.core.tracker_store import RedisTrackerStore, TrackerStore
    from rasa.core.utils import AvailableEndpoints
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    path = write_endpoints(tmp_path / "endpoints.yml", "http://127.0.0.1:5055/webhook", tmp_path / "t.db",
                           env={"TRACKER_DATABASE_URL": REDIS_URL})
    domain = Domain.load("domain.yml")
    endpoints = AvailableEndpoints.read_endpoints(str(path))
    sender = f"test-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        first = TrackerStore.create(endpoints.tracker_store, domain)
        assert isinstance(first, RedisTrackerStore)
        tracker = DialogueStateTracker(sender, domain.slots)
        tracker.update(UserUttered("满多少包邮", {"name": "faq", "confidence": 0.9}))
        tracker.update(ActionExecuted("action_answer_faq"))
        asyncio.run(first.save(tracker))
        # another process's store: a new client on the same endpoints
        again = asyncio.run(TrackerStore.create(endpoints.tracker_store, domain).retrieve(sender))
        assert again is not None
        assert [e.as_dict()["event"] for e in again.events] == ["user", "action"]
        assert again.latest_message.text == "满多少包邮"
        assert client.exists(f"kefu:tracker:{sender}")
    finally:
        client.delete(f"kefu:tracker:{sender}")
