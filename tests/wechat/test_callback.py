"""The WeChat channel end to end: a WeChat stand-in pushes to real hub processes (plain,
compatible and safe mode, SQLite), a Rasa stand-in answers, and replies leave through a
local fake of WeChat's customer-service API."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import aiohttp
import pytest

from handoff.app import create_app
from handoff.settings import Settings
from handoff.wechat.config import WeChatSettings
from tests.hub.conftest import HubProcess, RasaStandIn, login, next_event
from tests.wechat.client import (
    WeChatServer,
    event_xml,
    message_xml,
    new_msg_id,
    raw_params,
    text_xml,
)
from tests.wechat.fake_api import FakeWeChat
from tests.wechat.support import (
    AES_KEY,
    TOKEN,
    HubDb,
    new_openid,
    start_wechat_hub,
    until,
)

pytestmark = pytest.mark.slow

APPID = "wx0123456789abcdef"
BUTTONS = "1. 查订单\n请回复数字选择。"
CSAT_PROMPT = "请回复 1-5 为本次服务评分"


def hub_in_mode(tmp_path_factory: pytest.TempPathFactory, rasa: RasaStandIn, fake: FakeWeChat,
                mode: str, **env: str) -> Iterator[HubProcess]:
    """A hub process in one WeChat security mode, with a handle on its SQLite database."""
    tmp = tmp_path_factory.mktemp(f"wx-{mode}")
    proc = start_wechat_hub(tmp, rasa, fake, mode, APPID, **env)
    proc.db = HubDb(f"sqlite:///{tmp / 'hub.db'}")  # type: ignore[attr-defined]
    yield proc
    proc.stop()
    proc.db.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def plain(rasa: RasaStandIn, fake: FakeWeChat, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    yield from hub_in_mode(tmp_path_factory, rasa, fake, "plain")


@pytest.fixture(scope="module")
def compatible(rasa: RasaStandIn, fake: FakeWeChat, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    yield from hub_in_mode(tmp_path_factory, rasa, fake, "compatible", WECHAT_CALLBACK_PATH="/wx/in")


@pytest.fixture(scope="module")
def safe(rasa: RasaStandIn, fake: FakeWeChat, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    yield from hub_in_mode(tmp_path_factory, rasa, fake, "safe")


def wechat(hub: HubProcess, path: str = "/wechat/callback", **kw: object) -> WeChatServer:
    return WeChatServer(hub.url + path, TOKEN, APPID, AES_KEY, **kw)  # type: ignore[arg-type]


def db(hub: HubProcess) -> HubDb:
    return hub.db  # type: ignore[attr-defined,no-any-return]


def bot_requests(rasa: RasaStandIn, conversation_id: str, text: str | None = None) -> list[dict]:
    return [r for r in rasa.for_sender(conversation_id) if text is None or r["message"] == text]


# --- configuration ---------------------------------------------------------------------------

def test_route_exists_only_when_configured() -> None:
    settings = Settings(database_url="sqlite://")
    off = create_app(settings, name="wx_off", wechat=WeChatSettings())
    on = create_app(settings, name="wx_on", wechat=WeChatSettings(token="t", callback_path="/wx/cb"))
    assert "wx/cb" in [r.path.strip("/") for r in on.router.routes]
    assert not [r for r in off.router.routes if "wechat" in r.path or "wx" in r.path]


# --- verification and security ------------------------------------------------------------------

async def test_url_verification(plain: HubProcess) -> None:
    wx = wechat(plain)
    assert await wx.verify("echo-123") == (200, "echo-123")
    status, _ = await wx.verify("echo-123", good=False)
    assert status == 403
    for skew in (-301 - 60, 301 + 60):  # signed correctly, but outside WECHAT_TIMESTAMP_WINDOW (300 s)
        assert (await wx.verify("echo-123", skew=skew))[0] == 403
    assert await wx.verify("echo-123", skew=-120) == (200, "echo-123")  # clock drift inside the window


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_replayed_push_outside_the_window_is_refused(mode: str, plain: HubProcess, safe: HubProcess,
                                                           session) -> None:
    """A captured, correctly signed push sent again later (or dated ahead) is refused, unstored."""
    hub = plain if mode == "plain" else safe
    wx = wechat(hub, encrypt=None if mode == "plain" else "aes")
    openid = new_openid()
    xml = text_xml(openid, "重放的消息")
    for skew in (-3600, 3600):
        params, body = wx.request(xml, skew=skew)
        status, answer = await wx.post_once(session, params, body)
        assert (status, answer) == (403, "forbidden")
    assert db(hub).inbound_count(openid) == 0 and db(hub).conversations(openid) == []
    assert "重放的消息" not in hub.logs() and hub.logs().count("timestamp outside 300 s") >= 2
    # Inside the window (a clock two minutes slow) the same push is processed normally.
    params, body = wx.request(xml, skew=-120)
    status, answer = await wx.post_once(session, params, body)
    assert status == 200 and wx.read(status, answer, 1).reply == f"收到：重放的消息\n{BUTTONS}"
    assert db(hub).inbound_count(openid) == 1


async def test_refused_pushes_store_nothing_and_log_no_payload(plain: HubProcess, session) -> None:
    url = plain.url + "/wechat/callback"
    openid = new_openid()
    marker = "机密内容" + openid
    good = text_xml(openid, marker).encode()
    cases = [
        ({**raw_params(TOKEN), "signature": "0" * 40}, good, 403),            # wrong signature
        ({k: v for k, v in raw_params(TOKEN).items() if k != "signature"}, good, 403),
        (raw_params(TOKEN), b"<xml><FromUserName>" + marker.encode() + b"<oops", 400),  # malformed
        (raw_params(TOKEN), b'<!DOCTYPE x [<!ENTITY a "' + marker.encode() + b'">]><xml>&a;</xml>', 400),
        (raw_params(TOKEN), b"<xml><Content>" + marker.encode() * 4000 + b"</Content></xml>", 400),  # > 64 KB
        (raw_params(TOKEN), b"", 400),
        ({**raw_params(TOKEN), "encrypt_type": "aes", "msg_signature": "0" * 40}, good, 400),  # AES, no key
    ]
    for params, body, expected in cases:
        async with session.post(url, params=params, data=body) as resp:
            assert resp.status == expected, (expected, await resp.text())
            assert marker not in await resp.text()
    assert db(plain).conversations(openid) == [] and db(plain).inbound_count(openid) == 0
    assert marker not in plain.logs()


async def test_compatible_mode_plain_and_encrypted(compatible: HubProcess, rasa: RasaStandIn) -> None:
    openid = new_openid()
    wx = wechat(compatible, "/wx/in")
    plain_answer = await wx.push(text_xml(openid, "明文你好"))
    assert plain_answer.reply == f"收到：明文你好\n{BUTTONS}" and not plain_answer.encrypted
    assert plain_answer.to == openid
    aes_answer = await wx.push(text_xml(openid, "密文你好"), encrypt="compatible")
    assert aes_answer.reply == f"收到：密文你好\n{BUTTONS}" and aes_answer.encrypted
    conv = db(compatible).conversation(openid)
    assert conv is not None and db(compatible).customer_texts(openid) == ["明文你好", "密文你好"]
    assert [r["metadata"] for r in bot_requests(rasa, conv["id"])] == [
        {"customer_id": None, "channel": "wechat", "handoff_by": "hub"}] * 2
    # the default path is not served when another one is configured
    status, _ = await WeChatServer(compatible.url + "/wechat/callback", TOKEN).verify("x")
    assert status == 404


async def test_safe_mode(safe: HubProcess, rasa: RasaStandIn, session) -> None:
    openid = new_openid()
    wx = wechat(safe)
    answer = await wx.push(text_xml(openid, "安全模式"), encrypt="aes")
    assert answer.encrypted and answer.reply == f"收到：安全模式\n{BUTTONS}"
    # plaintext is refused: its signature does not cover the body
    refused = await wx.push(text_xml(new_openid(), "明文"), encrypt="")
    assert refused.status == 403
    # a wrong msg_signature: 403 and nothing stored
    intruder = new_openid()
    params, body = wx.request(text_xml(intruder, "伪造"), encrypt="aes")
    async with session.post(wx.url, params={**params, "msg_signature": "f" * 40}, data=body) as resp:
        assert resp.status == 403
    # an envelope for another account (wrong AES key) cannot be opened: 400 or 403, nothing stored
    other = WeChatServer(wx.url, TOKEN, APPID, "Z" * 43, encrypt="aes")
    assert (await other.push(text_xml(intruder, "伪造"))).status in (400, 403)
    assert db(safe).conversations(intruder) == []
    # a retry carries a fresh envelope: same reply, one bot turn
    xml = text_xml(openid, "重复加密", new_msg_id())
    first, second = await wx.push(xml, encrypt="aes"), await wx.push(xml, encrypt="aes")
    assert first.reply == second.reply == f"收到：重复加密\n{BUTTONS}"
    conv = db(safe).conversation(openid)
    assert conv is not None and len(bot_requests(rasa, conv["id"], "重复加密")) == 1


# --- text, buttons, the 5-second rule and retries --------------------------------------------------

async def test_text_gets_passive_reply_and_buttons_become_numbers(plain: HubProcess, rasa: RasaStandIn,
                                                                  fake: FakeWeChat) -> None:
    openid = new_openid()
    wx = wechat(plain)
    answer = await wx.push(text_xml(openid, "你好"))
    assert answer.accepted and answer.attempts == 1
    assert answer.reply == f"收到：你好\n{BUTTONS}" and answer.to == openid
    chosen = await wx.push(text_xml(openid, "1"))
    assert chosen.reply == f"收到：/order_status\n{BUTTONS}"
    conv = db(plain).conversation(openid)
    assert conv is not None and conv["channel"] == "wechat" and conv["mode"] == "bot"
    assert [r["message"] for r in bot_requests(rasa, conv["id"])] == ["你好", "/order_status"]
    stored = db(plain).messages(conv["id"])
    assert [(m["author"], m["text"], m["title"]) for m in stored if m["author"] == "customer"] == [
        ("customer", "你好", None), ("customer", "/order_status", "查订单")]
    assert fake.texts_to(openid) == []  # everything went by passive reply


async def test_repeated_push_is_answered_from_the_first(plain: HubProcess, rasa: RasaStandIn) -> None:
    openid = new_openid()
    wx = wechat(plain)
    xml = text_xml(openid, "查一下订单", new_msg_id())
    first = await wx.push(xml)
    again = await asyncio.gather(*(wx.push(xml) for _ in range(3)))
    assert {a.reply for a in again} == {first.reply} == {f"收到：查一下订单\n{BUTTONS}"}
    conv = db(plain).conversation(openid)
    assert conv is not None and len(bot_requests(rasa, conv["id"])) == 1
    assert db(plain).customer_texts(openid) == ["查一下订单"]
    # events have no MsgId: sender + CreateTime identify a retry
    sub = event_xml(openid, "subscribe", create_time=1_700_000_123)
    welcome = [await wx.push(sub), await wx.push(sub)]
    assert welcome[0].reply == welcome[1].reply and "转人工" in (welcome[0].reply or "")
    assert sum(m["text"].startswith("感谢关注") for m in db(plain).messages(conv["id"])) == 1


async def test_slow_bot_answers_success_then_customer_service_api(plain: HubProcess, rasa: RasaStandIn,
                                                                  fake: FakeWeChat) -> None:
    openid = new_openid()
    answer = await wechat(plain).push(text_xml(openid, "慢慢说"))
    assert answer.accepted and answer.body == "success" and answer.attempts == 1
    sent = await until(lambda: fake.texts_to(openid), what="the late bot answer")
    assert sent == [f"收到：慢慢说\n{BUTTONS}"]
    conv = db(plain).conversation(openid)
    assert conv is not None and len(bot_requests(rasa, conv["id"])) == 1


async def test_retries_while_the_bot_is_slow_make_one_bot_turn(plain: HubProcess, rasa: RasaStandIn,
                                                               fake: FakeWeChat) -> None:
    """WeChat gives up on an answer and pushes again (interval shortened from 5 s), while
    the first push is still with the bot: one bot turn, one stored message, one answer."""
    openid = new_openid()
    answer = await wechat(plain).push(text_xml(openid, "慢一点回答"), first_timeout=0.3)
    assert answer.accepted and answer.attempts == 2 and answer.reply is None
    sent = await until(lambda: fake.texts_to(openid), what="the late bot answer")
    conv = db(plain).conversation(openid)
    assert conv is not None
    await until(lambda: bot_requests(rasa, conv["id"]), what="the bot request")
    assert len(bot_requests(rasa, conv["id"])) == 1
    assert db(plain).customer_texts(openid) == ["慢一点回答"]
    assert sent == [f"收到：慢一点回答\n{BUTTONS}"]
    assert db(plain).inbound_count(openid) == 1


async def test_lost_answers_customer_sees_the_reply_once(plain: HubProcess, fake: FakeWeChat) -> None:
    """Whatever the race between WeChat's give-up and the hub's answer, the customer gets the
    bot's reply exactly once: in the accepted passive reply or through the API."""
    for lost_after in (0.01, 0.03, 0.1):
        openid = new_openid()
        answer = await wechat(plain).push(text_xml(openid, "在吗"), first_timeout=lost_after)
        assert answer.accepted
        await asyncio.sleep(0.3)
        passive = [answer.reply] if answer.reply else []
        assert passive + fake.texts_to(openid) == [f"收到：在吗\n{BUTTONS}"], (lost_after, answer)


