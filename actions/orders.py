"""Order actions: status, logistics, cancel, change of delivery details, invoice,
promotions. Thin: the data and the business rules live in bot.orders.service, the wording in
domain.yml; these pick the response for the outcome.

A question ("还能取消吗", "发票开了没有") is answered from the data and changes nothing; a
request shows one confirmation card and stores the change in ``pending`` for
``action_confirm`` (actions/confirm.py) — nothing here writes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    HUMAN_BUTTON,
    AskOrActAction,
    OrderAction,
    ShopAction,
    act_mode,
    answers_side_questions,
    customer_id_of,
    goods_of,
    intent_button,
    last_text_with_intent,
    latest_text,
    latest_user_message_id,
    own_words,
    service,
    side_question,
    unless_unset,
    verified_order,
)
from bot.confirm import OFFER, make_pending, new_value_text, stated_new_value
from bot.dialogue import (
    MODIFY_FIELDS,
    asks_about_money,
    asks_current_value,
    clean_email,
    clean_invoice_title,
    clean_new_value,
    clean_tax_id,
    corrected_change,
    delivery_days,
    detail_named,
    detect_modify_field,
    drops_the_request,
    find_email,
    find_invoice_title,
    find_tax_id,
    invoice_details,
    is_bare_pick,
    is_personal_title,
    is_question,
    items_line,
    mask_email,
    mask_value,
    mobile_in,
    promotion_named,
    promotion_of,
    reports_missing_goods,
    short_date,
    short_time,
    wants_special_invoice,
    without_details,
)
from bot.orders.service import CANCELLABLE, OrderService, return_deadline

# order status -> the suffix of its status response (utter_order_status_<code>)
STATUS_CODE = {
    "待付款": "pending_payment",
    "待发货": "paid",
    "已发货": "shipped",
    "已签收": "delivered",
    "已取消": "cancelled",
    "退款中": "refunding",
    "已退款": "refunded",
}


def status_response(view: Any, exchange: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The response and its variables for an order's status (结论 + 原因 + 下一步); a delivered
    order with an open exchange (``svc.exchange_of``) says so instead of offering a return."""
    code = STATUS_CODE.get(view.status, "other")
    if code == "paid" and view.order_type == "presale":
        code = "paid_presale"  # a pre-sale ships on the date its page promised, not in 48 h
    variables = {
        "order_id": view.order_id,
        "goods": items_line(view.items),
        "status": view.status,
        "carrier": view.carrier or "快递",
        "tracking_no": view.tracking_no or "暂无",
        "delivered": short_date(view.delivered_at),
    }
    if code == "delivered" and exchange and exchange.get("open") and view.delivered_at is not None:
        return "utter_order_status_exchanging", {
            **variables, "exchange_id": exchange["exchange_id"], "exchange_status": exchange["exchange_status"],
            "deadline": short_date(return_deadline(view.delivered_at)),
        }
    return f"utter_order_status_{code}", variables


def offer(intent: str, order_id: str, tracker: Tracker) -> dict[str, Any]:
    """A question's answer that offers the request: a yes in the next message shows its card."""
    return make_pending(OFFER, order_id, latest_user_message_id(tracker), intent=intent)


def find_or_say(dispatcher: CollectingDispatcher, svc: OrderService, order_id: str) -> Any:
    """The order, or None after telling the customer it was not found."""
    view = svc.find_order(order_id)
    if view is None:
        dispatcher.utter_message(response="utter_order_not_found")
    return view


MISSING_ITEM_FAQ = "faq/missing_item"


def missing_goods_answer(dispatcher: CollectingDispatcher, tracker: Tracker, view: Any) -> list | None:
    """A delivered order asked about with goods missing, wrong or broken ("包裹里少了一个收纳箱")
    gets the after-sales answer (photos, resend or refund, a person), not its tracking."""
    said = (last_text_with_intent(tracker, ("logistics", "order_status")), own_words(tracker))
    if view.status != "已签收" or not any(reports_missing_goods(text) for text in said):
        return None  # (own_words: "收到的东西碎了" then the order number alone)
    dispatcher.utter_message(response="utter_faq/missing_item")
    return [SlotSet("last_faq", MISSING_ITEM_FAQ)]


