"""Shared pieces of the custom actions: the order service, reading the tracker, the
verification check, and the polite replies for errors.

Message metadata (set by the conversation hub on every user message):
    ``customer_id`` — the shop's id of a customer the website has already logged in
    ("C0001"); it is trusted because only the hub talks to Rasa. Orders of that customer
    need no further check. ``channel`` — "web" or "wechat" (informational here).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import wraps
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.confirm import yes_no
from bot.dialogue import (
    is_bare_pick,
    order_policy_question,
    price_protection_until,
    short_date,
    without_declined,
)
from bot.handoff import action_before_latest_message, bot_text_before_latest_message
from bot.orders.db import DatabaseUnavailable, database_url, get_engine
from bot.orders.service import OrderService, normalize_order_id

log = logging.getLogger(__name__)


_CUSTOMER_ID = re.compile(r"^C\d{1,15}$")
_services: dict[str, OrderService] = {}


def service() -> OrderService:
    """The order service on the current DATABASE_URL (one per URL, so tests can switch)."""
    url = database_url()
    svc = _services.get(url)
    if svc is None:
        svc = OrderService(get_engine(url))
        _services[url] = svc
    return svc


# ---------------------------------------------------------------- reading the tracker


def unless_unset(validate: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Skip a form validator for a slot that was only cleared, not filled.

    rasa_sdk validates every slot set since the last user message; the actions that open a
    form clear its slots first, and without this the customer would read three error
    messages before being asked the first question.
    """

    @wraps(validate)
    def wrapper(self: Any, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if value is None:
            return {}
        return validate(self, value, *args, **kwargs)

    return wrapper


_QUESTION = re.compile(r"[吗呢么嘛?？]\s*$|怎么|多少|多久|几天|什么时候|谁|是否|能不能|可不可以|有没有")
SIDE_QUESTION_CONFIDENCE = 0.5


def side_question(tracker: Tracker) -> str | None:
    """The FAQ key answering a question asked in the middle of a form ("对了，运费险是你们出吗"),
    or None when the message is an answer to the form."""
    text = latest_text(tracker)
    selector = ((tracker.latest_message or {}).get("response_selector") or {}).get("faq") or {}
    response = selector.get("response") or {}
    key = response.get("intent_response_key")
    if not key or float(response.get("confidence") or 0) < SIDE_QUESTION_CONFIDENCE:
        return None
    return key if _QUESTION.search(text) else None


_CLAUSE = re.compile(r"[\s,，。;；!！]+")


def value_before_question(text: str | None) -> str | None:
    """What precedes a trailing question ("<address> 这个地址能送到吗" → the address), or None."""
    clauses = [c for c in _CLAUSE.split((text or "").strip()) if c]
    if len(clauses) < 2 or not _QUESTION.search(clauses[-1]) or any(_QUESTION.search(c) for c in clauses[:-1]):
        return None
    return " ".join(clauses[:-1])


def answers_side_questions(slot: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """A form validator for `slot` that answers a policy question instead of taking it as the
    value; the form then asks for the value again."""

    def decorate(validate: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        @wraps(validate)
        def wrapper(self: Any, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                    *args: Any) -> dict[str, Any]:
            key = side_question(tracker)
            if key is None:
                return validate(self, value, dispatcher, tracker, *args)
            dispatcher.utter_message(response=f"utter_faq/{key.split('/', 1)[1]}")
            # "成都市武侯区天府大道200号 这个地址能送到吗": the value given before the question is
            # taken when it is a valid one; otherwise the form asks again, without an error
            stated = value_before_question(latest_text(tracker))
            taken = validate(self, stated, CollectingDispatcher(), tracker, *args) if stated else {}
            return taken if taken.get(slot) is not None else {slot: None}

        return wrapper

    return decorate


def slot_validator(
    slot: str, clean: Callable[[str], Any], error: str
) -> Callable[..., dict[str, Any]]:
    """A form validator: the cleaned value, or None and the response `error` told to the
    customer. `clean` is the order service's own check (bot.orders.values)."""

    @unless_unset
    @answers_side_questions(slot)
    def validate(self: Any, value: Any, dispatcher: CollectingDispatcher, *_: Any) -> dict[str, Any]:
        cleaned = clean(value if isinstance(value, str) else "")
        if cleaned is None:
            dispatcher.utter_message(response=error)
        return {slot: cleaned}

    return validate


def user_events(tracker: Tracker) -> list[dict[str, Any]]:
    """User messages of the conversation, oldest first."""
    return [e for e in tracker.events if e.get("event") == "user"]


def previous_bot_action(tracker: Tracker) -> str | None:
    """The bot's last action before the latest user message (the SDK's event dicts)."""
    return action_before_latest_message(
        (e.get("event") == "user", e.get("name") if e.get("event") == "action" else None)
        for e in reversed(tracker.events) if e.get("event") in ("user", "action")
    )


def bot_said(tracker: Tracker) -> str | None:
    """The bot's last message before the customer's latest one (the SDK's event dicts)."""
    return bot_text_before_latest_message(
        (e.get("event") == "user", e.get("text") if e.get("event") == "bot" else None)
        for e in reversed(tracker.events) if e.get("event") in ("user", "bot")
    )


def metadata_of(tracker: Tracker) -> dict[str, Any]:
    """Metadata of the latest user message, else of the session start."""
    for event in reversed(user_events(tracker)):
        meta = event.get("metadata")
        if isinstance(meta, dict) and meta:
            return meta
        break
    meta = tracker.latest_message.get("metadata") if tracker.latest_message else None
    if isinstance(meta, dict) and meta:
        return meta
    started = tracker.get_slot("session_started_metadata")
    return started if isinstance(started, dict) else {}


def customer_id_of(tracker: Tracker) -> str | None:
    """The logged-in customer: from this message's metadata, else remembered in the slot."""
    raw = metadata_of(tracker).get("customer_id") or tracker.get_slot("customer_id")
    return raw if isinstance(raw, str) and _CUSTOMER_ID.match(raw) else None


def latest_user_message_id(tracker: Tracker) -> str | None:
    """Id of the latest user message: a confirmation card remembers which message it answered."""
    events = user_events(tracker)
    return events[-1].get("message_id") if events else None


def user_message_ids(tracker: Tracker) -> list[str | None]:
    return [e.get("message_id") for e in user_events(tracker)]


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def latest_intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def latest_emotion(tracker: Tracker) -> str | None:
    emotion = (tracker.latest_message or {}).get("emotion")
    return emotion.get("name") if isinstance(emotion, dict) else None


def user_texts(tracker: Tracker) -> list[str]:
    return [e.get("text") or "" for e in user_events(tracker)]


def user_intents(tracker: Tracker) -> list[str | None]:
    return [((e.get("parse_data") or {}).get("intent") or {}).get("name") for e in user_events(tracker)]


def last_text_with_intent(tracker: Tracker, intents: tuple[str, ...]) -> str:
    """The customer's own words for the request (not the '1234' they typed afterwards, nor the
    order number picked from the offered list, which is read again as the request's topic).
    A request made while declining a card ("地址不改了 改收件人叫王芳") is the latest message."""
    if ran_this_turn(tracker, "action_confirm") and yes_no(latest_text(tracker)) == "no":
        return without_declined(latest_text(tracker))
    for event in reversed(user_events(tracker)):
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if name in intents and not is_bare_pick(event.get("text")):
            return event.get("text") or ""
    return latest_text(tracker)


_BARE_TAIL = re.compile(r"^\W*\d{4}\W*$")


def own_words(tracker: Tracker) -> str:
    """The customer's latest words that are more than a phone tail or a picked order number
    (after verification the question is the message before the tail)."""
    for text in reversed(user_texts(tracker)):
        if not _BARE_TAIL.match(text) and not is_bare_pick(text):
            return text
    return latest_text(tracker)


def ran_this_turn(tracker: Tracker, action: str) -> bool:
    """Whether `action` ran since the customer's latest message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") == action:
            return True
    return False


def current_order_id(tracker: Tracker) -> str | None:
    raw = tracker.get_slot("order_id")
    return normalize_order_id(raw) if isinstance(raw, str) else None


def verified_orders(tracker: Tracker) -> list[str]:
    value = tracker.get_slot("verified_orders")
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def with_verified(tracker: Tracker, order_id: str) -> list[str]:
    orders = verified_orders(tracker)
    return orders if order_id in orders else [*orders, order_id]


def is_verified(tracker: Tracker, order_id: str | None, svc: OrderService) -> bool:
    """Verified in this conversation (phone tail) or the logged-in customer owns it."""
    if not order_id:
        return False
    if order_id in verified_orders(tracker):
        return True
    cid = customer_id_of(tracker)
    return bool(cid) and svc.order_belongs_to(order_id, cid)


def verified_order(
    dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService
) -> str | None:
    """The order this request is about, if it may be shown; otherwise say why not.

    Every order action checks again, so no prediction path can reveal an unverified order."""
    order_id = current_order_id(tracker)
    if order_id and is_verified(tracker, order_id, svc):
        return order_id
    dispatcher.utter_message(response="utter_not_verified")
    return None


def vip_level_of(tracker: Tracker, svc: OrderService) -> int:
    """VIP level of the known customer (logged in, or owner of a verified order); 0 if unknown."""
    cid = customer_id_of(tracker)
    if cid:
        profile = svc.customer_profile(cid)
        if profile:
            return int(profile.get("vip_level") or 0)
    order_id = current_order_id(tracker)
    if order_id and order_id in verified_orders(tracker):
        view = svc.find_order(order_id)
        if view is not None:
            return int(view.vip_level or 0)
    return 0


def button(title: str, payload: str) -> dict[str, str]:
    return {"title": title, "payload": payload}


def intent_button(title: str, intent: str, **entities: str) -> dict[str, str]:
    """A button that sends `intent` with entities, e.g. the request behind a question's answer."""
    body = json.dumps(entities, ensure_ascii=False) if entities else ""
    return button(title, f"/{intent}{body}")


def act_mode(tracker: Tracker) -> str:
    """"ask" when the customer asked about the order, "act" when they asked for a change
    (set by the gate from the parse's speech_act or the button's mode)."""
    return "ask" if tracker.get_slot("act_mode") == "ask" else "act"


def goods_of(view: Any, limit: int = 3) -> str:
    return "、".join(view.items[:limit]) or "商品"


HUMAN_BUTTON = button("转人工", "/human_agent")


def reset_next_step() -> list[dict[str, Any]]:
    return [SlotSet("next_step", None)]


class ShopAction(Action, ABC):
    """A custom action whose work (database calls included) runs off the event loop, so one
    slow query does not hold up every other conversation on the action server; an
    unreachable order database becomes a polite answer and the conversation goes on."""

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    def work(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list: ...

    def when_db_down(self, dispatcher: CollectingDispatcher) -> list:
        dispatcher.utter_message(response="utter_db_down")
        return []

    def _guarded(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        try:
            return self.work(dispatcher, tracker, domain)
        except DatabaseUnavailable:
            log.warning("order database unavailable in %s", self.name())
            return self.when_db_down(dispatcher)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list:
        return await asyncio.to_thread(self._guarded, dispatcher, tracker, domain)


class OrderAction(ShopAction, ABC):
    """An action on one order the customer has proven is theirs.

    Checks verification (asking for it when missing), so each order action only says what
    it does with the order. Abstract, so the action server does not register the base class."""

    when_unverified: tuple[dict[str, Any], ...] = ()

    @abstractmethod
    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str
    ) -> list: ...

    def work(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        svc = service()
        order_id = verified_order(dispatcher, tracker, svc)
        if order_id is None:
            return list(self.when_unverified)
        policy = order_policy_question(own_words(tracker))
        if policy is not None:
            return answer_order_policy(dispatcher, svc, order_id, policy)
        return self.act(dispatcher, tracker, svc, order_id)


def answer_order_policy(dispatcher: CollectingDispatcher, svc: OrderService, order_id: str, question: str) -> list:
    """A shop rule applied to this order's dates ("买完降价了" → inside or past the 7-day price
    protection); nothing is offered that the bot would write."""
    view = svc.find_order(order_id)
    if view is None:
        dispatcher.utter_message(response="utter_order_not_found", order_id=order_id)
        return []
    if question == "coupon_back":
        dispatcher.utter_message(response="utter_coupon_back", order_id=order_id, status=view.status)
        return [SlotSet("last_faq", "faq/coupon")]
    if question == "deposit":
        name = "utter_presale_deposit" if view.order_type == "presale" else "utter_no_deposit"
        dispatcher.utter_message(response=name, order_id=order_id, status=view.status, amount=f"{view.total:.2f}")
        return []
    until = price_protection_until(view.paid_at)
    if until is None:
        dispatcher.utter_message(response="utter_price_protection_unpaid", order_id=order_id)
        return []
    name = "utter_price_protection_open" if svc.now() <= until else "utter_price_protection_closed"
    dispatcher.utter_message(response=name, order_id=order_id, paid=short_date(view.paid_at),
                             deadline=short_date(until), buttons=[HUMAN_BUTTON])
    # "过了七天也不行？" next leans on this rule, as on the FAQ's answer
    return [SlotSet("last_faq", "faq/price_protection")]


class AskOrActAction(OrderAction, ABC):
    """An order topic with a question and a request form: "ask" answers from the data, "act"
    shows the confirmation card. `respond` takes the form explicitly, so a yes to a question's
    offer (action_confirm) can show the request's card."""

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str
    ) -> list:
        return self.respond(dispatcher, tracker, svc, order_id, act_mode(tracker))

    @abstractmethod
    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str, mode: str
    ) -> list: ...