async def test_long_texts_go_by_api_in_pieces(plain: HubProcess, fake: FakeWeChat) -> None:
    """Over WeChat's 2048 bytes a passive reply would be refused: all of it goes by API."""
    openid = new_openid()
    long_text = "长" * 800
    answer = await wechat(plain).push(text_xml(openid, long_text))
    assert answer.accepted and answer.body == "success"
    sent = await until(lambda: len(fake.texts_to(openid)) >= 2 and fake.texts_to(openid),
                       what="the pieces of the long reply")
    assert all(len(piece.encode()) <= 2048 for piece in sent)
    assert "".join(sent).replace("\n", "") == f"收到：{long_text}{BUTTONS}".replace("\n", "")


# --- message types and events ------------------------------------------------------------------------

async def test_media_is_stored_and_answered_politely(plain: HubProcess, rasa: RasaStandIn) -> None:
    openid = new_openid()
    wx = wechat(plain)
    image = await wx.push(message_xml(openid, "image", {"PicUrl": "http://mmbiz.example/p.jpg",
                                                        "MediaId": "m1"}))
    assert "图片" in (image.reply or "") and "文字" in (image.reply or "")
    voice = await wx.push(message_xml(openid, "voice", {"MediaId": "m2", "Format": "amr"}))
    assert "语音" in (voice.reply or "")
    place = await wx.push(message_xml(openid, "location", {"Location_X": "31.2", "Location_Y": "121.5",
                                                           "Scale": "15", "Label": "上海市"}))
    assert "位置" in (place.reply or "")
    link = await wx.push(message_xml(openid, "link", {"Title": "商品页", "Description": "d",
                                                      "Url": "http://shop.example/x"}))
    assert "链接" in (link.reply or "")
    video = await wx.push(message_xml(openid, "video", {"MediaId": "m3", "ThumbMediaId": "t"}))
    assert "视频" in (video.reply or "")
    assert db(plain).customer_texts(openid) == [
        "[图片] http://mmbiz.example/p.jpg", "[语音]", "[位置] 上海市 (31.2, 121.5)",
        "[链接] 商品页 http://shop.example/x", "[视频]"]
    conv = db(plain).conversation(openid)
    assert conv is not None and bot_requests(rasa, conv["id"]) == []


