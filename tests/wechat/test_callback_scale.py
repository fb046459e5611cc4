"""Two hub processes on one PostgreSQL and one Redis: a WeChat push and its retries are
processed once whichever process they reach, an openid keeps one conversation, and the
access token is shared.

Runs (never skips) under CI=true; elsewhere it skips only when PostgreSQL or Redis is absent.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from tests.hub.conftest import HubProcess, RasaStandIn, login
from tests.services import REDIS_URL, fresh_pg_database, require_services
from tests.wechat.client import WeChatServer, new_msg_id, text_xml
from tests.wechat.fake_api import FakeWeChat
from tests.wechat.support import TOKEN, HubDb, new_openid, start_wechat_hub, until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

APPID = f"wx{uuid.uuid4().hex[:16]}"  # its own token key in Redis
BUTTONS = "1. 查订单\n请回复数字选择。"


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    require_services()
    with fresh_pg_database("hub_wx_test") as url:
        yield url


@pytest.fixture(scope="module")
def hubs(pg_database: str, rasa: RasaStandIn, fake: FakeWeChat,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HubProcess]]:
    tmp = tmp_path_factory.mktemp("wx-scale")
    started: list[HubProcess] = []
    try:
        for i in (1, 2):
            started.append(start_wechat_hub(tmp, rasa, fake, "plain", APPID, db_url=pg_database,
                                            name=f"hub{i}", REDIS_URL=REDIS_URL))
        yield started
    finally:
        for proc in started:
            proc.stop()
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        client.delete(f"wechat:token:{APPID}")
        client.close()


@pytest.fixture(scope="module")
def db(pg_database: str, hubs: list[HubProcess]) -> Iterator[HubDb]:
    reader = HubDb(pg_database)
    yield reader
    reader.close()


def wx(hub: HubProcess) -> WeChatServer:
    return WeChatServer(hub.url + "/wechat/callback", TOKEN)


async def test_same_push_on_both_hubs_is_processed_once(hubs: list[HubProcess], rasa: RasaStandIn,
                                                        db: HubDb) -> None:
    hub1, hub2 = hubs
    openid = new_openid()
    xml = text_xml(openid, "两个进程", new_msg_id())
    answers = await asyncio.gather(wx(hub1).push(xml), wx(hub2).push(xml), wx(hub1).push(xml),
                                   wx(hub2).push(xml))
    assert {a.reply for a in answers} == {f"收到：两个进程\n{BUTTONS}"}
    conv = db.conversation(openid)
    assert conv is not None and len(rasa.for_sender(conv["id"])) == 1
    assert db.customer_texts(openid) == ["两个进程"] and db.inbound_count(openid) == 1


async def test_retry_reaching_the_other_hub_while_the_bot_is_slow(hubs: list[HubProcess],
                                                                  rasa: RasaStandIn, fake: FakeWeChat,
                                                                  db: HubDb, session) -> None:
    """The first push (hub 1) is given up on; WeChat's retry lands on hub 2 while hub 1
    is still waiting for the bot: hub 2 answers without a second bot turn."""
    hub1, hub2 = hubs
    openid = new_openid()
    xml = text_xml(openid, "慢慢来", new_msg_id())
    first = wx(hub1)
    params, body = first.request(xml)
    with pytest.raises(asyncio.TimeoutError):
        await first.post_once(session, params, body, timeout=0.3)
    retry = await wx(hub2).push(xml)
    assert retry.accepted and retry.reply is None
    sent = await until(lambda: fake.texts_to(openid), what="the late bot answer")
    assert sent == [f"收到：慢慢来\n{BUTTONS}"]
    conv = db.conversation(openid)
    assert conv is not None and len(rasa.for_sender(conv["id"])) == 1
    assert db.customer_texts(openid) == ["慢慢来"]


async def test_one_conversation_per_openid_across_hubs(hubs: list[HubProcess], db: HubDb) -> None:
    hub1, hub2 = hubs
    openid = new_openid()
    await asyncio.gather(*(wx(hub).push(text_xml(openid, f"第{i}条")) for i, hub in
                           enumerate((hub1, hub2, hub1, hub2))))
    assert len(db.conversations(openid)) == 1
    assert sorted(db.customer_texts(openid)) == [f"第{i}条" for i in range(4)]


async def test_agents_on_both_hubs_share_one_token(hubs: list[HubProcess], fake: FakeWeChat,
                                                   db: HubDb, session) -> None:
    hub1, hub2 = hubs
    openid = new_openid()
    sup1 = await login(session, hub1.url, "supervisor")
    await sup1.presence("online")
    answer = await wx(hub1).push(text_xml(openid, "我要转人工"))
    assert answer.reply is not None and "转接人工" in answer.reply
    conv = db.conversation(openid)
    assert conv is not None
    assert (await sup1.call("POST", f"/api/agent/conversations/{conv['id']}/claim"))[0] == 200
    sup2 = await login(session, hub2.url, "supervisor")
    for agent, text in ((sup1, "来自一号进程"), (sup2, "来自二号进程")):
        code, _ = await agent.call("POST", f"/api/agent/conversations/{conv['id']}/messages", {"text": text})
        assert code == 200
    sent = await until(lambda: {"来自一号进程", "来自二号进程"} <= set(fake.texts_to(openid)) and
                       fake.texts_to(openid), what="both agent replies")
    assert "已接入" in sent[0]  # the joined notice first
    assert len(fake.tokens_issued) == 1  # one token for both processes, through Redis
    await sup1.call("POST", f"/api/agent/conversations/{conv['id']}/close")
    await until(lambda: "请回复 1-5 为本次服务评分" in fake.texts_to(openid), what="the CSAT prompt")
    rated = await wx(hub2).push(text_xml(openid, "4"))
    assert rated.reply is not None and "感谢您的评分" in rated.reply
    assert db.csat(conv["id"]) == [4]
    await sup1.presence("offline")
