"""Shared pieces of the WeChat end-to-end tests: hub processes with WeChat on, and a reader of
the hub's database (what was stored is part of the contract: retries stored once, refused
pushes not at all)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from handoff import models as m
from handoff.wechat import inbox as wx
from tests.hub.conftest import HubProcess, RasaStandIn
from tests.wechat.fake_api import FakeWeChat

TOKEN = "hub-wechat-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SLOW_BOT = 4.5  # the stand-in bot's answer time for "慢" texts: over the reply budget
BUDGET = "3"  # generous, so a loaded machine still answers the fast bot passively


def new_openid() -> str:
    return "o" + uuid.uuid4().hex[:27]


def start_wechat_hub(tmp: Path, rasa: RasaStandIn, fake: FakeWeChat, mode: str, appid: str,
                     db_url: str | None = None, name: str = "hub", **extra: str) -> HubProcess:
    env = {
        "HUB_DATABASE_URL": db_url or f"sqlite:///{tmp / (name + '.db')}",
        "RASA_URL": rasa.url,
        "HUB_RASA_TIMEOUT": "10",
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APPID": appid,
        "WECHAT_APPSECRET": "sec",
        "WECHAT_API_BASE": fake.url,
        "WECHAT_ENCRYPT_MODE": mode,
        "WECHAT_AES_KEY": AES_KEY if mode != "plain" else "",
        "WECHAT_REPLY_BUDGET": BUDGET,
        "WECHAT_API_TIMEOUT": "1",
        "WECHAT_CALLBACK_PATH": "/wechat/callback",
        "WECHAT_CREDENTIALS": str(tmp / "no-credentials.yml"),
        **extra,
    }
    return HubProcess(env, tmp / f"{name}.log")


class HubDb:
    """Reads the hub's tables directly (the test's view of what the hub stored)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def conversations(self, openid: str) -> list[dict[str, Any]]:
        c = m.conversations
        with self.engine.connect() as conn:
            rows = conn.execute(select(c).where(c.c.channel == "wechat", c.c.external_id == openid)
                                .order_by(c.c.created_at))
            return [dict(r._mapping) for r in rows]

    def conversation(self, openid: str) -> dict[str, Any] | None:
        """The conversation the hub maps this openid to now."""
        with self.engine.connect() as conn:
            link = conn.execute(select(wx.users).where(wx.users.c.openid == openid)).first()
            if link is None:
                return None
            row = conn.execute(select(m.conversations).where(
                m.conversations.c.id == link.conversation_id)).first()
            return dict(row._mapping) if row is not None else None

    def messages(self, conversation_id: str, internal: bool | None = False) -> list[dict[str, Any]]:
        q = select(m.messages).where(m.messages.c.conversation_id == conversation_id)
        if internal is not None:
            q = q.where(m.messages.c.internal == internal)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q.order_by(m.messages.c.seq))]

    def customer_texts(self, openid: str) -> list[str]:
        return [msg["text"] for conv in self.conversations(openid)
                for msg in self.messages(conv["id"]) if msg["author"] == "customer"]

    def csat(self, conversation_id: str) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(m.csat.c.score).where(m.csat.c.conversation_id == conversation_id))
            return [int(s) for (s,) in rows]

    def inbound_count(self, openid: str) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(wx.inbound).where(wx.inbound.c.openid == openid)).all())

    def close(self) -> None:
        self.engine.dispose()


async def until(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll until ``check()`` is truthy (a wait, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
