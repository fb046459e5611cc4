"""After-sales actions: refund request, return/exchange eligibility, complaint record,
and payment / account problems (urgent ones go straight to a person)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    ASK_MORE,
    HUMAN_BUTTON,
    OrderAction,
    button,
    current_order_id,
    last_text_with_intent,
    latest_text,
    service,
)
from bot.dialogue import short_date
from bot.handoff import urgent_kind
from bot.orders.db import DatabaseUnavailable
from bot.orders.service import OrderService

NOT_FOUND = "抱歉，没有查到这个订单，请核对订单号。"


def refund_timing(order_type: str) -> str:
    """The promise the shop makes: 72 h ordinary, 15 working days pre-sale."""
    return "15个工作日内" if order_type == "presale" else "72小时内"


class ActionRefund(OrderAction):
    """Opens a refund record and tells when the money arrives."""

    def name(self) -> str:
        return "action_refund"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str
    ) -> list:
        reason = last_text_with_intent(tracker, ("refund",))[:200]
        outcome = svc.request_refund(order_id, reason=reason)
        d = outcome.data
        if outcome.ok:
            kind = "预售订单" if d.get("order_type") == "presale" else "普通订单"
            dispatcher.utter_message(
                text=f"已为订单{order_id}提交退款申请（退款单{d['refund_id']}，金额{d.get('amount', 0):.2f}元）。"
                f"{kind}退款{refund_timing(d.get('order_type', 'normal'))}原路到账，"
                f"预计{(d.get('expected_by_local') or '')[:10]}前。{ASK_MORE}"
            )
        elif outcome.code == "refund_exists":
            when = (d.get("expected_by_local") or "")[:10]
            status = "已退款，款项已原路退回" if d.get("status") == "已退款" else "退款处理中"
            text = f"订单{order_id}{status}"
            if d.get("refund_id"):
                text += f"（退款单{d['refund_id']}）"
            if when and d.get("status") != "已退款":
                text += f"，{refund_timing(d.get('order_type', 'normal'))}到账，预计{when}前"
            dispatcher.utter_message(text=text + "。无需重复申请。")
        elif outcome.code == "not_paid":
            dispatcher.utter_message(text=f"订单{order_id}还未付款，不需要退款；如不想要了可以直接取消订单。")
        elif outcome.code == "already_cancelled":
            dispatcher.utter_message(text=f"订单{order_id}已取消，已付款项会原路退回，无需另外申请。")
        elif outcome.code == "window_expired":
            dispatcher.utter_message(
                text=f"订单{order_id}签收已超过7天，不能在线申请退款。如商品有质量问题，可以转人工为您处理售后。",
                buttons=[HUMAN_BUTTON],
            )
        elif outcome.code == "not_found":
            dispatcher.utter_message(text=NOT_FOUND)
        else:
            dispatcher.utter_message(text=f"订单{order_id}当前不能申请退款。", buttons=[HUMAN_BUTTON])
        return []


class ActionReturnExchange(OrderAction):
    """7-day no-reason returns: eligible within 7 days after delivery."""

    def name(self) -> str:
        return "action_return_exchange"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, svc: OrderService, order_id: str
    ) -> list:
        outcome = svc.return_eligibility(order_id)
        d = outcome.data
        if outcome.ok:
            dispatcher.utter_message(
                text=f"订单{order_id}支持7天无理由退换货，截止{(d.get('deadline_local') or '')[:10]}。"
                "请在“我的订单 → 申请售后”中选择退货或换货，商品保持完好、配件齐全即可，"
                f"我们收到退货后尽快为您处理。{ASK_MORE}"
            )
        elif outcome.code == "window_expired":
            dispatcher.utter_message(
                text=f"订单{order_id}已于{short_date(d.get('delivered_at'))}签收，超过了7天无理由退换期。"
                "如果是质量问题，仍可申请售后，建议转人工为您处理。",
                buttons=[HUMAN_BUTTON],
            )
        elif outcome.code == "not_delivered":
            dispatcher.utter_message(
                text=f"订单{order_id}还未签收（当前：{d.get('status', '')}），签收后7天内可申请无理由退换。"
                "未发货的订单可以直接取消。",
                buttons=[button("取消订单", "/cancel_order"), button("查物流", "/logistics")],
            )
        elif outcome.code == "refund_exists":
            dispatcher.utter_message(text=f"订单{order_id}已在退款流程中（{d.get('status', '')}），无需再申请退货。")
        elif outcome.code == "already_cancelled":
            dispatcher.utter_message(text=f"订单{order_id}已取消，无需退货。")
        elif outcome.code == "not_found":
            dispatcher.utter_message(text=NOT_FOUND)
        else:
            dispatcher.utter_message(text=f"订单{order_id}暂不支持在线退换。", buttons=[HUMAN_BUTTON])
        return []


class ActionFileComplaint(Action):
    """Writes the complaint (the customer's own words) and tells its id."""

    def name(self) -> str:
        return "action_file_complaint"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        text = last_text_with_intent(tracker, ("complaint",))
        try:
            cid = service().file_complaint(tracker.sender_id, text, order_id=current_order_id(tracker))
        except DatabaseUnavailable:
            dispatcher.utter_message(
                text="抱歉，投诉系统暂时繁忙，没能记录成功。我可以为您转接人工客服当面处理。",
                buttons=[HUMAN_BUTTON],
            )
            return []
        dispatcher.utter_message(
            text=f"投诉已记录，编号{cid}。专员会在24小时内联系您处理，再次向您致歉。"
        )
        return []


SELF_HELP = {
    "payment_issue": (
        "支付遇到问题的话，可以先试试：\n"
        "1. 确认银行卡余额和单笔限额，或换一种支付方式（支付宝/微信/银行卡）；\n"
        "2. 订单超时未付会自动取消，重新下单即可；\n"
        "3. 若显示支付失败但已扣款，款项一般1–3个工作日内自动退回。"
    ),
    "account_issue": (
        "账号问题可以先试试：\n"
        "1. 登录页点“忘记密码”，用绑定手机号接收验证码重置；\n"
        "2. 换绑手机或邮箱：在“账户设置 → 安全中心”中操作；\n"
        "3. 收不到验证码请检查短信拦截，或60秒后重试。"
    ),
}


class _TriageAction(Action, ABC):
    """Urgent kinds (stolen account, double charge, money taken by a failed payment)
    ask the rules for an immediate handoff; ordinary kinds get self-service help.
    Abstract, so the action server does not register the base class."""

    intent = ""

    @abstractmethod
    def name(self) -> str: ...

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        if urgent_kind(latest_text(tracker)):
            return [SlotSet("handoff_reason", "urgent"), SlotSet("next_step", "handoff")]
        dispatcher.utter_message(
            text=SELF_HELP[self.intent] + "\n如果还没解决，可以转人工客服。",
            buttons=[HUMAN_BUTTON, button("已解决", "/thank")],
        )
        return [SlotSet("next_step", None)]


class ActionPaymentIssue(_TriageAction):
    intent = "payment_issue"

    def name(self) -> str:
        return "action_payment_issue"


class ActionAccountIssue(_TriageAction):
    intent = "account_issue"

    def name(self) -> str:
        return "action_account_issue"

