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
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from handoff import scope, shapes
from handoff.auth import new_token, token_hash
from handoff.channels import Channel
from handoff.customers import CustomerDirectory
from handoff.delivery import AGENTS_TOPIC, Delivery, conversation_topic
from handoff.errors import ApiError
from handoff.events import Events
from handoff.identity import IdentityError, verify_identity
from handoff.limits import CustomerLimits, RateLimiter, conversation_key, customer_key, wait_words
from handoff.metrics import handoff_figures, mean, queue_figures, start_of_day
from handoff.queueing import Queue, Snapshot, place_after
from handoff.rasa_client import RasaClient, RasaResult
from handoff.realtime import Bus
from handoff.router import SKILLS, Handoff, offer_leave_message, within_hours
from handoff.settings import Settings
from handoff.shapes import Author, agent_title, customer_view, message_out, wait_text
from handoff.state import (
    Cause,
    IllegalTransition,
    Mode,
    ModeChanged,
    PresenceChanged,
    StateMachine,
    is_served,
    notice,
    with_agents,
    with_bot,
)
from handoff.store import AlreadyWaiting, Duplicate, Store
from handoff.tickets import new_ticket_row
from handoff.validation import clean_text, db_int, is_blank

log = logging.getLogger("handoff.service")

MAX_TURN_ATTEMPTS = 3  # a message whose turn died this often is handed to the agents unanswered