async def test_unknown_types_and_events_are_acknowledged(plain: HubProcess) -> None:
    openid = new_openid()
    wx = wechat(plain)
    odd = await wx.push(message_xml(openid, "hologram", {"Foo": "bar"}))
    assert odd.accepted and odd.body == "success"
    click = await wx.push(event_xml(openid, "CLICK", key="MENU_1"))
    assert click.accepted and click.body == "success"
    strange = await wx.push(event_xml(openid, "teleport"))
    assert strange.accepted and strange.body == "success"
    assert db(plain).customer_texts(openid) == ["[不支持的消息类型：unknown]"]
    assert db(plain).inbound_count(openid) == 3


async def test_subscribe_welcomes_and_unsubscribe_closes(plain: HubProcess, session) -> None:
    openid = new_openid()
    wx = wechat(plain)
    welcome = await wx.push(event_xml(openid, "subscribe"))
    assert welcome.reply and welcome.reply.startswith("感谢关注") and "订单" in welcome.reply
    first = db(plain).conversation(openid)
    assert first is not None and first["mode"] == "bot"
    # queued with agents, then the customer unfollows: closed and out of the queue
    sup = await login(session, plain.url, "supervisor")
    await sup.presence("online")
    await wx.push(text_xml(openid, "转人工"))
    _, queue = await sup.call("GET", "/api/agent/queue")
    assert first["id"] in [i["conversation_id"] for i in queue["items"]]
    bye = await wx.push(event_xml(openid, "unsubscribe"))
    assert bye.accepted and bye.body == "success"
    closed = db(plain).conversations(openid)[0]
    assert closed["mode"] == "closed"
    _, queue = await sup.call("GET", "/api/agent/queue")
    assert first["id"] not in [i["conversation_id"] for i in queue["items"]]
    _, detail = await sup.call("GET", f"/api/agent/conversations/{first['id']}")
    assert "取消关注" in detail["notes"][-1]["text"]
    # following again starts afresh
    again = await wx.push(event_xml(openid, "subscribe", create_time=1_800_000_000))
    assert again.reply and again.reply.startswith("感谢关注")
    second = db(plain).conversation(openid)
    assert second is not None and second["id"] != first["id"] and second["mode"] == "bot"
    await sup.presence("offline")


