"""After-sales actions: refunds, returns and exchanges, the complaint record, and payment /
account problems (urgent ones go straight to a person).

A question ("退款到哪了", "还能退货吗") is answered from the order data and changes nothing;
a request shows one confirmation card and leaves the change to ``action_confirm``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    AskOrActAction,
    ShopAction,
    bot_said,
    current_order_id,
    goods_of,
    intent_button,
    last_text_with_intent,
    latest_text,
    latest_user_message_id,
    service,
    user_texts,
)
from actions.orders import find_or_say, offer
from bot.confirm import make_pending, wants_exchange
from bot.dialogue import quality_reason, short_date, wants_withdrawal
from bot.handoff import urgent_in_recent
from bot.orders.service import OrderService, refund_refusal


def refund_timing(order_type: str) -> str:
    """The promise the shop makes: 72 h ordinary, 15 working days pre-sale."""
    return "15个工作日内" if order_type == "presale" else "72小时内"


def order_kind(order_type: str) -> str:
    return "预售订单" if order_type == "presale" else "普通订单"


def refund_variables(order_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Variables of the refund responses from the service's refund data."""
    order_type = data.get("order_type", "normal")
    return {
        "order_id": order_id,
        "refund_id": data.get("refund_id") or "",
        "amount": f"{float(data.get('amount') or 0):.2f}",
        "kind": order_kind(order_type),
        "timing": refund_timing(order_type),
        "eta": (data.get("expected_by_local") or "")[:10],
    }


# refusal code of the order service -> response
REFUND_REFUSED = {
    "not_paid": "utter_refund_not_paid",
    "already_cancelled": "utter_refund_cancelled",
    "window_expired": "utter_refund_window_expired",
}


class ActionRefund(AskOrActAction):
    """Refund progress for a question (the return window for delivered goods); the
    confirmation card for a request."""

    def name(self) -> str:
        return "action_refund"

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str, mode: str
    ) -> list:
        view = find_or_say(dispatcher, svc, order_id)
        if view is None:
            return [SlotSet("order_id", None)]
        existing = svc.refund_of(order_id) if view.status in ("退款中", "已退款", "已取消") else None
        if existing is not None:
            name = "utter_refund_completed" if existing.get("status") == "已退款" else "utter_refund_progress"
            if name == "utter_refund_progress" and wants_withdrawal(latest_text(tracker)):
                name = "utter_refund_withdraw"  # the bot cannot call a refund back: a person can
            dispatcher.utter_message(response=name, **refund_variables(order_id, existing))
            return [SlotSet("pending", None)]
        if mode == "ask" and view.status == "已签收":
            # money back for delivered goods means sending them back: "这个还能退吗 没拆"
            # is answered with the return window (open until when, or closed since when)
            return ActionReturnExchange().respond(dispatcher, tracker, svc, order_id, "ask")
        if view.status == "已取消" and view.paid_at is None:
            dispatcher.utter_message(response="utter_refund_never_paid", order_id=order_id)
            return [SlotSet("pending", None)]
        refusal = refund_refusal(view.status, view.delivered_at, svc.now())
        variables = {
            **refund_variables(order_id, {"amount": view.total, "order_type": view.order_type}),
            "goods": goods_of(view), "status": view.status,
        }
        if refusal is not None:
            dispatcher.utter_message(response=REFUND_REFUSED.get(refusal, "utter_refund_refused"), **variables)
            return [SlotSet("pending", None)]
        if mode == "ask":
            dispatcher.utter_message(
                response="utter_refund_none",
                buttons=[intent_button("申请退款", "refund", order_id=order_id, mode="act")],
                **variables,
            )
            return [SlotSet("pending", offer("refund", order_id, tracker))]
        dispatcher.utter_message(response="utter_confirm_refund", **variables)
        reason = last_text_with_intent(tracker, ("refund",))[:200]
        pending = make_pending("refund", order_id, latest_user_message_id(tracker), reason=reason)
        return [SlotSet("pending", pending)]