class ActionOrderStatus(OrderAction):
    def name(self) -> str:
        return "action_order_status"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str
    ) -> list:
        view = find_or_say(dispatcher, svc, order_id)
        if view is None:
            return [SlotSet("order_id", None)]
        missing = missing_goods_answer(dispatcher, tracker, view)
        if missing is not None:
            return missing
        exchange = svc.exchange_of(order_id) if view.status == "已签收" else None
        response, variables = status_response(view, exchange)
        dispatcher.utter_message(response=response, **variables)
        return []


def arrival_estimate(shipped_at: Any, address: str | None) -> dict[str, Any]:
    """When a shipped parcel should arrive, by the delivery times the shop promises for the
    address's region (江浙沪 1–2 days, most provinces 2–4, remote regions 5–10)."""
    days = delivery_days(address)
    return {"days": days, "eta": short_date(shipped_at + timedelta(days=days)) if shipped_at else ""}


def tracking_response(view: Any, events: list[Any]) -> tuple[str, dict[str, Any]]:
    """The newest courier events first, or why there are none yet."""
    base = {"order_id": view.order_id, "status": view.status}
    if view.status == "待发货":
        return ("utter_logistics_presale_not_shipped" if view.order_type == "presale"
                else "utter_logistics_not_shipped"), base
    if view.status == "待付款":
        return "utter_logistics_unpaid", base
    if not events:
        return "utter_logistics_none", base
    lines = "\n".join(f"{short_time(e.time)} {e.location} {e.description}".strip() for e in events[:3])
    name = "utter_logistics_delivered" if view.status == "已签收" else "utter_logistics"
    return name, {
        **base,
        "delivered": short_date(view.delivered_at),
        "carrier": view.carrier or "快递",
        "tracking_no": view.tracking_no or "暂无",
        "events": lines,
        **arrival_estimate(view.shipped_at, view.address_masked),
    }


class ActionLogistics(OrderAction):
    def name(self) -> str:
        return "action_logistics"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str
    ) -> list:
        view = find_or_say(dispatcher, svc, order_id)
        if view is None:
            return [SlotSet("order_id", None)]
        missing = missing_goods_answer(dispatcher, tracker, view)
        if missing is not None:
            return missing
        response, variables = tracking_response(view, svc.tracking(order_id, limit=3))
        dispatcher.utter_message(response=response, **variables)
        return []


def refund_note(view: Any) -> str:
    return "已付款项将原路退回。" if view.status == "待发货" else ""


class ActionCancelOrder(AskOrActAction):
    """A question about cancelling is answered (can it still be cancelled, and why); a request
    shows the confirmation card. Cancelling cannot be undone: only ``action_confirm`` writes."""

    def name(self) -> str:
        return "action_cancel_order"

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str, mode: str
    ) -> list:
        view = find_or_say(dispatcher, svc, order_id)
        if view is None:
            return [SlotSet("order_id", None)]
        variables = {"order_id": order_id, "status": view.status, "goods": goods_of(view),
                     "amount": f"{view.total:.2f}", "refund_note": refund_note(view)}
        if view.status == "已取消" and asks_about_money(latest_text(tracker)):
            # "2025061800007 取消了钱退了吗": the refund of the cancelled order, or that none was paid
            from actions.aftersales import ActionRefund  # aftersales imports this module

            return ActionRefund().respond(dispatcher, tracker, svc, order_id, "ask")
        if view.status not in CANCELLABLE:
            name = {
                "已发货": "utter_cancel_shipped",
                "已签收": "utter_cancel_delivered",
                "已取消": "utter_cancel_already",
            }.get(view.status, "utter_cancel_refused")
            dispatcher.utter_message(response=name, **variables)
            # delivered: the answer offers the return ("好 那我退货" shows the return's card)
            return [SlotSet("pending", offer("return_exchange", order_id, tracker)
                            if view.status == "已签收" else None)]
        if mode == "ask":
            dispatcher.utter_message(
                response="utter_cancel_possible",
                buttons=[intent_button("取消这笔订单", "cancel_order", order_id=order_id, mode="act")],
                **variables,
            )
            return [SlotSet("pending", offer("cancel_order", order_id, tracker))]
        reason = last_text_with_intent(tracker, ("cancel_order",))[:200]
        dispatcher.utter_message(response="utter_confirm_cancel", **variables)
        pending = make_pending("cancel", order_id, latest_user_message_id(tracker), reason=reason)
        return [SlotSet("pending", pending)]