# --- agents ---------------------------------------------------------------------------------------

async def _claimed(plain: HubProcess, session: aiohttp.ClientSession, openid: str, agent_name: str = "agent1",
                   ask: str = "我要转人工"):
    """A chat claimed by ``agent_name``; ``ask`` picks the skill group (转人工: orders, 投诉: refunds)."""
    agent = await login(session, plain.url, agent_name)
    await agent.presence("online")
    wx = wechat(plain)
    answer = await wx.push(text_xml(openid, ask))
    assert answer.reply is not None and "转接人工" in answer.reply and "排在第" in answer.reply
    conv = db(plain).conversation(openid)
    assert conv is not None and conv["mode"] == "queued"
    code, body = await agent.call("POST", f"/api/agent/conversations/{conv['id']}/claim")
    assert code == 200, body
    return agent, wx, conv


async def test_agent_replies_and_csat_by_text(plain: HubProcess, rasa: RasaStandIn, fake: FakeWeChat,
                                             session) -> None:
    openid = new_openid()
    agent, wx, conv = await _claimed(plain, session, openid)
    _, queue = await agent.call("GET", "/api/agent/conversations?scope=mine")
    [mine] = [c for c in queue["conversations"] if c["conversation_id"] == conv["id"]]
    assert mine["channel"] == "wechat" and mine["customer_name"].startswith("微信用户")
    async with agent.ws(plain.ws_url) as aws:
        await next_event(aws, "queue")
        joined = await until(lambda: fake.texts_to(openid), what="the joined notice")
        assert "已接入" in joined[0]
        code, _ = await agent.call("POST", f"/api/agent/conversations/{conv['id']}/messages",
                                   {"text": "您好，我来帮您查"})
        assert code == 200
        await until(lambda: "您好，我来帮您查" in fake.texts_to(openid), what="the agent reply")
        # the customer's next text goes to the agent, not the bot; the answer is "success"
        before = len(bot_requests(rasa, conv["id"]))
        answer = await wx.push(text_xml(openid, "订单号 2024090911223"))
        assert answer.body == "success"
        got = await next_event(aws, "message", conversation_id=conv["id"],
                               where=lambda e: e["message"]["author"] == "customer")
        assert got["message"]["text"] == "订单号 2024090911223" and got["message"]["channel"] == "wechat"
        assert len(bot_requests(rasa, conv["id"])) == before
        # an internal note never reaches WeChat
        await agent.call("POST", f"/api/agent/conversations/{conv['id']}/messages",
                         {"text": "内部：客户是老顾客", "internal": True})
        code, _ = await agent.call("POST", f"/api/agent/conversations/{conv['id']}/close")
        assert code == 200
    sent = await until(lambda: CSAT_PROMPT in fake.texts_to(openid) and fake.texts_to(openid),
                       what="the CSAT prompt")
    assert "内部：客户是老顾客" not in sent
    assert sent[-1] == CSAT_PROMPT and "服务已结束" in sent[-2]
    rated = await wx.push(text_xml(openid, "5"))
    assert rated.reply is not None and "感谢您的评分" in rated.reply
    assert db(plain).csat(conv["id"]) == [5]
    # a later digit is an ordinary message again (to the bot)
    later = await wx.push(text_xml(openid, "4"))
    assert later.reply is not None and later.reply.startswith("收到：4")
    assert db(plain).csat(conv["id"]) == [5]


