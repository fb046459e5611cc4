"""What the hub does with each kind of WeChat push, on the same engine as the web widget.

Every function runs inside the task that processes one push, after the channel started
capturing, so whatever it publishes for the customer becomes the passive reply (or goes by
API when the reply budget has run out).
"""

from __future__ import annotations

import logging
from typing import Any

from handoff.channels.wechat import WeChatChannel, current_capture, mask
from handoff.errors import ApiError
from handoff.service import Hub
from handoff.shapes import Author, message_out
from handoff.state import Cause, Mode, is_closed, notice, with_bot
from handoff.store import Duplicate
from handoff.wechat.inbox import Inbox
from handoff.wechat.protocol import Inbound, button_choice, render_text

log = logging.getLogger("handoff.wechat")

TEXT_WELCOME = (
    "感谢关注！我是智能客服助手，可以帮您：\n"
    "· 查询订单状态和物流\n"
    "· 退款、退货和换货\n"
    "· 修改或取消订单、开具发票\n"
    "· 支付、账户、会员和优惠问题\n"
    "直接发文字描述您的问题即可；需要人工客服请回复「转人工」。"
)
TEXT_MEDIA = "抱歉，目前只能处理文字消息，暂时无法查看{label}。请用文字描述您的问题，例如订单号和遇到的情况。"
TEXT_CSAT_THANKS = "感谢您的评分！如还有问题，可以继续向智能助手提问。"
TEXT_TOO_LONG = "消息太长了（最多 {limit} 字），请分几次发送。"
TEXT_RATE_LIMITED = "发送太频繁，请稍后再试。"
TEXT_UNSUBSCRIBED = "客户已取消关注公众号，会话已关闭。"

MEDIA_LABELS = {"image": "图片", "voice": "语音", "video": "视频", "shortvideo": "小视频",
                "location": "位置", "link": "链接"}
SCORES = ("1", "2", "3", "4", "5")


def client_msg_id(inbound: Inbound) -> str:
    """The store's per-conversation idempotency key, derived from WeChat's own message key."""
    return ("wx:" + inbound.dedup_key)[:64]


def media_text(inbound: Inbound) -> str:
    """What agents see in the transcript for a non-text message (WeChat's links are temporary)."""
    msg = inbound.raw
    label = MEDIA_LABELS.get(inbound.media_type, inbound.media_type)
    if inbound.media_type == "image" and getattr(msg, "image", None):
        return f"[{label}] {msg.image}"
    if inbound.media_type == "link":
        return f"[{label}] {getattr(msg, 'title', '') or ''} {getattr(msg, 'url', '') or ''}".strip()
    if inbound.media_type == "location":
        place = getattr(msg, "label", "") or ""
        return f"[{label}] {place} ({getattr(msg, 'location_x', '')}, {getattr(msg, 'location_y', '')})".strip()
    return f"[{label}]"


def is_event(inbound: Inbound) -> bool:
    data = getattr(inbound.raw, "_data", None) or {}
    return str(data.get("MsgType", "")).lower() == "event"


