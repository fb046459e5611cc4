"""The WeChat channel: what the customer sees of hub events, sent by passive reply or API.

While a callback can still answer within WeChat's 5 seconds, the replies produced by that
push are captured (a context variable marks the processing task) and become the passive
reply. Everything else, i.e. agent replies, bot answers that came too late, the CSAT
prompt, goes through the customer-service message API, in order per conversation.
A send WeChat refuses (45015 outside the 48-hour window, 43004 unsubscribed, ...) is stored
as an internal system message and pushed to the agents, since the customer never saw it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

from handoff.service import Hub
from handoff.shapes import Author
from handoff.state import notice
from handoff.wechat.api import WeChatApi, WeChatApiError
from handoff.wechat.protocol import render_text, split_text

log = logging.getLogger("handoff.wechat")

TEXT_CSAT_PROMPT = "请回复 1-5 为本次服务评分"

UNDELIVERED = {
    45015: "客户超过 48 小时未互动，微信不允许再主动发消息；需客户先发一条消息",
    45047: "客户回复前最多可发 20 条客服消息，已达上限",
    43004: "客户已取消关注公众号",
    40003: "openid 无效",
    -1: "微信接口超时或无法连接",
}


def mask(openid: str) -> str:
    """Openids in logs: enough to correlate, not the full identifier."""
    return f"{openid[:6]}…" if openid else "-"


_capture: contextvars.ContextVar[Capture | None] = contextvars.ContextVar("wechat_capture", default=None)


class Capture:
    """Texts for one push's passive reply, until the reply budget runs out (``late``)."""

    def __init__(self, conversation: dict[str, Any]) -> None:
        self.conversation = conversation
        self.texts: list[str] = []
        self.late = False
        self.said = 0  # texts routed for this push, captured or sent


def current_capture() -> Capture | None:
    return _capture.get()


def event_text(event: dict[str, Any]) -> str | None:
    """The text a WeChat customer gets for a hub event; None for events WeChat cannot show
    (mode changes, queue places and typing are already told by system messages)."""
    if event.get("type") == "message":
        msg = event.get("message") or {}
        if msg.get("author") == Author.CUSTOMER:
            return None
        return render_text(str(msg.get("text") or ""), msg.get("buttons") or []) or None
    if event.get("type") == "csat_request":
        return TEXT_CSAT_PROMPT
    return None


class WeChatChannel:
    name = "wechat"
    # No form in WeChat: a handoff nobody can take now becomes a ticket by itself (Hub.ticket_for_handoff).
    leave_message_form = False

    @staticmethod
    def ticket_contact(conversation: dict[str, Any]) -> str | None:
        """Who to answer: the openid, for a reply through the 公众号 (within WeChat's 48 hours)."""
        return f"微信 openid {conversation.get('external_id') or '-'}"

    def __init__(self, hub: Hub, api: WeChatApi) -> None:
        self.hub = hub
        self.api = api
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- capture (passive reply) ---------------------------------------------------------

    @staticmethod
    def start_capture(conversation: dict[str, Any]) -> Capture:
        """Call inside the task processing a push: its replies are held for the passive reply."""
        capture = Capture(conversation)
        _capture.set(capture)
        return capture

    def release(self, capture: Capture) -> None:
        """The budget ran out: send what was held through the API, and the rest as it comes."""
        capture.late = True
        for text in capture.texts:
            self.send_later(capture.conversation, text)
        capture.texts = []

    # -- delivery -------------------------------------------------------------------------

    async def deliver(self, conversation: dict[str, Any], event: dict[str, Any]) -> None:
        text = event_text(event)
        if text is not None:
            self.say(conversation, text)

    def say(self, conversation: dict[str, Any], text: str) -> None:
        """Into the current passive reply when there is one for this conversation, else by API."""
        capture = _capture.get()
        if capture is not None and capture.conversation["id"] == conversation["id"]:
            capture.said += 1
            if not capture.late:
                capture.texts.append(text)
                return
        self.send_later(conversation, text)

    def send_later(self, conversation: dict[str, Any], text: str) -> asyncio.Task[None]:
        """Queue an API send behind the previous one of the same conversation (order kept)."""
        cid = conversation["id"]
        previous = self._tails.get(cid)
        task = asyncio.get_running_loop().create_task(self._send_after(previous, conversation, text))
        self._tails[cid] = task
        self._tasks.add(task)

        def _done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if self._tails.get(cid) is t:
                del self._tails[cid]

        task.add_done_callback(_done)
        return task

    async def _send_after(self, previous: asyncio.Task[None] | None, conversation: dict[str, Any],
                          text: str) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        openid = conversation.get("external_id") or ""
        try:
            if not openid:
                raise WeChatApiError(40003, "conversation has no openid")
            for piece in split_text(text):
                await self.api.send_text(openid, piece)
        except WeChatApiError as err:
            log.warning("WeChat send to %s failed: errcode %s", mask(openid), err.errcode)
            await self.report_undelivered(conversation, text, err)
        except Exception:
            log.exception("WeChat send to %s failed", mask(openid))
            await self.report_undelivered(conversation, text, WeChatApiError(-1, "error"))

    async def report_undelivered(self, conversation: dict[str, Any], text: str,
                                 err: WeChatApiError) -> None:
        reason = UNDELIVERED.get(err.errcode, f"微信接口错误 {err.errcode}")
        preview = text if len(text) <= 40 else text[:40] + "…"
        note = f"⚠ 以下消息未送达微信客户（{err.errcode}：{reason}）：{preview}"
        try:
            rows = await self.hub.store.messages.add(conversation["id"], self.name, [notice(note, internal=True)])
            current = await self.hub.store.conversations.get(conversation["id"]) or conversation
            await self.hub.publish_messages(current, rows)
        except Exception as exc:  # the note would repeat the message: name the error only
            log.error("could not record an undelivered WeChat message: %s", type(exc).__name__)

    async def drain(self, timeout: float = 10.0) -> None:
        """Let queued sends finish before the process stops."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
