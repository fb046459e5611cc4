"""Shared by the WeChat callback suites: the fake WeChat API server and a slow stand-in Rasa."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hub.conftest import RasaStandIn
from tests.wechat.fake_api import FakeWeChat, FakeWeChatThread
from tests.wechat.support import SLOW_BOT


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeChat]:
    with FakeWeChatThread() as server:
        yield server


@pytest.fixture(scope="module")
def rasa() -> Iterator[RasaStandIn]:
    stand_in = RasaStandIn(delay=SLOW_BOT)
    yield stand_in
    stand_in.stop()