async def test_csat_request_lapses_when_the_customer_writes_something_else(
        plain: HubProcess, fake: FakeWeChat, session) -> None:
    openid = new_openid()
    agent, wx, conv = await _claimed(plain, session, openid, "agent2", "我要投诉")  # agent2: refunds
    await agent.call("POST", f"/api/agent/conversations/{conv['id']}/close")
    await until(lambda: CSAT_PROMPT in fake.texts_to(openid), what="the CSAT prompt")
    other = await wx.push(text_xml(openid, "谢谢"))
    assert other.reply is not None and other.reply.startswith("收到：谢谢")
    digit = await wx.push(text_xml(openid, "3"))
    assert digit.reply is not None and digit.reply.startswith("收到：3")
    assert db(plain).csat(conv["id"]) == []


async def test_token_expiry_mid_send(plain: HubProcess, fake: FakeWeChat, session) -> None:
    openid = new_openid()
    agent, _, conv = await _claimed(plain, session, openid)
    await until(lambda: fake.texts_to(openid), what="the joined notice")
    issued = len(fake.tokens_issued)
    fake.tokens_issued.append("tok-rotated-elsewhere")  # WeChat invalidated the hub's token
    await agent.call("POST", f"/api/agent/conversations/{conv['id']}/messages", {"text": "令牌过期后"})
    await until(lambda: "令牌过期后" in fake.texts_to(openid), what="the resent reply")
    assert len(fake.tokens_issued) == issued + 2  # the rotation, then exactly one refresh
    await agent.call("POST", f"/api/agent/conversations/{conv['id']}/return_to_bot")


