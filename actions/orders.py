"""Order actions: status, logistics, cancel, change of delivery details, invoice,
promotions. Thin: the data and the business rules live in bot.orders.service; these
only word the outcome (conclusion, reason, next step) and write what the customer asked.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    ASK_MORE,
    DB_DOWN,
    HUMAN_BUTTON,
    OrderAction,
    button,
    handle_db_down,
    last_text_with_intent,
    latest_intent,
    latest_text,
    service,
    slot_validator,
    unless_unset,
    verified_order,
)
from bot.dialogue import (
    MODIFY_FIELDS,
    cancel_answer,
    clean_email,
    clean_invoice_title,
    clean_new_value,
    clean_tax_id,
    detect_modify_field,
    is_personal_title,
    items_line,
    mask_email,
    mask_value,
    short_date,
    short_time,
)
from bot.orders.db import DatabaseUnavailable
from bot.orders.service import CANCELLABLE, OrderService

STATUS_NEXT = {
    "待付款": "订单还未付款，请在订单页完成支付，超时未付订单会自动取消。",
    "待发货": "仓库正在备货，一般48小时内发出，发货后可随时查物流。",
    "已发货": "包裹正在路上，回复“查物流”可看最新轨迹。",
    "已签收": "如商品有问题，签收7天内可申请无理由退货。",
    "已取消": "订单已取消，如已付款，款项会原路退回。",
    "退款中": "退款正在处理中，普通订单72小时内到账，预售订单15个工作日内到账。",
    "已退款": "款项已原路退回，请留意支付账户。",
}


def status_reply(view: Any) -> str:
    """结论 + 原因 + 下一步 for an order, with nothing a stranger could misuse."""
    line = f"订单{view.order_id}（{items_line(view.items)}）当前状态：{view.status}。"
    if view.status == "已发货" and view.carrier:
        line += f"由{view.carrier}配送，运单号{view.tracking_no}。"
    if view.status == "已签收" and view.delivered_at:
        line += f"{short_date(view.delivered_at)}已签收。"
    return line + STATUS_NEXT.get(view.status, "")


class ActionOrderStatus(OrderAction):
    def name(self) -> str:
        return "action_order_status"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str
    ) -> list:
        view = svc.find_order(order_id)
        if view is None:
            dispatcher.utter_message(text="抱歉，没有查到这个订单，请核对订单号。")
            return [SlotSet("order_id", None)]
        dispatcher.utter_message(text=status_reply(view))
        return []


def tracking_reply(view: Any, events: list[Any]) -> str:
    """The newest courier events first, or why there are none yet."""
    if view.status in ("待付款", "待发货") or not events:
        if view.status == "待发货":
            return f"订单{view.order_id}还在仓库备货，尚未发货，一般48小时内发出，发货后即可查看物流。"
        if view.status == "待付款":
            return f"订单{view.order_id}还未付款，付款后仓库才会安排发货。"
        return f"订单{view.order_id}暂时没有物流轨迹（状态：{view.status}）。"
    head = f"订单{view.order_id}由{view.carrier or '快递'}配送"
    head += f"（运单号{view.tracking_no}）" if view.tracking_no else ""
    head += "，最新物流：" if view.status != "已签收" else "，已签收。最近物流："
    lines = [f"{short_time(e.time)} {e.location} {e.description}".strip() for e in events[:3]]
    return head + "\n" + "\n".join(lines)


class ActionLogistics(OrderAction):
    def name(self) -> str:
        return "action_logistics"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str
    ) -> list:
        view = svc.find_order(order_id)
        if view is None:
            dispatcher.utter_message(text="抱歉，没有查到这个订单，请核对订单号。")
            return [SlotSet("order_id", None)]
        dispatcher.utter_message(text=tracking_reply(view, svc.tracking(order_id, limit=3)))
        return []


RETURN_BUTTONS = [button("申请退货", "/return_exchange"), HUMAN_BUTTON]


class ActionCancelOrder(OrderAction):
    """Cancels before shipping (a paid order is refunded) once the customer confirms; after
    shipping explains and offers a return instead.

    Cancelling cannot be undone, so a cancellable order is first shown and confirmed: a
    misread message must not cancel anything. The pending confirmation is a slot the
    dialogue policies do not see (`cancel_pending`); the rules only know that a yes or no
    right after this action comes back to it."""

    def name(self) -> str:
        return "action_cancel_order"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str
    ) -> list:
        pending = tracker.get_slot("cancel_pending") == order_id
        intent = latest_intent(tracker)
        answer = cancel_answer(intent, latest_text(tracker)) if pending else None
        done = [SlotSet("cancel_pending", None)]
        if intent in ("affirm", "deny") and not pending:
            dispatcher.utter_message(text=f"好的。{ASK_MORE}")
            return done
        if answer == "no":
            dispatcher.utter_message(text=f"好的，订单{order_id}为您保留，不做取消。{ASK_MORE}")
            return done
        if answer is None:
            view = svc.find_order(order_id)
            if view is not None and view.status in CANCELLABLE:
                goods = "、".join(view.items[:3]) or "商品"
                refund = "取消后已付款项将原路退回。" if view.status == "待发货" else ""
                dispatcher.utter_message(
                    text=f"确认取消订单{order_id}（{goods}，{view.total:.2f}元）吗？{refund}取消后无法恢复。",
                    buttons=[button("确认取消", "/affirm"), button("暂不取消", "/deny")],
                )
                return [SlotSet("cancel_pending", order_id)]
        reason = last_text_with_intent(tracker, ("cancel_order",))[:200]
        outcome = svc.cancel_order(order_id, reason=reason)
        d = outcome.data
        if outcome.ok:
            text = f"已为您取消订单{order_id}。"
            if d.get("refund_id"):
                text += (
                    f"已付款项{d.get('amount', 0):.2f}元将原路退回（退款单{d['refund_id']}），"
                    f"预计{d.get('expected_by_local', '')[:10]}前到账。"
                )
            dispatcher.utter_message(text=text + ASK_MORE)
        elif outcome.code == "already_shipped":
            dispatcher.utter_message(
                text=f"订单{order_id}已经发货，无法直接取消。您可以签收后申请7天无理由退货，或拒收包裹，款项会在退货完成后原路退回。",
                buttons=RETURN_BUTTONS,
            )
        elif outcome.code == "already_cancelled":
            dispatcher.utter_message(text=f"订单{order_id}已经是取消状态，无需再次操作。")
        elif outcome.code == "not_found":
            dispatcher.utter_message(text="抱歉，没有查到这个订单，请核对订单号。")
        else:
            dispatcher.utter_message(
                text=f"订单{order_id}当前状态为{d.get('status', '处理中')}，暂不能取消。如需帮助可转人工客服。",
                buttons=[HUMAN_BUTTON],
            )
        return done


# ------------------------------------------------------------------ modify order


class ActionModifyOrder(OrderAction):
    """Checks that the order can still be changed, then starts the modify form
    (``next_step`` = modify_form); the field is taken from the request if it names one."""

    def name(self) -> str:
        return "action_modify_order"

    when_unverified = (SlotSet("next_step", None),)

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str
    ) -> list:
        view = svc.find_order(order_id)
        if view is None:
            dispatcher.utter_message(text="抱歉，没有查到这个订单，请核对订单号。")
            return [SlotSet("next_step", None), SlotSet("order_id", None)]
        if view.status in ("已发货", "已签收"):
            dispatcher.utter_message(
                text=f"订单{order_id}已经发货，收货信息无法再修改。可以联系快递员改派，或签收后申请退换货。",
                buttons=RETURN_BUTTONS,
            )
            return [SlotSet("next_step", None)]
        if view.status not in ("待付款", "待发货"):
            dispatcher.utter_message(text=f"订单{order_id}当前状态为{view.status}，不能修改。")
            return [SlotSet("next_step", None)]
        field = detect_modify_field(last_text_with_intent(tracker, ("modify_order",)))
        return [
            SlotSet("next_step", "modify_form"),
            SlotSet("modify_field", field),
            SlotSet("modify_value", None),
        ]


class ActionAskModifyField(Action):
    def name(self) -> str:
        return "action_ask_modify_field"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        dispatcher.utter_message(
            text="请问您要修改哪一项？",
            buttons=[button(label, label) for label in MODIFY_FIELDS.values()],
        )
        return []


ASK_VALUE = {
    "address": "请发送新的收货地址（省市区 + 详细地址）。",
    "phone": "请发送新的收货手机号（11位）。",
    "receiver_name": "请发送新的收货人姓名。",
}


class ActionAskModifyValue(Action):
    def name(self) -> str:
        return "action_ask_modify_value"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        field = tracker.get_slot("modify_field") or "address"
        dispatcher.utter_message(text=ASK_VALUE.get(field, ASK_VALUE["address"]))
        return []


class ValidateModifyOrderForm(FormValidationAction):
    def name(self) -> str:
        return "validate_modify_order_form"

    @unless_unset
    def validate_modify_field(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        field = detect_modify_field(value if isinstance(value, str) else "")
        if field is None:
            dispatcher.utter_message(text="可以修改的是：收货地址、联系电话、收货人。请选择一项。")
        return {"modify_field": field}

    @unless_unset
    def validate_modify_value(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        field = tracker.get_slot("modify_field") or "address"
        clean = clean_new_value(field, value if isinstance(value, str) else "")
        if clean is None:
            hint = {
                "phone": "手机号应为11位数字，以1开头。",
                "receiver_name": "姓名为2–20个汉字或字母。",
                "address": "地址请写完整（省市区 + 详细地址）。",
            }[field]
            dispatcher.utter_message(text=f"这个{MODIFY_FIELDS[field]}好像不太对，{hint}")
        return {"modify_value": clean}


class ActionSubmitModify(Action):
    """Writes the new value (the service re-checks status and audits the change)."""

    def name(self) -> str:
        return "action_submit_modify"

    @handle_db_down
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        svc = service()
        reset = [SlotSet("modify_field", None), SlotSet("modify_value", None), SlotSet("next_step", None)]
        order_id = verified_order(dispatcher, tracker, svc)
        field, value = tracker.get_slot("modify_field"), tracker.get_slot("modify_value")
        if order_id is None or field not in MODIFY_FIELDS or not value:
            return reset
        outcome = svc.modify_order(order_id, **{field: value})
        label = MODIFY_FIELDS[field]
        if outcome.ok:
            dispatcher.utter_message(
                text=f"已将订单{order_id}的{label}修改为：{mask_value(field, value)}。仓库会按新信息发货。{ASK_MORE}"
            )
        elif outcome.code == "already_shipped":
            dispatcher.utter_message(
                text=f"抱歉，订单{order_id}刚刚已发货，{label}无法再修改。", buttons=RETURN_BUTTONS
            )
        elif outcome.code == "invalid_input":
            dispatcher.utter_message(text=f"这个{label}格式不正确，未做修改。可以重新发起修改。")
        else:
            dispatcher.utter_message(text=f"订单{order_id}当前不能修改{label}。", buttons=[HUMAN_BUTTON])
        return reset


# ------------------------------------------------------------------ invoice


class ActionInvoice(OrderAction):
    """Checks the order can be invoiced, then starts the invoice form."""

    def name(self) -> str:
        return "action_invoice"

    when_unverified = (SlotSet("next_step", None),)

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str
    ) -> list:
        view = svc.find_order(order_id)
        if view is None:
            dispatcher.utter_message(text="抱歉，没有查到这个订单，请核对订单号。")
            return [SlotSet("next_step", None), SlotSet("order_id", None)]
        if view.status == "待付款":
            dispatcher.utter_message(text=f"订单{order_id}还未付款，付款后才能开具发票。")
            return [SlotSet("next_step", None)]
        if view.status in ("已取消", "退款中", "已退款"):
            dispatcher.utter_message(text=f"订单{order_id}当前状态为{view.status}，不能开具发票。")
            return [SlotSet("next_step", None)]
        dispatcher.utter_message(text=f"好的，为订单{order_id}开具电子发票，需要3项信息。")
        return [
            SlotSet("next_step", "invoice_form"),
            SlotSet("invoice_title", None),
            SlotSet("invoice_tax_id", None),
            SlotSet("invoice_email", None),
        ]


class ActionAskInvoiceTitle(Action):
    def name(self) -> str:
        return "action_ask_invoice_title"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        dispatcher.utter_message(
            text="请发送发票抬头：个人，或单位全称。", buttons=[button("个人", "个人")]
        )
        return []


class ActionAskInvoiceTaxId(Action):
    def name(self) -> str:
        return "action_ask_invoice_tax_id"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        dispatcher.utter_message(text="请发送单位的纳税人识别号（统一社会信用代码，18位）。")
        return []


class ActionAskInvoiceEmail(Action):
    def name(self) -> str:
        return "action_ask_invoice_email"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        dispatcher.utter_message(text="请发送接收电子发票的邮箱。")
        return []


class ValidateInvoiceForm(FormValidationAction):
    """Title, then tax id (companies only), then e-mail."""

    def name(self) -> str:
        return "validate_invoice_form"

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

    validate_invoice_title = slot_validator(
        "invoice_title", clean_invoice_title, "发票抬头请填写“个人”或单位全称（2–60个字）。"
    )
    validate_invoice_tax_id = slot_validator(
        "invoice_tax_id", clean_tax_id, "纳税人识别号应为15–20位数字或大写字母，请核对后重新发送。"
    )
    validate_invoice_email = slot_validator(
        "invoice_email", clean_email, "邮箱格式不正确，请重新发送，例如 name@example.com。"
    )


class ActionSubmitInvoice(Action):
    def name(self) -> str:
        return "action_submit_invoice"

    @handle_db_down
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        svc = service()
        reset = [
            SlotSet("next_step", None),
            SlotSet("invoice_title", None),
            SlotSet("invoice_tax_id", None),
            SlotSet("invoice_email", None),
        ]
        order_id = verified_order(dispatcher, tracker, svc)
        title = tracker.get_slot("invoice_title")
        if order_id is None or not title:
            return reset
        tax_id = None if is_personal_title(title) else tracker.get_slot("invoice_tax_id")
        email = tracker.get_slot("invoice_email")
        outcome = svc.request_invoice(order_id, title, tax_id=tax_id, email=email)
        if outcome.ok:
            dispatcher.utter_message(
                text=f"发票申请已提交（申请号{outcome.data['invoice_id']}），抬头：{title}。"
                f"电子发票将在1–3个工作日内发送至{mask_email(email or '')}。{ASK_MORE}"
            )
        elif outcome.code == "invoice_exists":
            dispatcher.utter_message(
                text=f"订单{order_id}已经申请过发票（申请号{outcome.data.get('invoice_id')}，"
                f"状态：{outcome.data.get('status')}），无需重复申请。"
            )
        elif outcome.code == "invalid_input":
            dispatcher.utter_message(text="发票信息格式不正确，未提交。可以重新发起开票。")
        else:
            dispatcher.utter_message(text=f"订单{order_id}当前不能开具发票。", buttons=[HUMAN_BUTTON])
        return reset


# ------------------------------------------------------------------ promotions


def promotions_reply(promos: list[dict]) -> str:
    if not promos:
        return "目前暂时没有进行中的优惠活动，可以关注店铺首页，新活动上线第一时间通知您。"
    lines = [f"· {p['title']}：{p['description']}（截止{(p.get('ends_at_local') or '')[:10]}）" for p in promos[:5]]
    return "当前进行中的优惠活动：\n" + "\n".join(lines)


class ActionPromotions(Action):
    def name(self) -> str:
        return "action_promotions"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        try:
            promos = service().active_promotions()
        except DatabaseUnavailable:
            dispatcher.utter_message(text=DB_DOWN.replace("订单信息", "活动信息"))
            return []
        dispatcher.utter_message(text=promotions_reply(promos))
        return []

