"""``action_confirm``: the only action that changes shop data.

It runs when the dialogue policy saw a yes or no in the message right after a confirmation
card (bot.confirm). It checks again that the card is fresh, that the answer is a yes and that
the order is still the customer's, then carries out exactly the change the card showed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.aftersales import ActionRefund, ActionReturnExchange, refund_variables
from actions.common import (
    ShopAction,
    is_verified,
    latest_intent,
    latest_text,
    service,
    user_message_ids,
)
from actions.orders import ActionCancelOrder, form_closed, invoice_card, modify_card
from actions.verification import reread
from bot.confirm import OFFER, card_answer, is_fresh
from bot.dialogue import (
    MODIFY_FIELDS,
    OP_INTENT,
    aside_response,
    card_aside,
    find_email,
    leaves_form_for,
    mask_email,
    mask_value,
    same_for_another,
    short_date,
    switched_request,
    yes_then_other_order,
    yes_then_request,
)
from bot.orders.service import OrderService, Outcome

# refusal codes every operation can meet -> response (the order changed since the card)
COMMON_REFUSALS = {
    "not_found": "utter_order_not_found",
    "already_shipped": "utter_changed_meanwhile",
    "already_cancelled": "utter_changed_meanwhile",
    "refund_exists": "utter_changed_meanwhile",
    "conflict": "utter_changed_meanwhile",
    "invoice_exists": "utter_invoice_exists",
    "exchange_exists": "utter_exchange_exists",
    "invalid_input": "utter_change_invalid",
}


def _cancel(svc: OrderService, order_id: str, args: dict[str, Any]) -> Outcome:
    return svc.cancel_order(order_id, reason=args.get("reason") or "取消订单")


def _refund(svc: OrderService, order_id: str, args: dict[str, Any]) -> Outcome:
    return svc.request_refund(order_id, reason=args.get("reason") or "申请退款")


def _return(svc: OrderService, order_id: str, args: dict[str, Any]) -> Outcome:
    return svc.request_refund(order_id, reason=f"7天无理由退货：{args.get('reason') or ''}"[:200])


def _exchange(svc: OrderService, order_id: str, args: dict[str, Any]) -> Outcome:
    return svc.request_exchange(order_id, reason=args.get("reason") or "换货")


def _modify(svc: OrderService, order_id: str, args: dict[str, Any]) -> Outcome:
    field = args.get("field")
    if field not in MODIFY_FIELDS:
        return Outcome(ok=False, code="invalid_input")
    return svc.modify_order(order_id, **{field: args.get("value")})


def _invoice(svc: OrderService, order_id: str, args: dict[str, Any]) -> Outcome:
    return svc.request_invoice(order_id, args.get("title") or "", tax_id=args.get("tax_id"), email=args.get("email"))


OPERATIONS: dict[str, Callable[[OrderService, str, dict[str, Any]], Outcome]] = {
    "cancel": _cancel,
    "refund": _refund,
    "return": _return,
    "exchange": _exchange,
    "modify": _modify,
    "invoice": _invoice,
}


def done_response(op: str, order_id: str, outcome: Outcome, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The response telling what was done, with its variables."""
    d = outcome.data
    if op == "cancel":
        if d.get("refund_id"):
            return "utter_cancel_done_refund", refund_variables(order_id, d)
        return "utter_cancel_done", {"order_id": order_id}
    if op in ("refund", "return"):
        deadline = short_date(d.get("deadline")) or args.get("deadline", "")
        name = "utter_refund_filed" if op == "refund" else "utter_return_filed"
        return name, {**refund_variables(order_id, d), "deadline": deadline}
    if op == "exchange":
        deadline = short_date(d.get("deadline")) or args.get("deadline", "")
        return "utter_exchange_filed", {"order_id": order_id, "deadline": deadline,
                                        "exchange_id": d.get("exchange_id", "")}
    if op == "modify":
        field = args.get("field", "address")
        name = "utter_modify_no_change" if outcome.code == "no_change" else "utter_modify_done"
        return name, {"order_id": order_id, "label": MODIFY_FIELDS.get(field, ""),
                      "value": mask_value(field, args.get("value") or "")}
    return "utter_invoice_filed", {"order_id": order_id, "invoice_id": d.get("invoice_id", ""),
                                   "title": args.get("title", ""), "email": mask_email(args.get("email") or "")}


