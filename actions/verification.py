"""Identity verification before any order detail or change.

Two ways in: the website's logged-in customer (metadata ``customer_id``) owns the order,
or the customer names the order number and the last 4 digits of its phone
(``order_verification_form``). A verified order stays verified for the conversation
(slot ``verified_orders``). Three failed attempts hand the chat to a person
(``verification_failed``): four digits are guessable, a person is not.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, SlotSet, UserUtteranceReverted, UserUttered
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    HUMAN_BUTTON,
    ShopAction,
    bot_said,
    current_order_id,
    customer_id_of,
    intent_button,
    latest_intent,
    latest_text,
    previous_bot_action,
    user_message_ids,
    with_verified,
)
from actions.common import (
    service as order_service,
)
from bot.confirm import OFFER, is_fresh
from bot.dialogue import (
    MAX_VERIFY_ATTEMPTS,
    ORDER_ACTIONS,
    ORDER_TOPICS,
    asks_current_value,
    cannot_give_tail,
    faq_topic,
    general_answer,
    items_line,
    keeps_topic,
    means_another_order,
    order_by_goods,
    order_id_candidate,
    orders_by_goods,
    orders_of_kind_named,
    phone_tail_candidate,
    points_at_an_order,
    same_order_meant,
    selector_key,
    short_date,
    waits_within_promise,
)
from bot.orders.db import DatabaseUnavailable
from bot.orders.service import normalize_order_id

log = logging.getLogger(__name__)

# (topic, ask or act) -> what the customer wants done, for "请问您要…的是哪一笔订单？"
TOPIC_WORD = {
    "order_status": "查询",
    "logistics": "查询物流",
    "cancel_order": "取消",
    "modify_order": "修改",
    "refund": "申请退款",
    "return_exchange": "退换货",
    "invoice": "开发票",
}
ASK_WORD = {
    "cancel_order": "了解能否取消",
    "refund": "查询退款进度",
    "return_exchange": "了解能否退换",
    "invoice": "查询发票",
}
# orders a question is most likely about come first in the choice
RELEVANT_STATUS = {
    "refund": ("退款中", "已退款", "已取消"),
    "return_exchange": ("已签收",),
    "cancel_order": ("待付款", "待发货"),
    "modify_order": ("待付款", "待发货"),
    "logistics": ("已发货",),
}


def choice_word(topic: str, mode: str) -> str:
    return (ASK_WORD.get(topic) if mode == "ask" else None) or TOPIC_WORD.get(topic, "办理")


def order_choice_buttons(topic: str, orders: list[Any], mode: str = "act") -> list[dict[str, str]]:
    """One button per recent order, the relevant ones first; the payload repeats the same
    request (question or request alike) for that order."""
    relevant = RELEVANT_STATUS.get(topic, ())
    ranked = sorted(orders, key=lambda o: o.status not in relevant)
    return [
        intent_button(
            f"{short_date(o.created_at)} {items_line(o.items, 1)}（{o.status}）".strip(),
            topic, order_id=o.order_id, mode=mode,
        )
        for o in ranked
    ]


# below this the selector's pick is a draw ("那到底是哪天发呢" drew the missing-item answer at 0.25)
FAQ_KEY_SURE = 0.3


def faq_key_of(tracker: Tracker) -> str | None:
    """The FAQ answer the response selector picked for the latest message (it runs on every
    message, whatever the intent), unless it was a draw."""
    key, confidence = selector_key(tracker.latest_message)
    return key if confidence >= FAQ_KEY_SURE else None


def speech_act_of(tracker: Tracker) -> str:
    """"ask" or "act": a button says which; typed text has the parse's speech_act; a bare
    menu button is a request."""
    mode = next(tracker.get_latest_entity_values("mode"), None)
    if mode in ("ask", "act"):
        return mode
    signal = (tracker.latest_message or {}).get("speech_act")
    name = signal.get("name") if isinstance(signal, dict) else None
    return name if name in ("ask", "act") else "act"


# questions that, right after an answer about one order, are about that order
FOLLOW_TOPICS = frozenset({"order_status", "logistics"})


class ActionVerifyGate(ShopAction):
    """Decides whether an order request may go ahead now (``verification`` = verified),
    needs the form (needed), waits for the customer to pick an order (choose), or
    cannot be checked because the database is down (unavailable)."""

    def name(self) -> str:
        return "action_verify_gate"

    def when_db_down(self, dispatcher: CollectingDispatcher) -> list:
        dispatcher.utter_message(response="utter_db_down")
        return [SlotSet("verification", "unavailable"), SlotSet("next_step", None)]

    def work(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        intent = latest_intent(tracker)
        topic = intent if intent in ORDER_TOPICS else tracker.get_slot("topic")
        confidence = float(((tracker.latest_message or {}).get("intent") or {}).get("confidence", 1.0) or 0.0)
        if keeps_topic(intent, tracker.get_slot("topic"), latest_text(tracker), confidence):
            # "这是我老婆的单子" while asked for the phone tail says whose order it is; it does
            # not turn "到哪了" into a status question
            topic = tracker.get_slot("topic")
        mode = speech_act_of(tracker)
        events: list[dict[str, Any]] = [
            SlotSet("topic", topic), SlotSet("next_step", None), SlotSet("act_mode", mode)
        ]
        cid = customer_id_of(tracker)
        if cid and cid != tracker.get_slot("customer_id"):
            events.append(SlotSet("customer_id", cid))

        raw = tracker.get_slot("order_id")
        order_id = current_order_id(tracker)
        if raw and not order_id:
            dispatcher.utter_message(response="utter_bad_order_number")
            events.append(SlotSet("order_id", None))
        tail_now = tracker.get_latest_entity_values("phone_tail")
        tail = next(tail_now, None)
        # right after an answer about one order that offered its request ("需要为您申请吗？"),
        # "能换个新的吗" is about that order, not a general question
        offered = tracker.get_slot("pending")
        about_offer = is_fresh(offered, user_message_ids(tracker)) and offered.get("op") == OFFER
        # ... and so is a remark made while the bot asks for the phone tail ("这是我老婆的单子")
        verifying = (tracker.active_loop or {}).get("name") == "order_verification_form"
        # ... and so is "哪家快递公司送的" right after the bot showed one order
        about_shown = (intent in FOLLOW_TOPICS and order_id is not None and same_order_meant(latest_text(tracker))
                       and previous_bot_action(tracker) in ORDER_ACTIONS)
        if next(tracker.get_latest_entity_values("order_id"), None) is None and not (about_offer or verifying
                                                                                     or about_shown):
            faq_key = faq_key_of(tracker)
            answer = general_answer(topic, latest_text(tracker), mode, faq_key)
            if answer:
                response, answered_faq = answer
                dispatcher.utter_message(response=response)
                return [*events, SlotSet("verification", "answered"), SlotSet("last_faq", answered_faq)]

        try:
            svc = order_service()
            if order_id and order_id in (tracker.get_slot("verified_orders") or []):
                return [*events, SlotSet("verification", "verified")]
            if order_id and cid and svc.order_belongs_to(order_id, cid):
                return [
                    *events,
                    SlotSet("verification", "verified"),
                    SlotSet("verified_orders", with_verified(tracker, order_id)),
                ]
            if order_id and tail and svc.verify_phone_tail(order_id, tail):
                return [
                    *events,
                    SlotSet("verification", "verified"),
                    SlotSet("verified_orders", with_verified(tracker, order_id)),
                    SlotSet("verify_attempts", 0),
                ]
            if not order_id and cid:
                orders = svc.orders_of_customer(cid, limit=10)
                named = orders_by_goods(latest_text(tracker), [(o.order_id, o.items) for o in orders])
                if len(named) == 1:  # "我那件羽绒服到哪了": the one order whose goods are named
                    return reread(tracker, topic or "order_status", mode, named[0])
                # else the orders of those goods, or of the kind named ("那个预售的")
                meant = set(named or orders_of_kind_named(latest_text(tracker),
                                                          [(o.order_id, o.order_type) for o in orders]))
                orders = [o for o in orders if o.order_id in meant][:5]
                if orders:
                    dispatcher.utter_message(
                        response="utter_choose_order",
                        buttons=order_choice_buttons(topic or "order_status", orders, mode),
                        what=choice_word(topic or "", mode),
                    )
                    return [*events, SlotSet("verification", "choose")]
        except DatabaseUnavailable:
            dispatcher.utter_message(response="utter_db_down")
            return [*events, SlotSet("verification", "unavailable")]
        # the form asks for what is missing; a stale tail from another order must not count
        return [
            *events,
            SlotSet("verification", "needed"),
            SlotSet("phone_tail", tail),
            SlotSet("next_step", None),
        ]


def reread(tracker: Tracker, topic: str, mode: str, order_id: str | None) -> list[dict[str, Any]]:
    """The latest message logged anew as `topic` about `order_id` in `mode`, so the same rules
    verify and answer it. Done the way Rasa's two-stage fallback re-reads a clarified message:
    revert the user turn, log it anew."""
    latest = dict(tracker.latest_message or {})
    entities = [e for e in latest.get("entities") or [] if e.get("entity") not in ("mode", "order_id")]
    entities += [
        {"entity": "order_id", "value": order_id, "extractor": "reread"},
        {"entity": "mode", "value": mode, "extractor": "reread"},
    ]
    parse = {**latest, "intent": {"name": topic, "confidence": 1.0}, "entities": entities}
    message = UserUttered(latest.get("text"), parse_data=parse, input_channel=tracker.get_latest_input_channel())
    message["message_id"] = latest.get("message_id")
    message["metadata"] = latest.get("metadata") or {}
    return [UserUtteranceReverted(), ActionExecuted("action_listen"), message, SlotSet("order_id", order_id)]


class ActionPickOrder(Action):
    """A customer typed an order number instead of pressing one of the offered order buttons:
    the message is read again as the button would have sent it (the listed topic as its
    intent, the list's ask/act mode)."""

    def name(self) -> str:
        return "action_pick_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        topic = tracker.get_slot("topic") or "order_status"
        mode = tracker.get_slot("act_mode") or "act"
        return reread(tracker, topic, mode, order_id_candidate((tracker.latest_message or {}).get("text")))


class ActionApplyAnswer(Action):
    """"那2025061800006是不是已经过了" right after the return policy: the policy just answered,
    asked about that order (its return window from the order data). The message is read again
    as the policy's order topic, a question unless it asks for the change."""

    def name(self) -> str:
        return "action_apply_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        topic = faq_topic(tracker.get_slot("last_faq")) or "order_status"
        order_id = next(tracker.get_latest_entity_values("order_id"), None) or order_id_candidate(
            (tracker.latest_message or {}).get("text")
        )
        speech_act = ((tracker.latest_message or {}).get("speech_act") or {}).get("name")
        # the answer for this order is that policy's answer too: "那是退款还是补发啊" after the
        # missing-item rule applied to an order is still about that rule
        return [*reread(tracker, topic, "act" if speech_act == "act" else "ask", order_id),
                SlotSet("last_faq", tracker.get_slot("last_faq"))]


class ActionReadChange(Action):
    """"2025061800002收货电话换成13900001111" that the classifiers were unsure about: a change of
    an order field with its new value is a change request, read again as one (the card still
    asks before anything is written); "…寄到哪个地址的" is read again as the question it is."""

    def name(self) -> str:
        return "action_read_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        text = (tracker.latest_message or {}).get("text")
        mode = "ask" if asks_current_value(text) else "act"
        return reread(tracker, "modify_order", mode, order_id_candidate(text) or tracker.get_slot("order_id"))


class ActionRepickOrder(Action):
    """"不对 是另一单 可折叠收纳箱那个" right after an answer about one of a signed-in customer's
    orders: the order its goods name is read for the same topic and mode; without such a name the
    customer's other orders are offered to choose from (a typed number then picks, as a button)."""

    def name(self) -> str:
        return "action_repick_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._repick, dispatcher, tracker)

    @staticmethod
    def _repick(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
        topic = tracker.get_slot("topic") or "order_status"
        mode = tracker.get_slot("act_mode") or "ask"
        current = current_order_id(tracker)
        try:
            orders = [o for o in order_service().orders_of_customer(customer_id_of(tracker) or "", limit=10)
                      if o.order_id != current]
        except DatabaseUnavailable:
            dispatcher.utter_message(response="utter_db_down")
            return []
        named = order_by_goods(latest_text(tracker), [(o.order_id, o.items) for o in orders])
        if named:
            return reread(tracker, topic, mode, named)
        if not orders:
            dispatcher.utter_message(response="utter_ask_order_id")
            return [SlotSet("order_id", None)]
        dispatcher.utter_message(
            response="utter_choose_order", buttons=order_choice_buttons(topic, orders[:5], mode),
            what=choice_word(topic, mode),
        )
        return [SlotSet("order_id", None), SlotSet("verification", "choose")]


class ActionFollowOrder(Action):
    """"那我拒收可以吗" right after an answer about one order: the same order and topic, asked
    (or requested) again in the message's own mode."""

    def name(self) -> str:
        return "action_follow_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        speech_act = ((tracker.latest_message or {}).get("speech_act") or {}).get("name")
        topic = tracker.get_slot("topic") or "order_status"
        if waits_within_promise(latest_text(tracker), bot_said(tracker)):
            dispatcher.utter_message(response="utter_within_promise")
        return reread(tracker, topic, "act" if speech_act == "act" else "ask", tracker.get_slot("order_id"))


def _failed(
    dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, why: str
) -> dict[str, Any]:
    """Count a failed attempt; on the last one, ask the rules for a handoff."""
    attempts = int(tracker.get_slot("verify_attempts") or 0) + 1
    dispatcher.utter_message(response=f"utter_verify_{why}")
    if attempts >= MAX_VERIFY_ATTEMPTS:
        return {
            slot: None,
            "verify_attempts": 0,
            "handoff_reason": "verification_failed",
            "verification": "failed",
        }
    dispatcher.utter_message(response="utter_verify_retry", left=MAX_VERIFY_ATTEMPTS - attempts)
    return {slot: None, "verify_attempts": attempts}


def tries_an_order_number(text: str) -> bool:
    """Whether digits typed at "order number?" are a try at one (a digit slipped or missing:
    "202506180002"), not a remark with a number in it ("原来要满200才行"), which must not
    count against the customer's tries."""
    digits = sum(ch.isdigit() for ch in text)
    return digits >= 8 or (digits > 0 and not re.sub(r"[\d\s\-#:：.,，。]", "", text))


class ValidateOrderVerificationForm(FormValidationAction):
    """Checks order number and phone tail against the order database."""

    def name(self) -> str:
        return "validate_order_verification_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        # an empty list ends the form: verified, too many failures (handoff), DB down
        if tracker.get_slot("verification") in ("verified", "failed", "unavailable"):
            return []
        return domain_slots

    @staticmethod
    def _asked(tracker: Tracker, slot: str) -> bool:
        return tracker.get_slot("requested_slot") == slot and latest_intent(tracker) not in (
            "human_agent",
            "deny",
        )

    async def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Digits typed in answer to 'order number?' even when NLU saw no entity (so a
        12-digit typo is refused politely instead of ignored)."""
        if not self._asked(tracker, "order_id") or next(
            tracker.get_latest_entity_values("order_id"), None
        ):
            return {}
        text = latest_text(tracker)
        candidate = order_id_candidate(text)
        if candidate is None and tries_an_order_number(text):
            candidate = "".join(ch for ch in text if ch.isdigit())
        if candidate is None and points_at_an_order(text):
            # "就最近那个": the form asks for the number again (no try used), instead of
            # rejecting the message to the rule its intent draws ("好的。还有什么可以帮您？")
            return {"order_id": None}
        return {"order_id": candidate} if candidate else {}

    async def extract_phone_tail(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") == "phone_tail" and means_another_order(latest_text(tracker)):
            return {"phone_tail": None, "order_id": None}  # another order meant: its number comes next
        if not self._asked(tracker, "phone_tail") or next(
            tracker.get_latest_entity_values("phone_tail"), None
        ):
            return {}
        text = latest_text(tracker)
        tail = phone_tail_candidate(text)
        if tail is None and cannot_give_tail(text):
            # a husband ordering for his wife, a new phone: only a person can check otherwise
            dispatcher.utter_message(response="utter_verify_tail_unknown", buttons=[HUMAN_BUTTON])
            # the slot "set" keeps the form from rejecting the message to an intent's rule
            # (the password FAQ for "我忘了手机号了"): the form answers it and asks again
            return {"phone_tail": None}
        if tail is None and any(ch.isdigit() for ch in text):
            tail = "".join(ch for ch in text if ch.isdigit())[:8]
        return {"phone_tail": tail} if tail else {}

    async def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await asyncio.to_thread(self._check_order_id, value, dispatcher, tracker)

    def _check_order_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        if value is None:
            return {"order_id": None}  # taken back ("不是这个 我另一单"): asked again, no try used
        order_id = normalize_order_id(value) if isinstance(value, str) else None
        if order_id is None:
            return _failed(dispatcher, tracker, "order_id", "bad_order_id")
        try:
            svc = order_service()
            if svc.find_order(order_id) is None:
                # a courier waybill number pasted instead: the order it belongs to, verified the same
                order_id = svc.order_of_tracking_no(order_id)
                if order_id is None:
                    return _failed(dispatcher, tracker, "order_id", "unknown_order_id")
                dispatcher.utter_message(response="utter_waybill_order", order_id=order_id)
            cid = customer_id_of(tracker)
            if order_id in (tracker.get_slot("verified_orders") or []) or (
                cid and svc.order_belongs_to(order_id, cid)
            ):
                # already known to be theirs: no phone tail needed
                return {
                    "order_id": order_id,
                    "verification": "verified",
                    "verified_orders": with_verified(tracker, order_id),
                }
        except DatabaseUnavailable:
            dispatcher.utter_message(response="utter_db_down")
            return {"order_id": order_id, "verification": "unavailable"}
        return {"order_id": order_id}

    async def validate_phone_tail(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await asyncio.to_thread(self._check_phone_tail, value, dispatcher, tracker)

    def _check_phone_tail(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        order_id = current_order_id(tracker)
        if order_id is None:
            return {"phone_tail": None}  # order number comes first; asked next
        tail = value.strip() if isinstance(value, str) else ""
        if not tail and cannot_give_tail(latest_text(tracker)):
            return {"phone_tail": None}  # answered in extract_phone_tail; no try is used up
        if len(tail) != 4 or not tail.isdigit():
            return _failed(dispatcher, tracker, "phone_tail", "bad_tail")
        try:
            ok = order_service().verify_phone_tail(order_id, tail)
        except DatabaseUnavailable:
            dispatcher.utter_message(response="utter_db_down")
            return {"phone_tail": None, "verification": "unavailable"}
        if not ok:
            log.info("phone tail mismatch for order %s", order_id)
            return _failed(dispatcher, tracker, "phone_tail", "wrong_tail")
        dispatcher.utter_message(response="utter_verified")
        return {
            "phone_tail": tail,
            "verification": "verified",
            "verified_orders": with_verified(tracker, order_id),
            "verify_attempts": 0,
        }