# ------------------------------------------------------------------ modify order


class ActionModifyOrder(AskOrActAction):
    """Checks that the order can still be changed. A question ("还来得及改地址吗") is answered
    and offers the change; a request starts the modify form (``next_step`` = modify_form),
    with field and new value taken from the request if it names them ("把地址改成…" goes
    straight to the confirmation card)."""

    def name(self) -> str:
        return "action_modify_order"

    when_unverified = (SlotSet("next_step", None),)

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str, mode: str
    ) -> list:
        view = find_or_say(dispatcher, svc, order_id)
        if view is None:
            return [SlotSet("next_step", None), SlotSet("order_id", None)]
        request = last_text_with_intent(tracker, ("modify_order",))
        field = detect_modify_field(request)
        stated = stated_new_value(request)
        value = clean_new_value(field, stated) if field and stated else None
        if value is None and field == "phone":
            value = clean_new_value(field, mobile_in(request))  # "改电话 13900001111"
        if mode == "ask" and value is None and asks_current_value(request):
            # "寄到哪个地址的" is answered whatever the order's state ("退款中" orders too)
            return self._current_value(dispatcher, tracker, svc, view, field or "address")
        if view.status in ("已发货", "已签收"):
            dispatcher.utter_message(response="utter_modify_shipped", order_id=order_id)
            return [SlotSet("next_step", None)]
        if view.status not in ("待付款", "待发货"):
            dispatcher.utter_message(response="utter_modify_refused", order_id=order_id, status=view.status)
            return [SlotSet("next_step", None)]
        if mode == "ask" and value is None and is_question(request):
            dispatcher.utter_message(
                response="utter_modify_possible",
                buttons=[intent_button("修改收货信息", "modify_order", order_id=order_id, mode="act")],
                order_id=order_id, status=view.status, label=MODIFY_FIELDS.get(field or "", "收货信息"),
            )
            return [SlotSet("next_step", None), SlotSet("pending", offer("modify_order", order_id, tracker))]
        return [
            SlotSet("next_step", "modify_form"),
            SlotSet("modify_field", field),
            SlotSet("modify_value", value),
            SlotSet("pending", None),
        ]

    @staticmethod
    def _current_value(dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService,
                       view: Any, field: str) -> list:
        """The order's delivery detail asked about: in full for the signed-in owner, masked
        for a customer verified by phone tail. The change is a button, never a pending yes:
        "对的 没问题" after it confirms the address, not a change."""
        details = svc.delivery_details(view.order_id, customer_id_of(tracker))
        masked = {"address": view.address_masked, "phone": view.phone_masked, "receiver_name": "（为保护隐私不显示）"}
        value = details[field] if details else masked[field]
        dispatcher.utter_message(
            response="utter_modify_current", order_id=view.order_id, label=MODIFY_FIELDS[field],
            value=mask_value(field, value) if field == "phone" else value,
            # the change is offered only while it can still be made
            buttons=[intent_button("修改收货信息", "modify_order", order_id=view.order_id, mode="act")]
            if view.status in ("待付款", "待发货") else [],
        )
        return [SlotSet("next_step", None)]


ASK_VALUE = {
    "address": "utter_ask_new_address",
    "phone": "utter_ask_new_phone",
    "receiver_name": "utter_ask_new_receiver_name",
}


class ActionAskModifyValue(Action):
    def name(self) -> str:
        return "action_ask_modify_value"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        field = tracker.get_slot("modify_field") or "address"
        dispatcher.utter_message(response=ASK_VALUE.get(field, ASK_VALUE["address"]))
        return []