__all__ = ["AGENTS_TOPIC", "Hub", "conversation_topic", "customer_view"]

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
    """The conversation engine: customer flow, bot turns and agent actions. Every mode change
    goes through ``self.state`` (``handoff.state``); what follows it is done by the subscribers
    of its event: ``Delivery`` (customer, consoles) and ``Queue`` (broadcast, auto-assignment)."""

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
        self.events = Events()
        self.delivery = Delivery(bus)
        self.queue = Queue(settings, store, self.delivery)
        self.state = StateMachine(store, self.events)
        # in this order: the customer hears of a change before the consoles, then one broadcast
        self.events.on_each(self.delivery.tell_customer)
        self.events.on_each(self.delivery.tell_consoles)
        self.queue.subscribe(self.events)
        self.queue.claim = self._claim
        self._turns: set[asyncio.Future[list[dict[str, Any]]]] = set()
        self._turn_of: dict[str, asyncio.Future[list[dict[str, Any]]]] = {}  # message id -> its turn here
        # How long a process may work on one bot turn before another may take it over: the
        # longest a Rasa call can take (waiting for a slot, then the call) and some room to store it.
        self.turn_lease = (settings.rasa_queue_wait or settings.rasa_timeout) + settings.rasa_timeout + 5
        # Told of every bot turn answered (conversation, customer message, handoff or None, the
        # bot's reply texts); they must not block: the review capture (handoff/review.py) starts
        # its own task.
        self.turn_watchers: list[Callable[[dict[str, Any], dict[str, Any], Handoff | None, list[str]], None]] = []

    @property
    def channels(self) -> dict[str, Channel]:
        return self.delivery.channels

    def add_channel(self, channel: Channel) -> None:
        self.delivery.add_channel(channel)

    async def to_customer(self, conv: dict[str, Any], event: dict[str, Any]) -> None:
        await self.delivery.to_customer(conv, event)

    async def to_agents(self, event: dict[str, Any]) -> None:
        await self.delivery.to_agents(event)

    async def publish_messages(
        self, conv: dict[str, Any], rows: list[dict[str, Any]], mode: str | None = None
    ) -> list[dict[str, Any]]:
        return await self.delivery.publish_messages(conv, rows, mode)

    async def queue_snapshot(self) -> Snapshot:
        return await self.queue.snapshot()

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
        conv = await self.store.conversations.create(channel, token_hash(token), customer_id, name,
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
            existing = await self.store.messages.find_client_message(conv["id"], client_msg_id)
            if existing:
                return await self._replay(existing)
        if not await self.limiter.hit(f"conv:{conv['id']}", event_id=client_msg_id):
            raise ApiError(429, "rate_limited", "Too many messages, please slow down. 发送太频繁，请稍后再试。",
                           headers={"Retry-After": str(math.ceil(self.settings.rate_limit_window))})
        bot = with_bot(conv)
        try:
            row = await self.store.messages.add_one(
                conv["id"], conv["channel"], author=Author.CUSTOMER, text=text,
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
        replies = await self.store.messages.replies_to(existing["id"])
        return customer_view(message_out(existing)), [
            customer_view(message_out(r)) for r in replies if not r["internal"]
        ]

    async def retry_turn(self, message_id: str) -> list[dict[str, Any]] | None:
        """Run an unfinished bot turn whose lease ran out; None when there is none to run."""
        if message_id in self._turn_of:  # still running here, just slower than its lease
            return None
        turn = await self.store.messages.bot_turn(message_id)
        if turn is None:
            return None
        attempt = await self.store.messages.claim_bot_turn(message_id, self.turn_lease)
        if attempt is None:
            return None
        row = await self.store.messages.get(message_id)
        conv = await self.store.conversations.get(turn["conversation_id"])
        later = await self.store.messages.read(turn["conversation_id"], after=row["seq"], limit=50) if row else []
        if (row is None or conv is None or conv["mode"] != Mode.BOT
                or any(r["author"] == "customer" for r in later)):
            await self.store.messages.finish_bot_turn(message_id)  # overtaken: an agent or a newer message answers
            return []
        log.info("retrying the bot turn of a message in conversation %s (attempt %d)", conv["id"], attempt)
        return await self._await_turn(self._start_turn(conv, message_out(row), give_up=attempt > MAX_TURN_ATTEMPTS))

    async def retry_stale_turns(self, max_age: float = 3600.0) -> int:
        """One sweep: every owed bot turn nobody is working on (on any hub process) runs again."""
        ids = await self.store.messages.stale_bot_turns(max_age)
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
        # handoff_by: this hub routes a handed-off chat to people, so a message it passes on is
        # the bot's to answer, even right after the bot's own handoff (an agent handed it back)
        metadata = {"customer_id": conv.get("customer_id"), "channel": conv["channel"], "handoff_by": "hub"}
        result = (RasaResult(None, "retries exhausted") if give_up
                  else await self.rasa.send(conv["id"], msg["text"], metadata))
        replies: list[dict[str, Any]] = []
        turn = result.turn
        finished = False  # whether a stored reply has marked the turn done
        if turn is not None and turn.replies:
            rows = await self.store.messages.add(
                conv["id"], conv["channel"],
                [{"author": Author.BOT, "text": r["text"], "buttons": r["buttons"], "reply_to": msg["id"]}
                 for r in turn.replies], finish_turn=msg["id"],
            )
            finished = True
            replies += await self.publish_messages(conv, rows, Mode.BOT)
        handoff = turn.handoff if turn is not None else None
        if handoff is None and not result.ok:
            log.warning("bot failed for conversation %s: %s", conv["id"], result.error)
            rows = await self.store.messages.add(
                conv["id"], conv["channel"],
                [notice(TEXT_BOT_UNAVAILABLE, reply_to=msg["id"])],
                finish_turn=msg["id"],
            )
            finished = True
            replies += await self.publish_messages(conv, rows, Mode.BOT)
            handoff = Handoff("bot_unavailable", self.settings.bot_unavailable_priority, "general",
                              bot_failure_summary(result.error))
        if handoff is not None:
            replies += await self.start_handoff(conv, handoff, reply_to=msg["id"])
        if not finished:  # a handoff without a bot text
            await self.store.messages.finish_bot_turn(msg["id"])
        if turn is not None and (result.ok or turn.handoff is not None):  # the bot answered
            for watch in self.turn_watchers:
                watch(conv, msg, handoff, [str(r.get("text") or "") for r in turn.replies])
        return replies

    async def start_handoff(
        self, conv: dict[str, Any], handoff: Handoff, reply_to: str | None = None
    ) -> list[dict[str, Any]]:
        """Queue the conversation and tell the customer where they stand (or offer a ticket).
        Place and wait are told in a notice stored with the move, so the customer reads them
        before any broadcast or assignment that the move causes."""
        refusal = await self.queue_refusal(conv)
        if refusal is not None:  # stays with the bot; the customer is told why and when to retry
            rows = await self.store.messages.add(
                conv["id"], conv["channel"], [notice(refusal, reply_to=reply_to)])
            return await self.publish_messages(conv, rows, Mode.BOT)
        profile = await self.directory.profile(conv.get("customer_id"))
        vip = profile.get("vip_level") if profile else None
        snap = await self.queue_snapshot()
        offline = offer_leave_message(snap.online, self.in_working_hours())
        channel = self.channels.get(conv["channel"])
        start, end = self.settings.working_hours
        hours = {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
        if offline and channel is not None and not channel.leave_message_form:
            return await self.ticket_for_handoff(conv, handoff, vip, channel.ticket_contact(conv), reply_to)
        if offline:
            text = TEXT_OFFLINE.format(**hours)
        else:
            candidate = {"id": conv["id"], "priority": handoff.priority, "queued_at": time.time()}
            position = place_after(snap.ordered, candidate)
            text = TEXT_QUEUED.format(position=position,
                                      wait=wait_text(self.queue.eta(position, snap.handle, snap.online)))
        try:
            event = await self.state.transition(
                conv, Mode.QUEUED, Cause.HANDOFF, handoff=handoff, vip_level=vip if isinstance(vip, int) else None,
                customer=(conv.get("customer_id"), conv["channel"], conv.get("external_id")),
                notices=(notice(text, reply_to=reply_to),), offline=offline)
        except AlreadyWaiting:  # a concurrent request of the same customer took the place first
            rows = await self.store.messages.add(
                conv["id"], conv["channel"], [notice(TEXT_ALREADY_WAITING, reply_to=reply_to)])
            return await self.publish_messages(conv, rows, Mode.BOT)
        except IllegalTransition:  # already queued or with an agent
            return []
        return [message_out(r) for r in event.notices] if event is not None else []

    async def ticket_for_handoff(
        self, conv: dict[str, Any], handoff: Handoff, vip: Any, contact: str | None, reply_to: str | None
    ) -> list[dict[str, Any]]:
        """Nobody can answer and the channel has no message form: the conversation itself is
        the message. It becomes a ticket with the transcript (the same outcome as the widget's
        form), or refreshes this conversation's open one, so asking again adds no duplicate.
        The handoff is still recorded (queued, then back to the bot) and announced once."""
        async with self.events.batch():
            try:
                queued = await self.state.transition(
                    conv, Mode.QUEUED, Cause.HANDOFF, handoff=handoff, vip_level=vip if isinstance(vip, int) else None,
                    customer=(conv.get("customer_id"), conv["channel"], conv.get("external_id")))
            except AlreadyWaiting:
                rows = await self.store.messages.add(
                    conv["id"], conv["channel"], [notice(TEXT_ALREADY_WAITING, reply_to=reply_to)])
                return await self.publish_messages(conv, rows, Mode.BOT)
            except IllegalTransition:
                return []
            if queued is None:
                return []
            history = [message_out(r) for r in await self.store.messages.read(conv["id"])]
            asked = next((m["text"] for m in reversed(history) if m["author"] == Author.CUSTOMER), "")
            text = "；".join(p for p in (handoff.summary, asked) if p) or "客户请求人工服务"
            row = new_ticket_row(conv, text, contact, history, self.settings.ticket_due_hours)
            ticket_id = await self.store.tickets.file(row)
            start, end = self.settings.working_hours
            text = TEXT_OFFLINE_TICKET.format(start=start.strftime("%H:%M"), end=end.strftime("%H:%M"),
                                              ticket_id=ticket_id, hours=self.settings.ticket_due_hours)
            back = await self.state.transition(queued.conversation, Mode.BOT, Cause.TICKET,
                                               notices=(notice(text, reply_to=reply_to),))
        await self.to_agents(shapes.ticket_event(ticket_id, "open", conv["id"]))
        return [message_out(r) for r in back.notices] if back is not None else []

    async def queue_refusal(self, conv: dict[str, Any]) -> str | None:
        """Why this conversation may not join the queue now, or None: one waiting conversation
        per customer, and queue entries limited per client address and per customer."""
        key = conversation_key(conv)
        if key and not key.startswith("conv:"):
            for other in await self.store.queue.queued():
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
        if with_agents(conv):
            await self.to_agents(shapes.console_typing_event(conv))

    async def end_human_part(self, conversation_id: str, cause: Cause,
                             notices: tuple[dict[str, Any], ...] = ()) -> ModeChanged | None:
        """End whatever human part the conversation has now (queued or with any agent), for a
        customer-side reason; None when it had none (then nothing moves)."""
        to = Mode.CLOSED if cause is Cause.UNSUBSCRIBE else Mode.BOT
        for _ in range(3):  # re-read when an agent's action overtook ours
            current = await self.store.conversations.get(conversation_id)
            if current is None or not with_agents(current):
                return None
            event = await self.state.transition(current, to, cause, notices=notices)
            if event is not None:
                return event
        return None

    async def leave_message(self, conv: dict[str, Any], text: Any, contact: Any) -> int:
        text = validate_text(text, self.settings.max_message_chars)
        if contact is not None and (not isinstance(contact, str) or len(contact) > 128):
            raise ApiError(400, "invalid_contact", "contact must be a string of ≤128 characters. 联系方式无效。")
        if not await self.limiter.hit(f"conv:{conv['id']}"):
            raise ApiError(429, "rate_limited", "Too many messages, please slow down. 发送太频繁，请稍后再试。",
                           headers={"Retry-After": str(math.ceil(self.settings.rate_limit_window))})
        await self.limits.enforce("tickets", conv.get("client_address"), conversation_key(conv))
        history = [message_out(r) for r in await self.store.messages.read(conv["id"])]
        row = new_ticket_row(conv, text, contact or None, history, self.settings.ticket_due_hours)
        ticket_id = await self.store.tickets.create(row)
        told = (notice(TEXT_TICKET.format(ticket_id=ticket_id)),)
        if await self.end_human_part(conv["id"], Cause.TICKET, told) is None:
            rows = await self.store.messages.add(conv["id"], conv["channel"], list(told))
            await self.publish_messages(await self.store.conversations.get(conv["id"]) or conv, rows)
        await self.to_agents(shapes.ticket_event(ticket_id, "open", conv["id"]))
        return ticket_id

    async def add_csat(self, conv: dict[str, Any], score: Any, comment: Any, nps: Any = None) -> None:
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise ApiError(400, "invalid_score", "score must be an integer 1..5. 评分须为 1–5 的整数。")
        if nps is not None and (not isinstance(nps, int) or isinstance(nps, bool) or not 0 <= nps <= 10):
            raise ApiError(400, "invalid_nps", "nps must be an integer 0..10 or left out. 推荐意愿须为 0–10 的整数。")
        if comment is not None and (not isinstance(comment, str) or len(comment) > 1000):
            raise ApiError(400, "invalid_comment", "comment must be a string of ≤1000 characters.")
        comment = clean_text(comment) if comment else None
        if not await self.store.ratings.add(conv["id"], score, comment or None, nps):
            raise ApiError(409, "no_csat_pending", "No rating is requested for this conversation. 当前无需评价。")

    # -- agent side ------------------------------------------------------------------------

    async def _claim(self, conv: dict[str, Any], agent: dict[str, Any]) -> bool:
        """A waiting chat to this agent; the customer reads who joined (and the agent may reread
        the chat later: the notice names them)."""
        joined = notice(TEXT_AGENT_JOINED.format(title=agent_title(agent["display_name"])), agent_id=agent["id"])
        try:
            return await self.state.transition(conv, Mode.AGENT, Cause.CLAIM, agent=agent,
                                               notices=(joined,)) is not None
        except IllegalTransition:
            return False

    async def claim(self, conv: dict[str, Any], agent: dict[str, Any]) -> bool:
        """Exactly one of several concurrent claims wins (the state machine's conditional UPDATE)."""
        return await self._claim(conv, agent)

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
        rows = await self.store.messages.add(
            conv["id"], conv["channel"],
            [{"author": Author.AGENT, "agent_id": agent["id"], "text": text, "internal": internal}],
        )
        if not internal and conv.get("handoff_id") is not None:
            await self.store.queue.mark_first_response(conv["handoff_id"])
        [msg] = await self.publish_messages(conv, rows, Mode.AGENT if conv["mode"] == Mode.BOT else conv["mode"])
        return msg

    async def agent_typing(self, conv: dict[str, Any], agent: dict[str, Any]) -> None:
        if is_served(conv) and conv["assigned_agent_id"] == agent["id"]:
            await self.to_customer(conv, shapes.customer_typing_event())

    @staticmethod
    def _conflict() -> ApiError:
        return ApiError(409, "conflict", "The conversation changed meanwhile; reload. 会话状态已变化。")

    async def transfer(self, conv: dict[str, Any], agent: dict[str, Any], to_agent: Any, skill: Any) -> dict[str, Any]:
        if to_agent is not None:
            if isinstance(to_agent, str):
                raise ApiError(400, "invalid_agent_id", "agent_id must be an integer.")
            to_agent = db_int(to_agent, "agent_id")
        scope.check_handle(agent, conv)
        if to_agent is not None:
            target = next((a for a in await self.store.agents.loads() if a["id"] == to_agent), None)
            if target is None:
                raise ApiError(404, "agent_not_found", "No such agent. 客服不存在。")
            scope.check_transfer_target(agent, target, int(target["load"]))
            joined = notice(TEXT_AGENT_JOINED.format(title=agent_title(target["display_name"])),
                            agent_id=target["id"])
            event = await self.state.transition(conv, Mode.AGENT, Cause.TRANSFER, agent=target, notices=(joined,))
        elif skill is not None:
            if skill not in SKILLS:
                raise ApiError(400, "invalid_skill", f"skill must be one of {', '.join(SKILLS)}.")
            event = await self.state.transition(conv, Mode.QUEUED, Cause.REQUEUE, skill=skill,
                                                notices=(notice(TEXT_TRANSFERRED),))
        else:
            raise ApiError(400, "missing_target", "Give agent_id or skill. 请指定客服或技能组。")
        if event is None:
            raise self._conflict()
        return await self.store.conversations.get(conv["id"]) or event.conversation

    async def finish(self, conv: dict[str, Any], agent: dict[str, Any], ask_csat: bool) -> None:
        """Close (with a CSAT request when an agent served) or return to the bot; either way the
        bot resumes."""
        scope.check_handle(agent, conv)
        ends_with_rating = ask_csat and is_served(conv)
        event = await self.state.transition(
            conv, Mode.BOT, Cause.CLOSE if ask_csat else Cause.RETURN,
            notices=(notice(TEXT_CLOSED if ends_with_rating else TEXT_RETURNED),))
        if event is None:
            raise self._conflict()

    async def requeue_from_absent(self, conversation_id: str, agent_id: int) -> bool:
        """An agent the hub set away long ago still holds this chat: back to the queue (the
        waiting time kept), the customer told, the consoles alerted."""
        conv = await self.store.conversations.get(conversation_id)
        if conv is None or not is_served(conv) or conv["assigned_agent_id"] != agent_id:
            return False
        return await self.state.transition(conv, Mode.QUEUED, Cause.AGENT_AWAY, by_agent=agent_id,
                                           notices=(notice(TEXT_TRANSFERRED),)) is not None

    async def set_presence(self, agent: dict[str, Any], status: Any) -> None:
        if status not in ("online", "away", "offline"):
            raise ApiError(400, "invalid_presence", "status must be online, away or offline.")
        await self.store.agents.set_presence(agent["id"], status)
        await self.events.emit(PresenceChanged(agent["id"], status))

    async def stats(self) -> dict[str, Any]:
        now = time.time()
        since = start_of_day(now, self.settings.timezone)
        snap = await self.queue_snapshot()
        scores = await self.store.ratings.since(since)
        return shapes.stats(queue_figures(snap.ordered, now),
                            handoff_figures(await self.store.queue.handoffs_since(since)),
                            {"avg": mean(scores), "count": len(scores)}, snap.loads)
