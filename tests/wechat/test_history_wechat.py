"""History of WeChat customers: a follower's conversations are found by their openid, and the
agent serving them again sees the earlier one (tied by the openid WeChat vouches for)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hub.conftest import HubProcess, RasaStandIn, login
from tests.wechat.client import WeChatServer, event_xml, text_xml
from tests.wechat.fake_api import FakeWeChat
from tests.wechat.support import AES_KEY, TOKEN, HubDb, new_openid, start_wechat_hub

pytestmark = pytest.mark.slow
APPID = "wx0123456789abcdef"


@pytest.fixture(scope="module")
def plain(rasa: RasaStandIn, fake: FakeWeChat, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    tmp = tmp_path_factory.mktemp("wx-history")
    proc = start_wechat_hub(tmp, rasa, fake, "plain", APPID)
    proc.db = HubDb(f"sqlite:///{tmp / 'hub.db'}")  # type: ignore[attr-defined]
    yield proc
    proc.stop()
    proc.db.close()  # type: ignore[attr-defined]


async def test_wechat_followers_are_found_by_openid(plain: HubProcess, session) -> None:
    openid = new_openid()
    wx = WeChatServer(plain.url + "/wechat/callback", TOKEN, APPID, AES_KEY)
    db: HubDb = plain.db  # type: ignore[attr-defined]
    sup = await login(session, plain.url, "supervisor")
    agent1 = await login(session, plain.url, "agent1")
    await agent1.presence("online")

    await wx.push(text_xml(openid, "我的订单2025061800004到哪了"))
    await wx.push(text_xml(openid, "转人工"))
    first = db.conversation(openid)
    assert first is not None and first["mode"] == "queued"
    for path, body in (("claim", None), ("messages", {"text": "您好，已为您查询物流"}), ("close", None)):
        code, data = await agent1.call("POST", f"/api/agent/conversations/{first['id']}/{path}", body)
        assert code == 200, data
    await wx.push(event_xml(openid, "unsubscribe"))
    await wx.push(event_xml(openid, "subscribe", create_time=1_800_000_000))
    await wx.push(text_xml(openid, "转人工，还是那个订单"))
    second = db.conversation(openid)
    assert second is not None and second["id"] != first["id"] and second["mode"] == "queued"
    code, _ = await agent1.call("POST", f"/api/agent/conversations/{second['id']}/claim")
    assert code == 200

    code, page = await sup.call("GET", f"/api/agent/history?customer={openid}")
    assert code == 200
    assert [i["conversation_id"] for i in page["items"]] == [second["id"], first["id"]]
    assert {i["openid"] for i in page["items"]} == {openid} and {i["channel"] for i in page["items"]} == {"wechat"}
    code, page = await sup.call("GET", "/api/agent/history?order=2025061800004")
    assert first["id"] in [i["conversation_id"] for i in page["items"]]
    code, side = await agent1.call("GET", f"/api/agent/conversations/{second['id']}/customer_history")
    assert code == 200 and side["link"] == "wechat"
    assert [c["conversation_id"] for c in side["conversations"]] == [first["id"]]
    code, transcript = await agent1.call("GET", f"/api/agent/history/{first['id']}")
    assert code == 200 and transcript["openid"] == openid and transcript["mode"] == "closed"
    assert any(m["text"] == "您好，已为您查询物流" and m["author"] == "agent" for m in transcript["messages"])
    await agent1.call("POST", f"/api/agent/conversations/{second['id']}/return_to_bot")
    await agent1.presence("offline")