def take_offer(
    dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str, intent: Any
) -> list:
    """A yes to "需要为您申请吗？", or another request made while declining a card: the
    request's own confirmation card (never the change itself).
    The invoice request and an order change first need their form, which their action starts."""
    events = [SlotSet("pending", None), SlotSet("act_mode", "act"), SlotSet("topic", intent),
              SlotSet("order_id", order_id)]
    # these requests first ask for details in a form, which their action starts
    if intent in FORM_FIRST:
        return [*events, FollowupAction(FORM_FIRST[intent])]
    action = OFFERED.get(intent)
    if action is None:
        return events
    return [*events, *action.respond(dispatcher, tracker, svc, order_id, "act")]


class ActionCardAside(ShopAction):
    """A word aside at a card that stays open: the exchange wish it records ("换个大号的"), a
    wait, or a question about the change answered by the shop's rule; then the same card
    again, waiting for its yes in the next message. Nothing is written here."""

    def name(self) -> str:
        return "action_card_aside"

    def work(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        pending = tracker.get_slot("pending")
        kind = card_aside(pending, latest_text(tracker), tracker.latest_message) \
            if is_fresh(pending, user_message_ids(tracker)) else None
        svc = service()
        order_id = (pending or {}).get("order_id") or ""
        if kind is None or not is_verified(tracker, order_id, svc):
            dispatcher.utter_message(response="utter_nothing_pending")
            return [SlotSet("pending", None)]
        op, args = pending["op"], dict(pending.get("args") or {})
        if kind in ("detail", "quality"):
            args["reason"] = f"{args.get('reason') or ''}；{latest_text(tracker)}".strip("；")[:200]
        if kind == "email":
            args["email"] = find_email(latest_text(tracker))
        answer = aside_response(kind, op, tracker.latest_message)
        if answer:
            view = svc.find_order(order_id)
            dispatcher.utter_message(response=answer, order_id=order_id, status=view.status if view else "")
        events = CARDS[op](dispatcher, tracker, svc, order_id, args)
        return [SlotSet(e["name"], _with_args(e["value"], args)) if e.get("name") == "pending" else e
                for e in events]


def _with_args(pending: Any, args: dict[str, Any]) -> Any:
    """The card shown again keeps what the customer added to it (the exchange wish)."""
    if isinstance(pending, dict) and pending.get("op") in ("return", "exchange") and args.get("reason"):
        return {**pending, "args": {**pending.get("args", {}), "reason": args["reason"]}}
    return pending


# each card shown again from its pending change: (dispatcher, tracker, service, order, args) -> events
CARDS: dict[str, Callable[..., list]] = {
    "cancel": lambda d, t, svc, oid, _: ActionCancelOrder().respond(d, t, svc, oid, "act"),
    "refund": lambda d, t, svc, oid, _: ActionRefund().respond(d, t, svc, oid, "act"),
    "return": lambda d, t, svc, oid, a: ActionReturnExchange().respond(d, t, svc, oid, "act", card="return",
                                                                         reason=a.get("reason")),
    "exchange": lambda d, t, svc, oid, _: ActionReturnExchange().respond(d, t, svc, oid, "act", card="exchange"),
    "modify": lambda d, t, svc, oid, a: modify_card(d, t, svc, oid, a.get("field"), a.get("value")),
    "invoice": lambda d, t, svc, oid, a: invoice_card(d, t, oid, a.get("title"), a.get("tax_id"), a.get("email")),
}


FORM_FIRST = {"invoice": "action_invoice", "modify_order": "action_modify_order"}
OFFERED = {"cancel_order": ActionCancelOrder(), "refund": ActionRefund(), "return_exchange": ActionReturnExchange()}


class ActionSwitchRequest(ShopAction):
    """Another request made while dropping a form ("发票不开了 帮我退款"): the form ends with
    nothing filed, and the other request shows its own card (or form)."""

    def name(self) -> str:
        return "action_switch_request"

    def work(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        form = tracker.active_loop.get("name")
        intent = leaves_form_for(form, latest_text(tracker))
        closed = form_closed(form)
        order_id = tracker.get_slot("order_id") or ""
        svc = service()
        if intent is None or not order_id or not is_verified(tracker, order_id, svc):
            dispatcher.utter_message(response="utter_deny")
            return closed
        dispatcher.utter_message(response="utter_change_switched", order_id=order_id)
        return [*closed, *take_offer(dispatcher, tracker, svc, order_id, intent)]


class ActionCardOtherOrder(Action):
    """"另外一单2025061800005也要退" at a card: the card lapses unfilled (it is said so), and the
    message is read again as the same request for the other order, which shows its own card."""

    def name(self) -> str:
        return "action_card_other_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        pending = tracker.get_slot("pending")
        other = same_for_another(pending, latest_text(tracker))
        if not other:
            dispatcher.utter_message(response="utter_nothing_pending")
            return [SlotSet("pending", None)]
        dispatcher.utter_message(response="utter_card_left_for_other", order_id=pending.get("order_id"), other=other)
        return [*reread(tracker, OP_INTENT[pending["op"]], "act", other), SlotSet("pending", None)]


class ActionConfirm(ShopAction):
    def name(self) -> str:
        return "action_confirm"

    def work(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        pending = tracker.get_slot("pending")
        done = [SlotSet("pending", None)]
        if not is_fresh(pending, user_message_ids(tracker)):
            dispatcher.utter_message(response="utter_nothing_pending")
            return done
        op, order_id, args = pending["op"], pending.get("order_id") or "", pending.get("args") or {}
        answer = card_answer(pending, latest_text(tracker), latest_intent(tracker))
        # "对 改吧 另外电话也改成…": this card's yes, then the other request's own card
        also = yes_then_request(pending, latest_text(tracker)) if answer is None else None
        # "确认 另外2025061800005也退": this card's yes, then the same request for that order
        other = yes_then_other_order(pending, latest_text(tracker)) if answer is None else None
        answer = "yes" if also or other else answer
        switch = switched_request(pending, latest_text(tracker)) if answer == "no" else None
        if answer != "yes" and not switch:
            dispatcher.utter_message(response="utter_change_dropped", order_id=order_id)
            return done
        svc = service()
        if not is_verified(tracker, order_id, svc):
            dispatcher.utter_message(response="utter_not_verified")
            return done
        if switch:
            # "不要退款了 直接帮我取消订单": this card lapses, the other request shows its own
            dispatcher.utter_message(response="utter_change_switched", order_id=order_id)
            return take_offer(dispatcher, tracker, svc, order_id, switch)
        if op == OFFER:
            return take_offer(dispatcher, tracker, svc, order_id, args.get("intent"))
        outcome = OPERATIONS[op](svc, order_id, args)
        if outcome.ok:
            name, variables = done_response(op, order_id, outcome, args)
        else:
            name = COMMON_REFUSALS.get(outcome.code, "utter_change_refused")
            variables = {"order_id": order_id, "status": outcome.data.get("status", ""),
                         "invoice_id": outcome.data.get("invoice_id", "")}
        dispatcher.utter_message(response=name, **variables)
        if also and outcome.ok:
            return [*done, *take_offer(dispatcher, tracker, svc, order_id, also)]
        if other and outcome.ok:
            return [*reread(tracker, OP_INTENT[op], "act", other), *done]
        return done