async def test_undeliverable_replies_are_shown_to_the_agent(plain: HubProcess, fake: FakeWeChat,
                                                            session) -> None:
    openid = new_openid()
    agent, _, conv = await _claimed(plain, session, openid)
    await until(lambda: fake.texts_to(openid), what="the joined notice")
    async with agent.ws(plain.ws_url) as aws:
        await next_event(aws, "queue")
        fake.errors = [45015]
        code, _ = await agent.call("POST", f"/api/agent/conversations/{conv['id']}/messages",
                                   {"text": "超过48小时的回复"})
        assert code == 200
        note = await next_event(aws, "message", conversation_id=conv["id"],
                                where=lambda e: e["message"]["internal"])
        assert note["message"]["author"] == "system"
        assert "45015" in note["message"]["text"] and "48 小时" in note["message"]["text"]
        assert "超过48小时的回复" in note["message"]["text"]
        # a timeout of the API is reported the same way
        fake.delay = 1.5
        try:
            await agent.call("POST", f"/api/agent/conversations/{conv['id']}/messages", {"text": "超时的回复"})
            timeout_note = await next_event(aws, "message", conversation_id=conv["id"], timeout=10,
                                            where=lambda e: e["message"]["internal"])
        finally:
            fake.delay = 0.0
        assert "超时" in timeout_note["message"]["text"] and "超时的回复" in timeout_note["message"]["text"]
    _, detail = await agent.call("GET", f"/api/agent/conversations/{conv['id']}")
    assert [n["author"] for n in detail["notes"]] == ["system", "system"]
    assert "超过48小时的回复" not in fake.texts_to(openid)
    await agent.call("POST", f"/api/agent/conversations/{conv['id']}/return_to_bot")


