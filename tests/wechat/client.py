"""A test stand-in for WeChat's servers on the callback side: signs, encrypts and retries
pushes the way WeChat does, and reads the answers the way WeChat does.

WeChat gives a callback 5 seconds; without an answer by then it drops the connection and
pushes the same message again, three more times. ``timeout`` is that interval (shorter in
tests); ``attempts`` counts every push of one message.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import secrets
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import xmltodict
from wechatpy.crypto import WeChatCrypto

ACCOUNT = "gh_kefu_test"
_msg_ids = itertools.count(int(time.time() * 1000))


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def new_msg_id() -> str:
    return str(next(_msg_ids))


def text_xml(openid: str, content: str, msg_id: str | None = None, create_time: int | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id or new_msg_id()}</MsgId></xml>"
    )


def event_xml(openid: str, event: str, create_time: int | None = None, key: str = "") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )


def message_xml(openid: str, msg_type: str, fields: dict[str, str], msg_id: str | None = None) -> str:
    extra = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"{extra}<MsgId>{msg_id or new_msg_id()}</MsgId></xml>"
    )


@dataclass
class Answer:
    """The answer WeChat accepted (the last attempt), and what the customer would see."""

    status: int
    body: str
    attempts: int
    reply: str | None = None  # the passive reply's text; None for "success"/""
    to: str | None = None  # the passive reply's ToUserName
    encrypted: bool = False

    @property
    def accepted(self) -> bool:
        """WeChat shows "该公众号暂时无法提供服务" for anything but these."""
        return self.status == 200 and (self.body in ("", "success") or self.reply is not None)


class WeChatServer:
    """Pushes to one hub callback URL as WeChat would for a configured Official Account.

    ``encrypt``: ``None`` plaintext, ``"aes"`` safe-mode envelope, ``"compatible"`` the
    compatible-mode body (plaintext fields and the envelope together).
    """

    def __init__(self, url: str, token: str, appid: str = "", aes_key: str = "",
                 encrypt: str | None = None, timeout: float = 5.0, attempts: int = 4) -> None:
        self.url = url
        self.token = token
        self.appid = appid
        self.crypto = WeChatCrypto(token, aes_key, appid) if aes_key else None
        self.encrypt = encrypt
        self.timeout = timeout
        self.attempts = attempts

    def _signed(self, skew: int = 0) -> dict[str, str]:
        """Signed query parameters; ``skew`` shifts the timestamp (a replayed or misdated request)."""
        timestamp, nonce = str(int(time.time()) + skew), secrets.token_hex(5)
        return {"timestamp": timestamp, "nonce": nonce,
                "signature": sign(self.token, timestamp, nonce)}

    def request(self, xml: str, encrypt: str | None = None, skew: int = 0) -> tuple[dict[str, str], bytes]:
        """Query string and body of one push (each attempt is signed afresh, as WeChat does)."""
        mode = self.encrypt if encrypt is None else encrypt
        params = self._signed(skew)
        if not mode:
            return params, xml.encode()
        assert self.crypto is not None
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, params["nonce"], params["timestamp"]))["xml"]
        params.update({"encrypt_type": "aes", "msg_signature": envelope["MsgSignature"]})
        if mode == "compatible":
            body = xml.replace("</xml>", f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>")
        else:
            body = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                    f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>")
        return params, body.encode()

    async def post_once(self, session: aiohttp.ClientSession, params: dict[str, str], body: bytes,
                        timeout: float | None = None) -> tuple[int, str]:
        async with session.post(self.url, params=params, data=body,
                                headers={"Content-Type": "text/xml"},
                                timeout=aiohttp.ClientTimeout(total=timeout or self.timeout)) as resp:
            return resp.status, await resp.text()

    async def push(self, xml: str, encrypt: str | None = None, timeout: float | None = None,
                   first_timeout: float | None = None) -> Answer:
        """Push one message; retry it after ``timeout`` without an answer, like WeChat.

        ``first_timeout`` gives up on the first attempt sooner: its answer is lost, as when
        the network drops it, and the next attempt is a retry.
        """
        async with aiohttp.ClientSession() as session:
            for attempt in range(1, self.attempts + 1):
                params, body = self.request(xml, encrypt)
                wait = first_timeout if attempt == 1 and first_timeout else timeout
                try:
                    status, text = await self.post_once(session, params, body, wait)
                except asyncio.TimeoutError:
                    continue
                return self.read(status, text, attempt)
        return Answer(0, "", self.attempts)

    def read(self, status: int, body: str, attempts: int) -> Answer:
        answer = Answer(status, body, attempts)
        if status != 200 or body in ("", "success"):
            return answer
        data = xmltodict.parse(body)["xml"]
        if "Encrypt" in data:
            assert self.crypto is not None, "encrypted reply without a key"
            plain = self.crypto.decrypt_message(body, data["MsgSignature"], data["TimeStamp"], data["Nonce"])
            data, answer.encrypted = xmltodict.parse(plain)["xml"], True
        assert data["FromUserName"] == ACCOUNT and data["MsgType"] == "text", data
        answer.reply, answer.to = data["Content"], data["ToUserName"]
        return answer

    async def verify(self, echostr: str, good: bool = True, skew: int = 0) -> tuple[int, str]:
        """The URL check WeChat makes when the server address is saved in the admin page."""
        params = {**self._signed(skew), "echostr": echostr}
        if not good:
            params["signature"] = sign("wrong-token", params["timestamp"], params["nonce"])
        async with aiohttp.ClientSession() as session, session.get(self.url, params=params) as resp:
            return resp.status, await resp.text()


def raw_params(token: str) -> dict[str, Any]:
    timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
    return {"timestamp": timestamp, "nonce": nonce, "signature": sign(token, timestamp, nonce)}