RETURN_REFUSED = {
    "window_expired": "utter_return_window_expired",
    "not_delivered": "utter_return_not_delivered",
    "refund_exists": "utter_return_refund_exists",
    "exchange_exists": "utter_exchange_exists",
    "already_cancelled": "utter_return_cancelled",
    "not_found": "utter_order_not_found",
}


class ActionReturnExchange(AskOrActAction):
    """7-day no-reason returns and exchanges: eligibility (with the deadline, or the day the
    window closed) for a question; the confirmation card for a request."""

    def name(self) -> str:
        return "action_return_exchange"

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str, mode: str,
        card: str | None = None, reason: str | None = None,
    ) -> list:
        """`card` ("return"/"exchange") shows that card again whatever the latest words say,
        `reason` with what the customer has added to it; a fault named makes it a quality return."""
        outcome = svc.return_eligibility(order_id)
        d = outcome.data
        variables = {
            "order_id": order_id,
            "status": d.get("status", ""),
            "delivered": short_date(d.get("delivered_at")),
            "deadline": short_date(d.get("deadline")),
        }
        if not outcome.ok:
            dispatcher.utter_message(response=RETURN_REFUSED.get(outcome.code, "utter_return_refused"), **variables)
            return [SlotSet("pending", None)]
        request = last_text_with_intent(tracker, ("return_exchange",))
        exchange = wants_exchange(request) or wants_exchange(latest_text(tracker))
        if mode == "ask":
            dispatcher.utter_message(
                response="utter_return_eligible",
                buttons=[
                    intent_button("申请退货", "return_exchange", order_id=order_id, mode="act"),
                    intent_button("申请换货", "return_exchange", order_id=order_id, mode="act", kind="exchange"),
                ],
                **variables,
            )
            return [SlotSet("pending", offer("return_exchange", order_id, tracker))]
        exchange = exchange or next(tracker.get_latest_entity_values("kind"), None) == "exchange"
        if card is not None:
            exchange = card == "exchange"
        view = svc.find_order(order_id)
        variables.update(
            goods=goods_of(view) if view else "商品",
            **{k: v for k, v in refund_variables(
                order_id, {"amount": view.total if view else 0, "order_type": view.order_type if view else "normal"}
            ).items() if k in ("amount", "timing")},
        )
        op = "exchange" if exchange else "return"
        reason = (reason or request)[:200]
        quality = op == "return" and quality_reason(reason)
        dispatcher.utter_message(response=f"utter_confirm_{op}{'_quality' if quality else ''}", **variables)
        pending = make_pending(
            op, order_id, latest_user_message_id(tracker), reason=reason, deadline=variables["deadline"]
        )
        return [SlotSet("pending", pending)]


class ActionFileComplaint(ShopAction):
    """Writes the complaint (the customer's own words) and tells its id; the customer chose
    this on the complaint card's button."""

    def name(self) -> str:
        return "action_file_complaint"

    def when_db_down(self, dispatcher: CollectingDispatcher) -> list:
        dispatcher.utter_message(response="utter_complaint_not_filed")
        return []

    def work(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        text = last_text_with_intent(tracker, ("complaint",))
        cid = service().file_complaint(tracker.sender_id, text, order_id=current_order_id(tracker))
        dispatcher.utter_message(response="utter_complaint_filed", complaint_id=cid)
        return []


class _TriageAction(ShopAction, ABC):
    """Urgent kinds (stolen account, double charge, money taken by a failed payment)
    ask the rules for an immediate handoff; ordinary kinds get self-service help.
    Abstract, so the action server does not register the base class."""

    self_help = ""

    @abstractmethod
    def name(self) -> str: ...

    def work(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        if urgent_in_recent(user_texts(tracker)[-2:], bot_said(tracker)):
            return [SlotSet("handoff_reason", "urgent"), SlotSet("next_step", "handoff")]
        dispatcher.utter_message(response=self.self_help)
        return [SlotSet("next_step", None)]


class ActionPaymentIssue(_TriageAction):
    self_help = "utter_payment_issue_self_help"

    def name(self) -> str:
        return "action_payment_issue"


class ActionAccountIssue(_TriageAction):
    self_help = "utter_account_issue_self_help"

    def name(self) -> str:
        return "action_account_issue"