class Flows:
    def __init__(self, hub: Hub, channel: WeChatChannel, inbox: Inbox) -> None:
        self.hub = hub
        self.channel = channel
        self.inbox = inbox

    @property
    def max_chars(self) -> int:
        return self.hub.settings.max_message_chars

    async def _store_customer(self, conv: dict[str, Any], inbound: Inbound, text: str) -> dict[str, Any] | None:
        """Store a customer message that does not go to the bot; None when already stored."""
        try:
            row = await self.hub.store.messages.add_one(
                conv["id"], conv["channel"], author=Author.CUSTOMER, text=text[: self.max_chars],
                client_msg_id=client_msg_id(inbound))
        except Duplicate:
            return None
        await self.hub.publish_messages(conv, [row])
        return row

    async def _answer(self, conv: dict[str, Any], text: str, reply_to: str | None,
                      author: str | None = None) -> None:
        """A stored reply from the hub itself: bot voice while the bot holds the chat."""
        author = author or (Author.BOT if with_bot(conv) else Author.SYSTEM)
        rows = await self.hub.store.messages.add(
            conv["id"], conv["channel"], [{"author": author, "text": text, "reply_to": reply_to}])
        await self.hub.publish_messages(conv, rows)

    # -- kinds ---------------------------------------------------------------------------

    async def text(self, conv: dict[str, Any], inbound: Inbound) -> None:
        text = inbound.text
        if conv["csat_pending"]:
            if text.strip() in SCORES and await self._rating(conv, inbound, int(text.strip())):
                return
            if text.strip() not in SCORES:
                await self.hub.store.ratings.drop_request(conv["id"])
                conv = {**conv, "csat_pending": False}
        title = None
        if with_bot(conv):
            recent = await self.hub.store.messages.read(conv["id"], after=max(0, int(conv["last_seq"]) - 20))
            choice = button_choice(text, [message_out(r) for r in recent])
            if choice is not None:
                title, text = choice["title"], choice["payload"]
        capture = current_capture()
        before = capture.said if capture else 0
        try:
            _, replies = await self.hub.customer_message(conv, text, client_msg_id(inbound), title)
        except ApiError as err:
            if err.status == 413:
                self.channel.say(conv, TEXT_TOO_LONG.format(limit=self.max_chars))
            elif err.status == 429:
                self.channel.say(conv, TEXT_RATE_LIMITED)
            else:
                log.info("WeChat text from %s not accepted: %s", mask(inbound.openid), err.code)
            return
        if capture is not None and capture.said == before:
            # A message stored by an earlier, failed attempt: the hub replays its replies
            # without publishing them again, so say them here.
            for reply in replies:
                rendered = render_text(reply.get("text") or "", reply.get("buttons") or [])
                if rendered:
                    self.channel.say(conv, rendered)

    async def _rating(self, conv: dict[str, Any], inbound: Inbound, score: int) -> bool:
        try:
            await self.hub.add_csat(conv, score, None)
        except ApiError:  # already rated meanwhile: an ordinary message then
            return False
        current = {**conv, "csat_pending": False}
        row = await self._store_customer(current, inbound, str(score))
        await self._answer(current, TEXT_CSAT_THANKS, row["id"] if row else None)
        return True

    async def subscribe(self, conv: dict[str, Any], inbound: Inbound) -> None:
        await self._answer(conv, TEXT_WELCOME, None, author=Author.BOT)

    async def media(self, conv: dict[str, Any], inbound: Inbound) -> None:
        if not await self.hub.limiter.hit(f"conv:{conv['id']}"):
            self.channel.say(conv, TEXT_RATE_LIMITED)
            return
        row = await self._store_customer(conv, inbound, media_text(inbound))
        if row is None:
            return
        label = MEDIA_LABELS.get(inbound.media_type, "这类消息")
        await self._answer(conv, TEXT_MEDIA.format(label=label), row["id"])

    async def other(self, conv: dict[str, Any], inbound: Inbound) -> None:
        """An unknown message type: kept for the transcript, no reply (``success``)."""
        await self._store_customer(conv, inbound, f"[不支持的消息类型：{inbound.media_type[:32]}]")

    async def unsubscribe(self, conv: dict[str, Any]) -> None:
        """Close the customer's conversation; agents holding it are told, the customer is not
        (WeChat refuses messages to someone who unfollowed)."""
        told = (notice(TEXT_UNSUBSCRIBED, internal=True),)
        for _ in range(3):  # re-read when an agent's action overtook ours
            current = await self.hub.store.conversations.get(conv["id"])
            if current is None or is_closed(current):
                return
            if await self.hub.state.transition(current, Mode.CLOSED, Cause.UNSUBSCRIBE, notices=told) is not None:
                return
        log.warning("could not close WeChat conversation %s", conv["id"])
