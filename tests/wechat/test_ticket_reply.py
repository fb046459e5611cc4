"""Replies to WeChat tickets from the console go out through the customer-service message API
(a local fake of WeChat's server) only while WeChat's 48 h window since the customer's last
message is open; after it the reply is kept, unsent, and the console is told why."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from handoff import models as m
from tests.hub.conftest import Agent, HubProcess, RasaStandIn, login
from tests.wechat.client import WeChatServer, text_xml
from tests.wechat.fake_api import FakeWeChat
from tests.wechat.support import AES_KEY, TOKEN, HubDb, new_openid, start_wechat_hub

pytestmark = pytest.mark.slow

APPID = "wx00000000tickets"


@pytest.fixture(scope="module")
def hub(rasa: RasaStandIn, fake: FakeWeChat, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("wx-tickets")
    proc = start_wechat_hub(tmp, rasa, fake, "plain", APPID)
    proc.db = HubDb(f"sqlite:///{tmp / 'hub.db'}")  # type: ignore[attr-defined]
    yield proc
    proc.stop()
    proc.db.close()  # type: ignore[attr-defined]


async def _ticket(hub: HubProcess, session, text: str) -> tuple[str, int, Agent]:  # type: ignore[no-untyped-def]
    """A WeChat customer asks for a person while nobody is online: the chat becomes a ticket."""
    sup = await login(session, hub.url, "supervisor")
    for name in ("agent1", "agent2"):
        await (await login(session, hub.url, name)).presence("offline")
    await sup.presence("offline")
    openid = new_openid()
    answer = await WeChatServer(hub.url + "/wechat/callback", TOKEN, APPID, AES_KEY).push(text_xml(openid, text))
    found = re.search(r"工单号 (\d+)", answer.reply or "")
    assert found, answer
    return openid, int(found.group(1)), sup


def _age(hub: HubProcess, openid: str, hours: float) -> None:
    """Let ``hours`` pass for everything this customer wrote."""
    db: HubDb = hub.db  # type: ignore[attr-defined]
    conv = db.conversation(openid)
    assert conv is not None
    with db.engine.begin() as conn:
        conn.execute(update(m.messages).where(m.messages.c.conversation_id == conv["id"])
                     .values(created_at=m.messages.c.created_at - hours * 3600))


async def test_reply_sent_while_the_window_is_open(hub: HubProcess, fake: FakeWeChat, session) -> None:
    openid, ticket_id, sup = await _ticket(hub, session, "我要转人工，快递丢了")
    code, detail = await sup.call("GET", f"/api/agent/tickets/{ticket_id}")
    assert code == 200 and detail["ticket"]["channel"] == "wechat"
    window = detail["wechat_window"]
    assert window["open"] is True and 47.9 * 3600 < window["closes_at"] - time.time() <= 48 * 3600
    before = len(fake.texts_to(openid))
    reply = "您好，丢件已登记理赔，3 个工作日内退款到原支付账户。"
    code, body = await sup.call("POST", f"/api/agent/tickets/{ticket_id}/replies", {"text": reply})
    assert code == 201, body
    assert body["entry"]["delivery"] == "sent" and body["ticket"]["outcome"] == "answered"
    assert fake.texts_to(openid)[before:] == [reply]


async def test_window_closed_reply_kept_unsent_then_sent_after_the_customer_writes(
        hub: HubProcess, fake: FakeWeChat, session) -> None:
    openid, ticket_id, sup = await _ticket(hub, session, "转人工，发票开错了")
    _age(hub, openid, 49)
    _, detail = await sup.call("GET", f"/api/agent/tickets/{ticket_id}")
    assert detail["wechat_window"]["open"] is False
    before = len(fake.texts_to(openid))
    code, body = await sup.call("POST", f"/api/agent/tickets/{ticket_id}/replies", {"text": "发票已重开"})
    assert code == 201
    assert body["entry"]["delivery"] == "window_closed" and "48 小时" in body["entry"]["delivery_detail"]
    assert body["ticket"]["outcome"] == "undelivered" and body["ticket"]["answered_at"] is None
    assert body["ticket"]["status"] == "open"  # nothing reached the customer: still waiting
    assert fake.texts_to(openid)[before:] == []
    # The customer writes again: the window opens, the next reply goes out and answers the ticket.
    await WeChatServer(hub.url + "/wechat/callback", TOKEN, APPID, AES_KEY).push(text_xml(openid, "还在吗"))
    code, body = await sup.call("POST", f"/api/agent/tickets/{ticket_id}/replies", {"text": "在的，发票已重开"})
    assert code == 201 and body["entry"]["delivery"] == "sent"
    assert body["ticket"]["outcome"] == "answered" and body["ticket"]["status"] == "pending"
    assert fake.texts_to(openid)[before:] == ["在的，发票已重开"]
    _, detail = await sup.call("GET", f"/api/agent/tickets/{ticket_id}")
    assert [e["delivery"] for e in detail["thread"] if e["kind"] == "reply"] == ["window_closed", "sent"]


async def test_wechat_refusals_are_recorded(hub: HubProcess, fake: FakeWeChat, session) -> None:
    openid, ticket_id, sup = await _ticket(hub, session, "转人工，商品坏了")
    fake.errors[:] = [45015]  # WeChat counts the window differently (e.g. its clock): it refuses
    code, body = await sup.call("POST", f"/api/agent/tickets/{ticket_id}/replies", {"text": "第一次"})
    assert code == 201 and body["entry"]["delivery"] == "window_closed"
    fake.errors[:] = [43004]
    code, body = await sup.call("POST", f"/api/agent/tickets/{ticket_id}/replies", {"text": "第二次"})
    assert code == 201 and body["entry"]["delivery"] == "failed"
    assert "43004" in body["entry"]["delivery_detail"] and "取消关注" in body["entry"]["delivery_detail"]
    assert "第一次" not in fake.texts_to(openid) and "第二次" not in fake.texts_to(openid)
