"""The WeChat protocol helpers against real wechatpy crypto, as WeChat's servers sign and encrypt."""

from __future__ import annotations

import hashlib

import pytest
from wechatpy.crypto import WeChatCrypto

from handoff.wechat.protocol import (
    BadPayload,
    BadSignature,
    button_choice,
    pack_reply,
    parse,
    passive_reply,
    render_text,
    signature_ok,
    split_text,
    timestamp_fresh,
    unwrap,
)

TOKEN = "test-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx0123456789abcdef"


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def text_xml(content: str, msg_id: str = "1001") -> str:
    return (
        "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[o_user1]]>"
        "</FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def params(ts: str = "1700000000", nonce: str = "n1") -> dict[str, str]:
    return {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}


def test_signature_good_and_bad() -> None:
    p = params()
    assert signature_ok(TOKEN, p["signature"], p["timestamp"], p["nonce"])
    assert not signature_ok(TOKEN, p["signature"], p["timestamp"], "other")


def test_timestamp_window() -> None:
    now = 1_700_000_000.0
    assert timestamp_fresh("1700000000", now, 300)
    assert timestamp_fresh("1699999700", now, 300) and timestamp_fresh("1700000300", now, 300)
    assert not timestamp_fresh("1699999699", now, 300)  # a replay later on
    assert not timestamp_fresh("1700000301", now, 300)  # dated ahead
    assert not any(timestamp_fresh(bad, now, 300) for bad in ("", "abc", "1.7e9", None))


def test_plaintext_unwrap_and_parse() -> None:
    xml, encrypted = unwrap(text_xml("退款多久到账").encode(), params(), TOKEN, None, "plain")
    assert not encrypted
    inbound = parse(xml)
    assert (inbound.kind, inbound.openid, inbound.text, inbound.dedup_key) == (
        "text", "o_user1", "退款多久到账", "m:1001")


def test_safe_mode_roundtrip_and_wrong_msg_signature() -> None:
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    p = params()
    envelope = crypto.encrypt_message(text_xml("你好"), p["nonce"], p["timestamp"])
    import xmltodict

    env = xmltodict.parse(envelope)["xml"]
    body = f"<xml><ToUserName>gh_test</ToUserName><Encrypt><![CDATA[{env['Encrypt']}]]></Encrypt></xml>"
    q = {**p, "encrypt_type": "aes", "msg_signature": env["MsgSignature"]}
    xml, encrypted = unwrap(body.encode(), q, TOKEN, crypto, "safe")
    assert encrypted and parse(xml).text == "你好"
    with pytest.raises(BadSignature):
        unwrap(body.encode(), {**q, "msg_signature": "0" * 40}, TOKEN, crypto, "safe")
    with pytest.raises(BadSignature):  # plaintext is refused in safe mode
        unwrap(text_xml("x").encode(), p, TOKEN, crypto, "safe")
    reply = passive_reply(parse(xml), "您好", crypto, True, "n2", "1700000001")
    decrypted = crypto.decrypt_message(reply, xmltodict.parse(reply)["xml"]["MsgSignature"],
                                       "1700000001", "n2")
    assert "您好" in decrypted and "o_user1" in decrypted


@pytest.mark.parametrize("body", [b"<xml><oops", b"<xml>" + b"a" * 70_000 + b"</xml>",
                                  b'<!DOCTYPE x [<!ENTITY a "b">]><xml>&a;</xml>'])
def test_bad_bodies(body: bytes) -> None:
    with pytest.raises(BadPayload):
        unwrap(body, params(), TOKEN, None, "plain")


def test_wrong_signature_before_parsing() -> None:
    with pytest.raises(BadSignature):
        unwrap(b"<xml><oops", {**params(), "signature": "bad"}, TOKEN, None, "plain")


def test_buttons_render_and_map_back() -> None:
    buttons = [{"title": "查订单", "payload": "/order_status"}, {"title": "转人工", "payload": "/human_agent"}]
    assert render_text("请选择：", buttons).splitlines()[1:3] == ["1. 查订单", "2. 转人工"]
    recent = [{"author": "customer", "text": "hi"}, {"author": "bot", "buttons": buttons}]
    assert button_choice("2", recent) == buttons[1]
    assert button_choice("3", recent) is None
    assert button_choice("2", recent + [{"author": "customer", "text": "x"}]) is None


def test_long_texts_split_within_wechat_limit() -> None:
    text = "第一段" + "很" * 600 + "\n" + "长" * 600
    pieces = split_text(text)
    assert all(len(p.encode()) <= 2048 for p in pieces) and len(pieces) == 2
    assert pieces[0].endswith("很") and pieces[1] == "长" * 600  # cut at the line break
    assert "".join(split_text("字" * 1500)) == "字" * 1500
    assert split_text("") == [""] and split_text("短") == ["短"]


def test_passive_reply_packing() -> None:
    assert pack_reply(["好的", "已为您转接"]) == ("好的\n\n已为您转接", [])
    passive, rest = pack_reply(["a" * 1500, "b" * 1000])
    assert passive == "a" * 1500 and rest == ["b" * 1000]
    assert pack_reply([]) == ("", [])
