"""The conversation engine shared by every channel and the console.

Order of work for each customer message: validate → store (durable) → route by mode →
store the outcome → deliver. Delivery goes through the conversation's channel, so the
web widget and a messenger channel use the same rules.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from handoff import queue as q
from handoff import scope
from handoff.auth import new_token, token_hash
from handoff.channels import Channel
from handoff.customers import CustomerDirectory
from handoff.errors import ApiError
from handoff.identity import IdentityError, verify_identity
from handoff.limits import CustomerLimits, RateLimiter, conversation_key, customer_key, wait_words
from handoff.metrics import handoff_figures, mean, queue_figures, start_of_day
from handoff.rasa_client import RasaClient, RasaResult
from handoff.realtime import Bus
from handoff.router import Handoff, offer_leave_message, route_for_mode, within_hours
from handoff.settings import Settings
from handoff.store import AlreadyWaiting, Duplicate, Store, message_out
from handoff.tickets import new_ticket_row
from handoff.validation import clean_text, db_int, is_blank

log = logging.getLogger("handoff.service")

MAX_TURN_ATTEMPTS = 3  # a message whose turn died this often is handed to the agents unanswered

AGENTS_TOPIC = "agents"

TEXT_BOT_UNAVAILABLE = "抱歉，智能助手暂时无法回复。您的消息已保存，正在为您转接人工客服，请稍候。"
TEXT_QUEUED = "已为您转接人工客服，您当前排在第 {position} 位，预计等待{wait}。"
TEXT_OFFLINE = (
    "当前暂无人工客服在线（服务时间 {start}–{end}）。您可以留言并留下联系方式，我们会在 24 小时内回复您。"
)
TEXT_AGENT_JOINED = "{title} 已接入，很高兴为您服务。"
TEXT_TRANSFERRED = "正在为您转接其他客服，请稍候。"
# The rating request itself is channel-specific (stars in the widget, "回复 1-5" on WeChat).
TEXT_CLOSED = "本次人工服务已结束，感谢您的耐心。如还有问题，可以继续向智能助手提问。"
TEXT_RETURNED = "人工服务已结束，接下来由智能助手继续为您服务。"
TEXT_TICKET = "您的留言已收到（工单号 {ticket_id}），我们会在 24 小时内通过您留下的联系方式回复。"
TEXT_ALREADY_WAITING = "您已有一个会话在排队等待人工客服，请回到那个窗口稍候，客服接入后会第一时间回复您。"
TEXT_QUEUE_BUSY = "当前转人工的请求过于频繁，请 {wait}后再试。您也可以继续向智能助手提问。"
TEXT_OFFLINE_TICKET = (  # channels without the widget's message form (WeChat)
    "当前暂无人工客服在线（服务时间 {start}–{end}）。已将本次对话登记为留言工单（工单号 {ticket_id}），"
    "客服会在 {hours} 小时内回复您。您也可以继续向智能助手提问。"
)


BOT_FAILURES = (  # RasaResult.error prefix -> what an agent reads in the queue
    ("busy", "智能助手繁忙"),
    ("timeout", "智能助手响应超时"),
    ("unreachable", "智能助手无法连接"),
    ("http", "智能助手服务出错"),
    ("empty", "智能助手没有回复"),
)


def bot_failure_summary(error: str | None) -> str:
    """A queue summary an agent understands at a glance; the technical cause stays in brackets."""
    error = error or "unknown"
    label = next((text for prefix, text in BOT_FAILURES if error.startswith(prefix)), "智能助手无响应")
    return f"{label}（{error}）"


def wait_text(seconds: float) -> str:
    """How long a customer is told to wait. The only place this is worded: the widget's queue
    banner shows the ``wait_text`` the hub sends with each place, WeChat gets it in TEXT_QUEUED."""
    return "不到 1 分钟" if seconds < 60 else f"约 {math.ceil(seconds / 60)} 分钟"


def agent_title(display_name: str) -> str:
    """How the customer sees an agent: display names usually carry their title already
    ("客服 小李", "主管 王敏"), so only a bare name ("小李") gets "客服" in front. The only place
    this is decided: the widget shows the ``title`` the hub sends with the agent."""
    name = display_name.strip()
    if not name:
        return "人工客服"
    return name if name.startswith("客服") or " " in name else f"客服 {name}"


def customer_place(position: int, eta_seconds: int) -> dict[str, Any]:
    """A place in the queue as the customer gets it (the widget shows ``wait_text`` as it is)."""
    return {"position": position, "eta_seconds": eta_seconds, "wait_text": wait_text(eta_seconds)}


def customer_agent(agent: dict[str, Any]) -> dict[str, Any]:
    """The serving agent as the customer gets it (the widget shows ``title`` as it is)."""
    return {"display_name": agent["display_name"], "title": agent_title(agent["display_name"])}


def conversation_topic(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


def validate_text(text: Any, max_chars: int) -> str:
    """Reject before anything is stored, so a bad message leaves no half state. Bidi controls
    are removed; a message of only invisible characters counts as empty."""
    if not isinstance(text, str):
        raise ApiError(400, "invalid_text", "text must be a string. 消息内容格式错误。")
    text = clean_text(text)
    if is_blank(text):
        raise ApiError(400, "empty_text", "Message is empty. 消息不能为空。")
    if len(text) > max_chars:
        raise ApiError(
            413, "message_too_long",
            f"Message longer than {max_chars} characters. 消息过长（最多 {max_chars} 字）。",
        )
    return text


def validate_client_msg_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise ApiError(400, "invalid_client_msg_id", "client_msg_id must be a string of ≤64 characters.")
    return value


class Hub:
    """State changes of conversations, and the events they cause."""

    def __init__(
        self, settings: Settings, store: Store, bus: Bus, rasa: RasaClient,
        directory: CustomerDirectory, limiter: RateLimiter,
    ) -> None:
        self.settings = settings
        self.store = store
        self.bus = bus
        self.rasa = rasa
        self.directory = directory
        self.limiter = limiter
        self.limits = CustomerLimits(settings, limiter)
        self.channels: dict[str, Channel] = {}
        self._turns: set[asyncio.Future[list[dict[str, Any]]]] = set()
        self._turn_of: dict[str, asyncio.Future[list[dict[str, Any]]]] = {}  # message id -> its turn here
        # How long a process may work on one bot turn before another may take it over: the
        # longest a Rasa call can take (waiting for a slot, then the call) and some room to store it.
        self.turn_lease = (settings.rasa_queue_wait or settings.rasa_timeout) + settings.rasa_timeout + 5

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    # -- delivery ----------------------------------------------------------------------

    async def to_customer(self, conv: dict[str, Any], event: dict[str, Any]) -> None:
        channel = self.channels.get(conv["channel"])
        if channel is None:
            log.error("no channel %s for conversation %s", conv["channel"], conv["id"])
            return
        await channel.deliver(conv, event)

    async def to_agents(self, event: dict[str, Any]) -> None:
        await self.bus.publish(AGENTS_TOPIC, event)

    async def publish_messages(
        self, conv: dict[str, Any], rows: list[dict[str, Any]], mode: str | None = None
    ) -> list[dict[str, Any]]:
        out = [message_out(r) for r in rows]
        mode = mode or conv["mode"]
        for msg in out:
            if not msg["internal"]:
                await self.to_customer(conv, {"type": "message", "message": customer_view(msg)})
            if mode != "bot" or msg["author"] == "system":
                await self.to_agents(
                    {"type": "message", "conversation_id": conv["id"], "message": msg,
                     "assigned_agent_id": conv.get("assigned_agent_id"), **scope_fields(conv)}
                )
        return out

    # -- customer side -------------------------------------------------------------------

    async def open_conversation(
        self, channel: str, identity: str | None, address: str | None = None, visitor: str | None = None,
    ) -> tuple[dict[str, Any], str]:
        """A new conversation, within the limits per client address and per customer (signed
        identity, else the browser's visitor id, kept as the conversation's ``external_id``)."""
        if channel not in self.channels:
            raise ApiError(400, "invalid_channel", f"Unknown channel {channel!r}. 渠道无效。")
        customer_id = name = None
        if identity:
            try:
                claims = verify_identity(identity, self.settings.identity_secret)
            except IdentityError as exc:
                raise ApiError(401, "invalid_identity", f"{exc}. 身份校验失败。") from None
            customer_id = str(claims["customer_id"])[:64]
            name = str(claims.get("name") or "")[:128] or None
        await self.limits.enforce("open", address, customer_key(customer_id, channel, visitor))
        token = new_token()
        conv = await self.store.create_conversation(channel, token_hash(token), customer_id, name,
                                                    external_id=visitor)
        return conv, token

    async def customer_message(
        self, conv: dict[str, Any], text: Any, client_msg_id: Any = None, title: Any = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Store a customer message, route it, and return it with the replies it produced."""
        text = validate_text(text, self.settings.max_message_chars)
        client_msg_id = validate_client_msg_id(client_msg_id)
        title = clean_text(str(title))[: self.settings.max_message_chars] if title else None
        if client_msg_id:
            existing = await self.store.find_client_message(conv["id"], client_msg_id)
            if existing:
                return await self._replay(existing)
        if not await self.limiter.hit(f"conv:{conv['id']}", event_id=client_msg_id):
            raise ApiError(429, "rate_limited", "Too many messages, please slow down. 发送太频繁，请稍后再试。",
                           headers={"Retry-After": str(math.ceil(self.settings.rate_limit_window))})
        bot = route_for_mode(conv["mode"]) != "agent"
        try:
            row = await self.store.add_message(
                conv["id"], conv["channel"], author="customer", text=text,
                client_msg_id=client_msg_id, title=title, turn_lease=self.turn_lease if bot else None,
            )
        except Duplicate as dup:
            return await self._replay(dup.existing)
        mode = conv["mode"]
        [msg] = await self.publish_messages(conv, [row], mode)
        if not bot:
            return customer_view(msg), []
        replies = await self._await_turn(self._start_turn(conv, msg))
        return customer_view(msg), [customer_view(r) for r in replies]

    def _start_turn(self, conv: dict[str, Any], msg: dict[str, Any],
                    give_up: bool = False) -> asyncio.Future[list[dict[str, Any]]]:
        # A task of its own: a customer who closes the page (or a dropped socket) while Rasa
        # thinks must not cancel the turn half way; its replies are stored and shown on the next visit.
        turn = asyncio.ensure_future(self._bot_turn(conv, msg, give_up))
        self._turns.add(turn)
        self._turn_of[msg["id"]] = turn
        turn.add_done_callback(self._turn_done)
        turn.add_done_callback(lambda _t: self._turn_of.pop(msg["id"], None))
        return turn

    @staticmethod
    async def _await_turn(turn: asyncio.Future[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        try:
            return await asyncio.shield(turn)
        except SQLAlchemyError:
            # The message is stored and its turn is owed: a sweep (or a re-send) answers it.
            raise ApiError(503, "reply_pending", "Storage unavailable; your message was saved and "
                           "will be answered. 消息已保存，回复稍后送达。") from None

    def _turn_done(self, turn: asyncio.Future[list[dict[str, Any]]]) -> None:
        self._turns.discard(turn)
        if not turn.cancelled() and turn.exception() is not None:  # seen even if the caller left
            log.error("bot turn failed: %s", type(turn.exception()).__name__)

    async def _replay(self, existing: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A re-sent message: its stored replies; a turn still owed (its hub died, or lost the
        database, while Rasa answered) runs now, unless another process is still on it."""
        if existing["author"] == "customer":
            running = self._turn_of.get(existing["id"])
            retried = self._await_turn(running) if running else self.retry_turn(existing["id"])
            replies = await retried
            if replies is not None:
                return customer_view(message_out(existing)), [customer_view(r) for r in replies]
        replies = await self.store.replies_to(existing["id"])
        return customer_view(message_out(existing)), [
            customer_view(message_out(r)) for r in replies if not r["internal"]
        ]

    async def retry_turn(self, message_id: str) -> list[dict[str, Any]] | None:
        """Run an unfinished bot turn whose lease ran out; None when there is none to run."""
        if message_id in self._turn_of:  # still running here, just slower than its lease
            return None
        turn = await self.store.bot_turn(message_id)
        if turn is None:
            return None
        attempt = await self.store.claim_bot_turn(message_id, self.turn_lease)
        if attempt is None:
            return None
        row = await self.store.get_message(message_id)
        conv = await self.store.get_conversation(turn["conversation_id"])
        later = await self.store.list_messages(turn["conversation_id"], after=row["seq"], limit=50) if row else []
        if (row is None or conv is None or conv["mode"] != "bot"
                or any(r["author"] == "customer" for r in later)):
            await self.store.finish_bot_turn(message_id)  # overtaken: an agent or a newer message answers
            return []
        log.info("retrying the bot turn of a message in conversation %s (attempt %d)", conv["id"], attempt)
        return await self._await_turn(self._start_turn(conv, message_out(row), give_up=attempt > MAX_TURN_ATTEMPTS))

    async def retry_stale_turns(self, max_age: float = 3600.0) -> int:
        """One sweep: every owed bot turn nobody is working on (on any hub process) runs again."""
        ids = await self.store.stale_bot_turns(max_age)
        results = await asyncio.gather(*(self.retry_turn(i) for i in ids), return_exceptions=True)
        return sum(1 for r in results if r is not None and not isinstance(r, BaseException))

    async def sweep_turns(self) -> None:
        while True:
            await asyncio.sleep(self.settings.bot_retry_every)
            try:
                await self.retry_stale_turns()
            except asyncio.CancelledError:
                raise
            except (SQLAlchemyError, ApiError) as exc:
                log.warning("bot turn sweep failed: %s", type(exc).__name__)
            except Exception:
                log.exception("bot turn sweep failed")

    async def _bot_turn(self, conv: dict[str, Any], msg: dict[str, Any], give_up: bool = False) -> list[dict[str, Any]]:
        metadata = {"customer_id": conv.get("customer_id"), "channel": conv["channel"]}
        result = (RasaResult(None, "retries exhausted") if give_up
                  else await self.rasa.send(conv["id"], msg["text"], metadata))
        replies: list[dict[str, Any]] = []
        turn = result.turn
        finished = False  # whether a stored reply has marked the turn done
        if turn is not None and turn.replies:
            rows = await self.store.add_messages(
                conv["id"], conv["channel"],
                [{"author": "bot", "text": r["text"], "buttons": r["buttons"], "reply_to": msg["id"]}
                 for r in turn.replies], finish_turn=msg["id"],
            )
            finished = True
            replies += await self.publish_messages(conv, rows, "bot")
        handoff = turn.handoff if turn is not None else None
        if handoff is None and not result.ok:
            log.warning("bot failed for conversation %s: %s", conv["id"], result.error)
            rows = await self.store.add_messages(
                conv["id"], conv["channel"],
                [{"author": "system", "text": TEXT_BOT_UNAVAILABLE, "reply_to": msg["id"]}],
                finish_turn=msg["id"],
            )
            finished = True
            replies += await self.publish_messages(conv, rows, "bot")
            handoff = Handoff("bot_unavailable", self.settings.bot_unavailable_priority, "general",
                              bot_failure_summary(result.error))
        if handoff is not None:
            replies += await self.start_handoff(conv, handoff, reply_to=msg["id"])
        if not finished:  # a handoff without a bot text
            await self.store.finish_bot_turn(msg["id"])
        return replies

    async def start_handoff(
        self, conv: dict[str, Any], handoff: Handoff, reply_to: str | None = None
    ) -> list[dict[str, Any]]:
        """Queue the conversation and tell the customer where they stand (or offer a ticket)."""
        refusal = await self.queue_refusal(conv)
        if refusal is not None:  # stays with the bot; the customer is told why and when to retry
            rows = await self.store.add_messages(
                conv["id"], conv["channel"], [{"author": "system", "text": refusal, "reply_to": reply_to}])
            return await self.publish_messages(conv, rows, "bot")
        profile = await self.directory.profile(conv.get("customer_id"))
        vip = profile.get("vip_level") if profile else None
        try:
            hid = await self.store.enqueue(
                conv["id"], handoff.reason, handoff.priority, handoff.skill, handoff.summary,
                handoff.emotion, vip if isinstance(vip, int) else None,
                customer=(conv.get("customer_id"), conv["channel"], conv.get("external_id")),
            )
        except AlreadyWaiting:  # a concurrent request of the same customer took the place first
            rows = await self.store.add_messages(
                conv["id"], conv["channel"], [{"author": "system", "text": TEXT_ALREADY_WAITING, "reply_to": reply_to}])
            return await self.publish_messages(conv, rows, "bot")
        if hid is None:
            return []
        conv = await self.store.get_conversation(conv["id"]) or conv
        loads = await self.store.agent_loads()
        online = sum(1 for a in loads if a["presence"] == "online")
        in_hours = self.in_working_hours()
        await self.to_customer(conv, {"type": "mode", "mode": "queued"})
        out: list[dict[str, Any]] = []
        channel = self.channels.get(conv["channel"])
        if offer_leave_message(online, in_hours) and not getattr(channel, "leave_message_form", True):
            return await self.ticket_for_handoff(conv, handoff, channel.ticket_contact(conv), reply_to)
        if offer_leave_message(online, in_hours):
            start, end = self.settings.working_hours
            text = TEXT_OFFLINE.format(start=start.strftime("%H:%M"), end=end.strftime("%H:%M"))
            rows = await self.store.add_messages(
                conv["id"], conv["channel"], [{"author": "system", "text": text, "reply_to": reply_to}]
            )
            out += await self.publish_messages(conv, rows)
            await self.to_customer(conv, {"type": "offline", "can_leave_message": True})
        else:
            snap = await self.queue_snapshot()
            place = snap["positions"].get(conv["id"]) or customer_place(1, 0)
            text = TEXT_QUEUED.format(position=place["position"], wait=place["wait_text"])
            rows = await self.store.add_messages(
                conv["id"], conv["channel"], [{"author": "system", "text": text, "reply_to": reply_to}]
            )
            out += await self.publish_messages(conv, rows)
        await self.queue_changed()
        await self.auto_assign()
        return out

    async def ticket_for_handoff(
        self, conv: dict[str, Any], handoff: Handoff, contact: str | None, reply_to: str | None
    ) -> list[dict[str, Any]]:
        """Nobody can answer and the channel has no message form: the conversation itself is
        the message. It becomes a ticket with the transcript (the same outcome as the widget's
        form), or refreshes this conversation's open one, so asking again adds no duplicate."""
        history = [message_out(r) for r in await self.store.list_messages(conv["id"])]
        asked = next((m["text"] for m in reversed(history) if m["author"] == "customer"), "")
        text = "；".join(p for p in (handoff.summary, asked) if p) or "客户请求人工服务"
        row = new_ticket_row(conv, text, contact, history, self.settings.ticket_due_hours)
        ticket_id = await self.store.file_ticket(row)
        await self.store.end_human_part(conv["id"], None, ask_csat=False)
        start, end = self.settings.working_hours
        notice = TEXT_OFFLINE_TICKET.format(start=start.strftime("%H:%M"), end=end.strftime("%H:%M"),
                                            ticket_id=ticket_id, hours=self.settings.ticket_due_hours)
        rows = await self.store.add_messages(
            conv["id"], conv["channel"], [{"author": "system", "text": notice, "reply_to": reply_to}])
        conv = await self.store.get_conversation(conv["id"]) or conv
        out = await self.publish_messages(conv, rows)
        await self.to_customer(conv, {"type": "mode", "mode": conv["mode"]})
        await self.to_agents({"type": "mode", "conversation_id": conv["id"], "mode": conv["mode"],
                              "assigned_agent_id": None})
        await self.to_agents({"type": "ticket", "ticket_id": ticket_id, "status": "open",
                              "conversation_id": conv["id"]})
        await self.queue_changed()
        return out

    async def queue_refusal(self, conv: dict[str, Any]) -> str | None:
        """Why this conversation may not join the queue now, or None: one waiting conversation
        per customer, and queue entries limited per client address and per customer."""
        key = conversation_key(conv)
        if key and not key.startswith("conv:"):
            for other in await self.store.queued():
                if other["id"] != conv["id"] and conversation_key(other) == key:
                    return TEXT_ALREADY_WAITING
        wait = await self.limits.take("queue", conv.get("client_address"), key)
        if wait > 0:
            log.warning("queue entry refused for conversation %s: limit reached", conv["id"])
            return TEXT_QUEUE_BUSY.format(wait=wait_words(wait)[1])
        return None

    def in_working_hours(self, now: float | None = None) -> bool:
        local = datetime.fromtimestamp(time.time() if now is None else now, ZoneInfo(self.settings.timezone))
        return within_hours(local, self.settings.working_hours)

    async def customer_typing(self, conv: dict[str, Any]) -> None:
        await self.limits.enforce("typing", conv.get("client_address"), conversation_key(conv))
        if conv["mode"] in ("queued", "agent"):
            await self.to_agents(
                {"type": "typing", "conversation_id": conv["id"], "author": "customer",
                 "assigned_agent_id": conv.get("assigned_agent_id"), **scope_fields(conv)}
            )

    async def leave_message(self, conv: dict[str, Any], text: Any, contact: Any) -> int:
        text = validate_text(text, self.settings.max_message_chars)
        if contact is not None and (not isinstance(contact, str) or len(contact) > 128):
            raise ApiError(400, "invalid_contact", "contact must be a string of ≤128 characters. 联系方式无效。")
        if not await self.limiter.hit(f"conv:{conv['id']}"):
            raise ApiError(429, "rate_limited", "Too many messages, please slow down. 发送太频繁，请稍后再试。",
                           headers={"Retry-After": str(math.ceil(self.settings.rate_limit_window))})
        await self.limits.enforce("tickets", conv.get("client_address"), conversation_key(conv))
        history = [message_out(r) for r in await self.store.list_messages(conv["id"])]
        row = new_ticket_row(conv, text, contact or None, history, self.settings.ticket_due_hours)
        ticket_id = await self.store.create_ticket(row)
        before = await self.store.end_human_part(conv["id"], None, ask_csat=False)
        rows = await self.store.add_messages(
            conv["id"], conv["channel"],
            [{"author": "system", "text": TEXT_TICKET.format(ticket_id=ticket_id)}],
        )
        conv = await self.store.get_conversation(conv["id"]) or conv
        await self.publish_messages(conv, rows)
        if before is not None:
            await self.to_customer(conv, {"type": "mode", "mode": conv["mode"]})
            await self.queue_changed()
        await self.to_agents({"type": "ticket", "ticket_id": ticket_id, "status": "open",
                              "conversation_id": conv["id"]})
        return ticket_id

    async def add_csat(self, conv: dict[str, Any], score: Any, comment: Any) -> None:
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise ApiError(400, "invalid_score", "score must be an integer 1..5. 评分须为 1–5 的整数。")
        if comment is not None and (not isinstance(comment, str) or len(comment) > 1000):
            raise ApiError(400, "invalid_comment", "comment must be a string of ≤1000 characters.")
        comment = clean_text(comment) if comment else None
        if not await self.store.add_csat(conv["id"], score, comment or None):
            raise ApiError(409, "no_csat_pending", "No rating is requested for this conversation. 当前无需评价。")

    # -- queue ----------------------------------------------------------------------------

    async def queue_snapshot(self) -> dict[str, Any]:
        """Ordered queue, each conversation's place and estimated wait."""
        ordered = q.order_queue(await self.store.queued())
        loads = await self.store.agent_loads()
        online = sum(1 for a in loads if a["presence"] == "online")
        handle = await self.store.recent_handle_seconds()
        positions = {
            item["id"]: customer_place(
                idx + 1, q.estimate_wait(idx + 1, handle, online, self.settings.default_eta_seconds))
            for idx, item in enumerate(ordered)
        }
        return {"ordered": ordered, "positions": positions, "loads": loads}

    @staticmethod
    def queue_item(item: dict[str, Any], now: float) -> dict[str, Any]:
        return {
            "conversation_id": item["id"],
            "priority": item["priority"],
            "reason": item["reason"],
            "skill": item["skill"],
            "summary": item["summary"],
            "vip_level": item["vip_level"],
            "waited_seconds": round(now - float(item["queued_at"] or now), 1),
            "channel": item["channel"],
            "emotion": item["emotion"],
            "customer_name": item.get("customer_name"),
        }

    @staticmethod
    def agents_view(loads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every agent's presence and load (offline ones too), so consoles see who can take chats."""
        return [
            {"id": a["id"], "display_name": a["display_name"], "role": a["role"],
             "presence": a["presence"], "load": int(a["load"]), "max_chats": a["max_chats"],
             "skills": [s for s in (a["skills"] or "").split(",") if s]}
            for a in loads
        ]

    def queue_event(self, snap: dict[str, Any], now: float) -> dict[str, Any]:
        """The queue snapshot consoles get: waiting chats in serving order plus agent presence."""
        agents = self.agents_view(snap["loads"])
        return {"type": "queue", "items": [self.queue_item(i, now) for i in snap["ordered"]],
                "agents": agents, "online": sum(1 for a in agents if a["presence"] == "online")}

    async def queue_changed(self) -> None:
        """Tell consoles the new queue and every waiting customer their new place."""
        snap = await self.queue_snapshot()
        now = time.time()
        await self.to_agents(self.queue_event(snap, now))
        for item in snap["ordered"]:
            place = snap["positions"][item["id"]]
            await self.to_customer(item, {"type": "queue", **place})

    async def auto_assign(self) -> None:
        """With ``HUB_ASSIGN=auto``: give queued chats to the least busy online agent of their group."""
        if self.settings.assign_mode != "auto":
            return
        for _ in range(50):
            snap = await self.queue_snapshot()
            loads = [agent_load(a) for a in snap["loads"]]
            assigned = False
            for item in snap["ordered"]:
                agent_id = q.choose_agent(loads, item["skill"] or "general")
                if agent_id is None:
                    continue
                agent = next(a for a in snap["loads"] if a["id"] == agent_id)
                if await self.claim(item["id"], agent, announce_queue=False):
                    assigned = True
                    break
            if not assigned:
                break
        await self.queue_changed()

    async def claim(self, conversation_id: str, agent: dict[str, Any], announce_queue: bool = True) -> bool:
        if not await self.store.claim(conversation_id, agent["id"]):
            return False
        conv = await self.store.get_conversation(conversation_id)
        assert conv is not None
        await self._joined(conv, agent)
        if announce_queue:
            await self.queue_changed()
        return True

    async def _joined(self, conv: dict[str, Any], agent: dict[str, Any]) -> None:
        rows = await self.store.add_messages(
            conv["id"], conv["channel"],
            [{"author": "system", "agent_id": agent["id"],  # who joined: they may reread the chat later
              "text": TEXT_AGENT_JOINED.format(title=agent_title(agent["display_name"]))}],
        )
        await self.to_customer(conv, {"type": "mode", "mode": "agent"})
        await self.to_customer(conv, {"type": "agent_joined", **customer_agent(agent)})
        await self.publish_messages(conv, rows)
        await self.to_agents({"type": "assigned", "conversation_id": conv["id"], "agent_id": agent["id"],
                              "assigned_agent_id": agent["id"]})
        await self.to_agents({"type": "mode", "conversation_id": conv["id"], "mode": "agent",
                              "assigned_agent_id": agent["id"]})

    # -- agent side ------------------------------------------------------------------------

    def check_owner(self, conv: dict[str, Any], agent: dict[str, Any]) -> None:
        scope.check_reply(agent, conv)

    async def agent_message(self, conv: dict[str, Any], agent: dict[str, Any], text: Any, internal: Any) -> dict[str, Any]:
        text = validate_text(text, self.settings.max_message_chars)
        if not isinstance(internal, bool):  # "no" must not turn a reply into a hidden note
            raise ApiError(400, "invalid_internal", "internal must be true or false. internal 须为布尔值。")
        if internal:
            scope.check_note(agent, conv)
        else:
            self.check_owner(conv, agent)
        rows = await self.store.add_messages(
            conv["id"], conv["channel"],
            [{"author": "agent", "agent_id": agent["id"], "text": text, "internal": internal}],
        )
        if not internal and conv.get("handoff_id") is not None:
            await self.store.mark_first_response(conv["handoff_id"])
        [msg] = await self.publish_messages(conv, rows, conv["mode"] if conv["mode"] != "bot" else "agent")
        return msg

    async def agent_typing(self, conv: dict[str, Any], agent: dict[str, Any]) -> None:
        if conv["mode"] == "agent" and conv["assigned_agent_id"] == agent["id"]:
            await self.to_customer(conv, {"type": "typing", "author": "agent"})

    async def transfer(self, conv: dict[str, Any], agent: dict[str, Any], to_agent: Any, skill: Any) -> dict[str, Any]:
        if to_agent is not None:
            if isinstance(to_agent, str):
                raise ApiError(400, "invalid_agent_id", "agent_id must be an integer.")
            to_agent = db_int(to_agent, "agent_id")
        scope.check_handle(agent, conv)
        owner = conv["assigned_agent_id"] if conv["mode"] == "agent" else None
        if to_agent is not None:
            target = next((a for a in await self.store.agent_loads() if a["id"] == to_agent), None)
            if target is None:
                raise ApiError(404, "agent_not_found", "No such agent. 客服不存在。")
            scope.check_transfer_target(agent, target, int(target["load"]))
            if not await self.store.transfer_to_agent(conv["id"], owner, to_agent):
                raise ApiError(409, "conflict", "The conversation changed meanwhile; reload. 会话状态已变化。")
            conv = await self.store.get_conversation(conv["id"]) or conv
            await self._joined(conv, target)
        elif skill is not None:
            from handoff.router import SKILLS

            if skill not in SKILLS:
                raise ApiError(400, "invalid_skill", f"skill must be one of {', '.join(SKILLS)}.")
            if not await self.store.requeue(conv["id"], owner, skill):
                raise ApiError(409, "conflict", "The conversation changed meanwhile; reload. 会话状态已变化。")
            conv = await self.store.get_conversation(conv["id"]) or conv
            rows = await self.store.add_messages(
                conv["id"], conv["channel"], [{"author": "system", "text": TEXT_TRANSFERRED}]
            )
            await self.to_customer(conv, {"type": "mode", "mode": "queued"})
            await self.publish_messages(conv, rows)
            await self.to_agents({"type": "mode", "conversation_id": conv["id"], "mode": "queued",
                                  "assigned_agent_id": None})
            await self.queue_changed()
            await self.auto_assign()
        else:
            raise ApiError(400, "missing_target", "Give agent_id or skill. 请指定客服或技能组。")
        return await self.store.get_conversation(conv["id"]) or conv

    async def finish(self, conv: dict[str, Any], agent: dict[str, Any], ask_csat: bool) -> None:
        """Close (with a CSAT request) or return to the bot; either way the bot resumes."""
        scope.check_handle(agent, conv)
        owner = conv["assigned_agent_id"] if conv["mode"] == "agent" else None
        before = await self.store.end_human_part(conv["id"], owner, ask_csat=ask_csat and owner is not None)
        if before is None:
            raise ApiError(409, "conflict", "The conversation changed meanwhile; reload. 会话状态已变化。")
        conv = await self.store.get_conversation(conv["id"]) or conv
        rows = await self.store.add_messages(
            conv["id"], conv["channel"],
            [{"author": "system", "text": TEXT_CLOSED if conv["csat_pending"] else TEXT_RETURNED}],
        )
        await self.publish_messages(conv, rows, "agent")
        if conv["csat_pending"]:
            await self.to_customer(conv, {"type": "csat_request"})
        await self.to_customer(conv, {"type": "mode", "mode": "bot"})
        await self.to_agents({"type": "mode", "conversation_id": conv["id"], "mode": "bot",
                              "assigned_agent_id": None})
        await self.queue_changed()
        await self.auto_assign()

    async def requeue_from_absent(self, conversation_id: str, agent_id: int) -> bool:
        """An agent the hub set away long ago still holds this chat: back to the queue (the
        waiting time kept), the customer told, the consoles alerted."""
        conv = await self.store.get_conversation(conversation_id)
        if conv is None or not await self.store.requeue(conversation_id, agent_id, conv["skill"] or "general"):
            return False
        conv = await self.store.get_conversation(conversation_id) or conv
        rows = await self.store.add_messages(conv["id"], conv["channel"],
                                             [{"author": "system", "text": TEXT_TRANSFERRED}])
        await self.to_customer(conv, {"type": "mode", "mode": "queued"})
        await self.publish_messages(conv, rows)
        await self.to_agents({"type": "mode", "conversation_id": conv["id"], "mode": "queued",
                              "assigned_agent_id": None})
        await self.to_agents({"type": "requeued", "conversation_id": conv["id"], "agent_id": agent_id,
                              "reason": "agent_away", "assigned_agent_id": None})
        await self.queue_changed()
        await self.auto_assign()
        return True

    async def set_presence(self, agent: dict[str, Any], status: Any) -> None:
        if status not in ("online", "away", "offline"):
            raise ApiError(400, "invalid_presence", "status must be online, away or offline.")
        await self.store.set_presence(agent["id"], status)
        await self.to_agents({"type": "presence", "agent_id": agent["id"], "presence": status})
        await self.queue_changed()
        await self.auto_assign()

    async def stats(self) -> dict[str, Any]:
        now = time.time()
        since = start_of_day(now, self.settings.timezone)
        snap = await self.queue_snapshot()
        figures = queue_figures(snap["ordered"], now)
        figures.update(handoff_figures(await self.store.handoffs_since(since)))
        scores = await self.store.csat_since(since)
        figures["csat"] = {"avg": mean(scores), "count": len(scores)}
        figures["agents"] = self.agents_view(snap["loads"])
        figures["agents_online"] = sum(1 for a in figures["agents"] if a["presence"] == "online")
        return figures


def scope_fields(conv: dict[str, Any]) -> dict[str, Any]:
    """What a console needs to decide whether an event about this conversation is for its agent."""
    return {"skill": conv.get("skill"), "conversation_mode": conv.get("mode")}


def agent_load(row: dict[str, Any]) -> q.AgentLoad:
    return q.AgentLoad(
        id=row["id"], skills=q.parse_skills(row["skills"]), presence=row["presence"],
        load=int(row["load"]), max_chats=row["max_chats"], last_assigned_at=row["last_assigned_at"] or 0.0,
    )


CUSTOMER_FIELDS = ("id", "seq", "author", "text", "title", "buttons", "created_at", "client_msg_id")


def customer_view(msg: dict[str, Any]) -> dict[str, Any]:
    """A message as the customer may see it (no agent ids, never internal notes)."""
    return {k: msg.get(k) for k in CUSTOMER_FIELDS}