class ValidateModifyOrderForm(FormValidationAction):
    def name(self) -> str:
        return "validate_modify_order_form"

    @unless_unset
    @answers_side_questions("modify_field")
    def validate_modify_field(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        field = detect_modify_field(value if isinstance(value, str) else "")
        if field is None:
            dispatcher.utter_message(response="utter_invalid_modify_field")
        return {"modify_field": field}

    @unless_unset
    @answers_side_questions("modify_value")
    def validate_modify_value(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        field = tracker.get_slot("modify_field") or "address"
        text = value if isinstance(value, str) else ""
        clean = clean_new_value(field, new_value_text(text)) or clean_new_value(field, text)
        if clean is None:
            dispatcher.utter_message(response=f"utter_invalid_new_{field}")
        return {"modify_value": clean}


class ActionSubmitModify(ShopAction):
    """Shows the change for confirmation; ``action_confirm`` writes it after a yes."""

    def name(self) -> str:
        return "action_submit_modify"

    def work(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        svc = service()
        reset = [SlotSet("modify_field", None), SlotSet("modify_value", None), SlotSet("next_step", None)]
        order_id = verified_order(dispatcher, tracker, svc)
        field, value = tracker.get_slot("modify_field"), tracker.get_slot("modify_value")
        if order_id is None or field not in MODIFY_FIELDS or not value:
            return reset
        return [*reset, *modify_card(dispatcher, tracker, svc, order_id, field, value)]


def modify_card(dispatcher: CollectingDispatcher, tracker: Tracker, svc: Any, order_id: str,
                field: str, value: str) -> list:
    """The confirmation card for changing `field` of an order to `value`, and its pending slot."""
    view = find_or_say(dispatcher, svc, order_id)
    if view is None:
        return []
    dispatcher.utter_message(
        response="utter_confirm_modify", order_id=order_id, goods=goods_of(view),
        label=MODIFY_FIELDS[field], value=mask_value(field, value),
    )
    return [SlotSet("pending", make_pending("modify", order_id, latest_user_message_id(tracker),
                                            field=field, value=value))]


class ActionCorrectChange(ShopAction):
    """A value corrected at the change card ("等一下 门牌号不对 是中关村大街29号"): the card
    again with the corrected value; nothing is written until its yes."""

    def name(self) -> str:
        return "action_correct_change"

    def work(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        pending = tracker.get_slot("pending") or {}
        value = corrected_change(pending, latest_text(tracker)) if isinstance(pending, dict) else None
        field, order_id = (pending.get("args") or {}).get("field"), pending.get("order_id") or ""
        if not value or field not in MODIFY_FIELDS or not order_id:
            dispatcher.utter_message(response="utter_change_dropped", order_id=order_id)
            return [SlotSet("pending", None)]
        return modify_card(dispatcher, tracker, service(), order_id, field, value)


# ------------------------------------------------------------------ invoice


INVOICE_SLOTS = ("invoice_title", "invoice_tax_id", "invoice_email")
# the details each form collects, cleared when the form is left
FORM_SLOTS = {"invoice_form": INVOICE_SLOTS, "modify_order_form": ("modify_field", "modify_value")}


def form_closed(form: str | None) -> list:
    """Events that end `form` with nothing filed: its details and its request cleared."""
    return [*(SlotSet(slot, None) for slot in FORM_SLOTS.get(form or "", ())), SlotSet("next_step", None),
            SlotSet("requested_slot", None), ActiveLoop(None)]


def invoice_request_text(tracker: Tracker, look_back: int = 5) -> str:
    """The customer's own words asking for the invoice: the latest message read as the invoice
    topic that is more than an order number picked from a list. The order number and phone
    tail typed afterwards say nothing about the invoice."""
    events = [e for e in tracker.events if e.get("event") == "user"][-look_back:]
    for event in reversed(events):
        text = event.get("text") or ""
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent == "invoice" and not is_bare_pick(text):
            return text
    return latest_text(tracker)


class ActionInvoice(OrderAction):
    """A question ("发票开了没有") gets the invoice's state; a request checks the order can
    be invoiced and starts the invoice form, with what the request already says (title, tax
    id, e-mail) filled in. The chat issues electronic ordinary invoices only: a request for a
    专票 gets what it needs and a person, not the ordinary form."""

    def name(self) -> str:
        return "action_invoice"

    when_unverified = (SlotSet("next_step", None),)

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str
    ) -> list:
        stop = [SlotSet("next_step", None)]
        view = find_or_say(dispatcher, svc, order_id)
        if view is None:
            return [*stop, SlotSet("order_id", None)]
        existing = svc.invoice_of(order_id)
        if existing is not None:
            name = "utter_invoice_issued" if existing["status"] == "已开具" else "utter_invoice_pending"
            dispatcher.utter_message(response=name, order_id=order_id, **existing)
            return stop
        if view.status == "待付款":
            dispatcher.utter_message(response="utter_invoice_not_paid", order_id=order_id)
            return stop
        if view.status in ("已取消", "退款中", "已退款"):
            dispatcher.utter_message(response="utter_invoice_refused", order_id=order_id, status=view.status)
            return stop
        request = invoice_request_text(tracker)
        if wants_special_invoice(request):
            dispatcher.utter_message(response="utter_faq/special_invoice", buttons=[HUMAN_BUTTON])
            return [*stop, SlotSet("last_faq", "faq/special_invoice")]
        if act_mode(tracker) == "ask":
            dispatcher.utter_message(
                response="utter_invoice_none",
                buttons=[intent_button("申请开发票", "invoice", order_id=order_id, mode="act")],
                order_id=order_id,
            )
            return [*stop, SlotSet("pending", offer("invoice", order_id, tracker))]
        given = invoice_details(request)
        if not given:
            dispatcher.utter_message(response="utter_invoice_start", order_id=order_id)
        return [
            SlotSet("next_step", "invoice_form"),
            *(SlotSet(slot, given.get(slot)) for slot in INVOICE_SLOTS),
            SlotSet("pending", None),
        ]


def answered_side_question(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> bool:
    """A policy question asked instead of the detail the form asked for gets its answer (the
    form then asks again); a detail action_invoice took from the request is not an answer."""
    if tracker.get_slot("requested_slot") != slot:
        return False
    key = side_question(tracker)
    if key is None:
        return False
    dispatcher.utter_message(response=f"utter_faq/{key.split('/', 1)[1]}")
    return True


class ValidateInvoiceForm(FormValidationAction):
    """Title, then tax id (companies only), then e-mail; the checks are the service's own.

    A reply may carry more than was asked ("抬头个人 邮箱 a@b.cn") or something else than was
    asked (an e-mail address when the title was asked): each detail goes to its own slot, and
    an e-mail address is never taken as a company's name. A reply that drops the request
    ("先不开了 回头再说") ends the form; nothing is filed."""

    def name(self) -> str:
        return "validate_invoice_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        if tracker.active_loop.get("name") == "invoice_form" and tracker.get_slot("requested_slot") \
                and drops_the_request(latest_text(tracker)):
            dispatcher.utter_message(response="utter_deny")
            return form_closed("invoice_form")
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if is_personal_title(tracker.get_slot("invoice_title")):
            return [s for s in domain_slots if s != "invoice_tax_id"]
        return domain_slots

    @unless_unset
    def validate_invoice_title(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = value if isinstance(value, str) else ""
        if tracker.get_slot("requested_slot") != "invoice_title":
            # filled from the request by action_invoice
            return {"invoice_title": clean_invoice_title(text)}
        if answered_side_question(dispatcher, tracker, "invoice_title"):
            return {"invoice_title": None}
        slots: dict[str, Any] = {}
        email, tax_id = find_email(text), find_tax_id(text, labelled_only=True)
        if email:
            slots["invoice_email"] = email
        if tax_id:
            slots["invoice_tax_id"] = tax_id
        rest = without_details(text)
        title = find_invoice_title(text) or (clean_invoice_title(rest) if rest else None)
        if title is None and not slots:
            dispatcher.utter_message(response="utter_invalid_invoice_title")
        return {**slots, "invoice_title": title}

    @unless_unset
    def validate_invoice_tax_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = value if isinstance(value, str) else ""
        if answered_side_question(dispatcher, tracker, "invoice_tax_id"):
            return {"invoice_tax_id": None}
        tax_id = clean_tax_id(text) or find_tax_id(text)
        if tax_id is None:
            dispatcher.utter_message(response="utter_invalid_invoice_tax_id")
        email = find_email(text)
        return {"invoice_tax_id": tax_id, **({"invoice_email": email} if email else {})}

    @unless_unset
    def validate_invoice_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = value if isinstance(value, str) else ""
        if answered_side_question(dispatcher, tracker, "invoice_email"):
            return {"invoice_email": None}
        email = clean_email(text) or find_email(text)
        if email is None:
            dispatcher.utter_message(response="utter_invalid_invoice_email")
        return {"invoice_email": email}


class ActionFixDetail(Action):
    """"不对 税号输错了" in the invoice form: the detail it names is cleared, so the form asks
    for it again next (the one being asked when none is named); the request goes on. At the
    invoice card the form opens again for the detail named."""

    def name(self) -> str:
        return "action_fix_detail"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        pending = tracker.get_slot("pending")
        if not tracker.active_loop.get("name") and isinstance(pending, dict) and pending.get("op") == "invoice":
            return self._reopen(dispatcher, tracker, pending)
        asked = tracker.get_slot("requested_slot")
        slot = detail_named(latest_text(tracker)) or asked
        dispatcher.utter_message(response="utter_detail_again")
        # the message itself was taken as the detail being asked (a from_text slot): not one
        taken = [asked] if asked in INVOICE_SLOTS and tracker.get_slot(asked) == latest_text(tracker) else []
        return [SlotSet(s, None) for s in dict.fromkeys([slot, *taken]) if s in INVOICE_SLOTS]

    @staticmethod
    def _reopen(dispatcher: CollectingDispatcher, tracker: Tracker, pending: dict[str, Any]) -> list:
        """"等等 税号写错了" at the invoice card: the card lapses, and the form opens again with
        the card's other details, asking only for the one named wrong."""
        args = pending.get("args") or {}
        named = detail_named(latest_text(tracker))
        values = {"invoice_title": args.get("title"), "invoice_tax_id": args.get("tax_id"),
                  "invoice_email": args.get("email")}
        dispatcher.utter_message(response="utter_detail_again")
        return [SlotSet("pending", None), SlotSet("order_id", pending.get("order_id")),
                *(SlotSet(slot, None if slot == named else value) for slot, value in values.items()),
                FollowupAction("invoice_form")]


class ActionSubmitInvoice(ShopAction):
    """Shows the invoice request for confirmation; ``action_confirm`` files it after a yes."""

    def name(self) -> str:
        return "action_submit_invoice"

    def work(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        svc = service()
        reset = [SlotSet("next_step", None), *(SlotSet(slot, None) for slot in INVOICE_SLOTS)]
        order_id = verified_order(dispatcher, tracker, svc)
        title = tracker.get_slot("invoice_title")
        email = tracker.get_slot("invoice_email")
        if order_id is None or not title or not email:
            return reset
        tax_id = None if is_personal_title(title) else tracker.get_slot("invoice_tax_id")
        return [*reset, *invoice_card(dispatcher, tracker, order_id, title, tax_id, email)]


def invoice_card(dispatcher: CollectingDispatcher, tracker: Tracker, order_id: str,
                 title: str, tax_id: str | None, email: str) -> list:
    """The confirmation card for an invoice request, and its pending slot."""
    dispatcher.utter_message(
        response="utter_confirm_invoice", order_id=order_id, title=title,
        tax=f"（税号{tax_id}）" if tax_id else "", email=mask_email(email),
    )
    pending = make_pending("invoice", order_id, latest_user_message_id(tracker), title=title, tax_id=tax_id, email=email)
    return [SlotSet("pending", pending)]


# ------------------------------------------------------------------ promotions


def promotion_lines(promos: list[dict]) -> str:
    return "\n".join(
        f"· {p['title']}：{p['description']}（截止{(p.get('ends_at_local') or '')[:10]}）" for p in promos[:5]
    )


class ActionPromotions(ShopAction):
    def name(self) -> str:
        return "action_promotions"

    def work(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        promos = service().active_promotions()
        name = promotion_named(latest_text(tracker))
        named = promotion_of(name, promos) if name else None
        if named:  # "满299减40能和店铺券一起用吗": that promotion's own rule answers
            dispatcher.utter_message(response="utter_promotion_named", promotions=promotion_lines([named]))
        elif name:
            dispatcher.utter_message(response="utter_promotion_not_running", name=name,
                                     promotions=promotion_lines(promos) or "暂无")
        elif promos:
            dispatcher.utter_message(response="utter_promotions", promotions=promotion_lines(promos))
        else:
            dispatcher.utter_message(response="utter_no_promotions")
        return []
