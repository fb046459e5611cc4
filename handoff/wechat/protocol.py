"""Pure WeChat callback protocol: verify, unwrap, parse, render replies, map numbered choices.

Why pure: every security decision (signature, envelope, size) is testable without a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

MAX_BODY_BYTES = 64 * 1024
MAX_TEXT_BYTES = 2048  # WeChat's limit for one text message (passive reply or API send)
MEDIA_TYPES = ("image", "voice", "video", "shortvideo", "location", "link")
CHOICE_RE = re.compile(r"^\s*([1-9])\s*$")


class BadSignature(Exception):
    """Wrong ``signature`` / ``msg_signature``: answer 403 and store nothing."""


class BadPayload(Exception):
    """Malformed, oversized or undecryptable body: answer 400 and store nothing."""


def signature_ok(token: str, signature: str, timestamp: str, nonce: str) -> bool:
    """SHA1 of sorted token/timestamp/nonce, as WeChat signs its URL verification and pushes."""
    try:
        check_signature(token, signature or "", timestamp or "", nonce or "")
    except InvalidSignatureException:
        return False
    return True


def timestamp_fresh(timestamp: str, now: float, window: float) -> bool:
    """Whether a signed request's ``timestamp`` lies within ``window`` seconds of ``now``.

    The signature covers the timestamp but nothing stops a captured request from being sent
    again later; refusing old (and far-future) timestamps bounds that replay to the window.
    """
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    return abs(now - sent) <= window


def _xml_dict(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise BadPayload("body too large")
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise BadPayload("DTDs are not accepted")
    try:
        data = xmltodict.parse(body.decode("utf-8"))["xml"]
    except Exception as exc:  # expat errors, missing root, bad UTF-8
        raise BadPayload("malformed XML") from exc
    if not isinstance(data, dict):
        raise BadPayload("empty XML")
    return data


def unwrap(
    body: bytes, params: dict[str, str], token: str, crypto: WeChatCrypto | None, mode: str
) -> tuple[str, bool]:
    """The plaintext message XML and whether the request was encrypted.

    ``mode`` is plain | compatible | safe; safe refuses plaintext because the plain
    ``signature`` does not cover the body.
    """
    if not signature_ok(token, params.get("signature", ""), params.get("timestamp", ""),
                        params.get("nonce", "")):
        raise BadSignature("signature")
    envelope = _xml_dict(body)
    if params.get("encrypt_type", "raw") == "aes":
        if crypto is None or mode == "plain":
            raise BadPayload("encrypted message but no AES key configured")
        if "Encrypt" not in envelope:
            raise BadPayload("no Encrypt element")
        try:
            xml = crypto.decrypt_message(
                envelope, params.get("msg_signature", ""), params.get("timestamp", ""),
                params.get("nonce", ""),
            )
        except InvalidSignatureException:
            raise BadSignature("msg_signature") from None
        except InvalidAppIdException:
            raise BadPayload("wrong appid in envelope") from None
        except Exception as exc:
            raise BadPayload("undecryptable envelope") from exc
        _xml_dict(xml.encode("utf-8"))
        return xml, True
    if mode == "safe":
        raise BadSignature("plaintext refused in safe mode")
    return body.decode("utf-8"), False


@dataclass
class Inbound:
    """One message or event as the hub needs it."""

    kind: str  # text | subscribe | unsubscribe | media | other
    openid: str
    account: str
    dedup_key: str
    text: str = ""
    media_type: str = ""
    raw: Any = None


def parse(xml: str) -> Inbound:
    """Classify a WeChat push; dedup key is MsgId, or sender + CreateTime for events."""
    try:
        msg = parse_message(xml)
    except Exception as exc:
        raise BadPayload("unparseable message") from exc
    if msg is None or not msg.source:
        raise BadPayload("no FromUserName")
    msg_id = getattr(msg, "id", None)
    key = f"m:{msg_id}" if msg_id else f"e:{msg.source}:{msg.create_time.timestamp() if hasattr(msg.create_time, 'timestamp') else msg.create_time}:{getattr(msg, 'event', msg.type)}"
    base = {"openid": msg.source, "account": msg.target, "dedup_key": key, "raw": msg}
    if msg.type == "text":
        return Inbound("text", text=msg.content or "", **base)
    if msg.type == "voice" and getattr(msg, "recognition", None):
        return Inbound("text", text=msg.recognition, **base)
    if msg.type == "event":
        event = getattr(msg, "event", "")
        if event in ("subscribe", "subscribe_scan"):
            return Inbound("subscribe", **base)
        if event == "unsubscribe":
            return Inbound("unsubscribe", **base)
        return Inbound("other", media_type=str(event), **base)
    if msg.type in MEDIA_TYPES:
        return Inbound("media", media_type=msg.type, **base)
    return Inbound("other", media_type=str(msg.type), **base)


def render_text(text: str, buttons: list[dict[str, str]]) -> str:
    """Rasa buttons have no passive-reply equivalent: numbered options the customer answers."""
    if not buttons:
        return text
    lines = [text] if text else []
    lines += [f"{i}. {b['title']}" for i, b in enumerate(buttons, 1)]
    lines.append("请回复数字选择。")
    return "\n".join(lines)


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Pieces of at most ``limit`` UTF-8 bytes, cut at a line break when there is one:
    WeChat refuses longer texts (45002) rather than truncating them."""
    pieces: list[str] = []
    rest = text
    while len(rest.encode("utf-8")) > limit:
        size, cut = 0, 0
        for i, ch in enumerate(rest):
            size += len(ch.encode("utf-8"))
            if size > limit:
                break
            cut = i + 1
        newline = rest.rfind("\n", 0, cut)
        if newline > 0:
            cut = newline + 1
        pieces.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def pack_reply(texts: list[str], joiner: str = "\n\n",
               limit: int = MAX_TEXT_BYTES) -> tuple[str, list[str]]:
    """One passive reply from a push's replies, in order, within WeChat's limit; what does
    not fit is returned to go by the customer-service API."""
    pieces = [piece for text in texts for piece in split_text(text, limit)]
    passive = ""
    for i, piece in enumerate(pieces):
        candidate = passive + joiner + piece if passive else piece
        if len(candidate.encode("utf-8")) > limit:
            return passive, pieces[i:]
        passive = candidate
    return passive, []


def button_choice(text: str, recent: list[dict[str, Any]]) -> dict[str, str] | None:
    """Map a reply "1"/"2" to the payload of the latest bot buttons, if no customer spoke since."""
    match = CHOICE_RE.match(text)
    if not match:
        return None
    for msg in reversed(recent):
        if msg.get("author") == "customer":
            return None
        buttons = msg.get("buttons") or []
        if buttons:
            idx = int(match.group(1)) - 1
            return buttons[idx] if idx < len(buttons) else None
    return None


def passive_reply(inbound: Inbound, text: str, crypto: WeChatCrypto | None, encrypted: bool,
                  nonce: str, timestamp: str) -> str:
    """A passive text reply, encrypted when the request was."""
    xml = TextReply(source=inbound.account, target=inbound.openid, content=text).render()
    if encrypted and crypto is not None:
        return crypto.encrypt_message(xml, nonce, timestamp)
    return xml