async def test_same_openid_keeps_one_conversation(plain: HubProcess) -> None:
    openid = new_openid()
    wx = wechat(plain)
    await asyncio.gather(*(wx.push(text_xml(openid, f"并发{i}")) for i in range(4)))
    assert len(db(plain).conversations(openid)) == 1
    assert sorted(db(plain).customer_texts(openid)) == [f"并发{i}" for i in range(4)]


# --- nobody to answer ---------------------------------------------------------------------------

async def test_handoff_with_nobody_online_becomes_a_ticket(plain: HubProcess, session) -> None:
    """WeChat has no message form: the conversation itself is filed as a ticket, as the widget's
    form would, and asking again updates that ticket instead of filing another."""
    sup = await login(session, plain.url, "supervisor")
    for name in ("agent1", "agent2"):
        await (await login(session, plain.url, name)).presence("offline")
    await sup.presence("offline")
    openid = new_openid()
    wx = wechat(plain)
    async with sup.ws(plain.ws_url) as watch:
        await next_event(watch, "queue")
        answer = await wx.push(text_xml(openid, "我要转人工，快递丢了"))
        assert answer.reply is not None and "暂无人工客服在线" in answer.reply
        found = re.search(r"工单号 (\d+)", answer.reply)
        assert found and "24 小时内" in answer.reply
        ticket_id = int(found.group(1))
        await next_event(watch, "ticket", ticket_id=ticket_id, status="open")
    conv = db(plain).conversation(openid)
    assert conv is not None and conv["mode"] == "bot"  # not left waiting in the queue
    _, queue = await sup.call("GET", "/api/agent/queue")
    assert conv["id"] not in [i["conversation_id"] for i in queue["items"]]
    _, tickets = await sup.call("GET", "/api/agent/tickets?status=open")
    [ticket] = [t for t in tickets["items"] if t["conversation_id"] == conv["id"]]
    assert ticket["id"] == ticket_id and ticket["contact"] == f"微信 openid {openid}"
    assert "快递丢了" in ticket["text"] and ticket["due_at"] - ticket["created_at"] == 24 * 3600
    assert [m["text"] for m in ticket["transcript"] if m["author"] == "customer"] == ["我要转人工，快递丢了"]
    assert any(f"工单号 {ticket_id}" in m["text"] for m in db(plain).messages(conv["id"]))

    # The bot answers again meanwhile; asking for a person again refreshes the same ticket.
    assert (await wx.push(text_xml(openid, "你好"))).reply == f"收到：你好\n{BUTTONS}"
    again = await wx.push(text_xml(openid, "还是转人工吧"))
    assert again.reply is not None and f"工单号 {ticket_id}" in again.reply
    _, tickets = await sup.call("GET", "/api/agent/tickets")
    [ticket] = [t for t in tickets["items"] if t["conversation_id"] == conv["id"]]
    assert "快递丢了" in ticket["text"] and "还是转人工吧" in ticket["text"]
    assert [m["text"] for m in ticket["transcript"] if m["author"] == "customer"] == [
        "我要转人工，快递丢了", "你好", "还是转人工吧"]
