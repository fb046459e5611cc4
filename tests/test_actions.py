"""Custom actions run for real against the seeded demo shop (SQLite and PostgreSQL),
through rasa_sdk's Tracker and CollectingDispatcher: happy paths, refusals, bad input,
database down, and the handoff payload as Rasa's REST channel delivers it."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from actions import common
from actions.aftersales import (
    ActionAccountIssue,
    ActionFileComplaint,
    ActionPaymentIssue,
    ActionRefund,
    ActionReturnExchange,
)
from actions.confirm import ActionCardAside, ActionConfirm
from actions.handoff import ActionHandoff
from actions.orders import (
    ActionCancelOrder,
    ActionCorrectChange,
    ActionInvoice,
    ActionLogistics,
    ActionModifyOrder,
    ActionOrderStatus,
    ActionPromotions,
    ActionSubmitInvoice,
    ActionSubmitModify,
    ValidateInvoiceForm,
    ValidateModifyOrderForm,
)
from actions.verification import ActionVerifyGate, ValidateOrderVerificationForm
from bot.confirm import make_pending
from bot.dialogue import delivery_days, short_date
from bot.orders.models import Complaint, Exchange, Invoice, Order, Refund
from bot.orders.seed import DEMO_CUSTOMERS, DEMO_ORDERS, DEMO_PHONE_TAILS
from bot.orders.service import OrderService

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
DOWN_URL = "sqlite:////nonexistent-dir/for/sure/shop.db"

C1 = "C0001"  # VIP 3, owns paid/shipped/delivered_old/refunding/pending_payment
C2 = "C0002"  # VIP 5, owns delivered/presale/cancelled/refunded


@pytest.fixture
def shop(seeded_engine, seed_now: datetime, monkeypatch: pytest.MonkeyPatch) -> OrderService:
    """The actions' order service on a private seeded shop, clock frozen at seed time."""
    url = seeded_engine.url.render_as_string(hide_password=False)
    svc = OrderService(seeded_engine, now=lambda: seed_now)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setitem(common._services, url, svc)
    return svc


@pytest.fixture
def db_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DOWN_URL)


def tracker(
    text: str = "",
    intent: str | None = None,
    *,
    slots: dict[str, Any] | None = None,
    entities: dict[str, str] | None = None,
    metadata: dict[str, Any] | None = None,
    emotion: str | None = None,
    history: list[tuple[str, str]] = (),
    active_loop: str | None = None,
    candidates: dict[str, Any] | None = None,
    speech_act: str | None = None,
) -> Tracker:
    """A tracker whose latest user message is `text` (with parse data as Rasa sends it);
    `candidates` are slot events after the message, as a form passes them to validation."""
    ents = [{"entity": k, "value": v} for k, v in (entities or {}).items()]
    parse: dict[str, Any] = {"text": text, "intent": {"name": intent, "confidence": 0.95}, "entities": ents}
    if emotion:
        parse["emotion"] = {"name": emotion, "confidence": 0.9}
    if speech_act:
        parse["speech_act"] = {"name": speech_act, "confidence": 0.9}
    events: list[dict[str, Any]] = [{"event": "action", "name": "action_listen"}]
    for number, (old_text, old_intent) in enumerate(history):
        events += [
            {"event": "user", "text": old_text, "message_id": f"m{number}",
             "parse_data": {"text": old_text, "intent": {"name": old_intent}}},
            {"event": "action", "name": "action_listen"},
        ]
    events.append({"event": "user", "text": text, "parse_data": parse, "metadata": metadata or {},
                   "message_id": f"m{len(history)}"})
    all_slots: dict[str, Any] = {"verified_orders": [], "verify_attempts": 0}
    all_slots.update(slots or {})
    for name, value in (candidates or {}).items():
        all_slots[name] = value
        events.append({"event": "slot", "name": name, "value": value})
    loop = {"name": active_loop} if active_loop else {}
    return Tracker("conv-1", all_slots, parse, events, False, None, loop, "action_listen")


async def arun(action, t: Tracker) -> tuple[list[dict], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    return await action.run(dispatcher, t, DOMAIN), dispatcher


def run(action, t: Tracker) -> tuple[list[dict], CollectingDispatcher]:
    return asyncio.run(arun(action, t))


async def run_form(action, t: Tracker) -> tuple[dict[str, Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, DOMAIN)
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}, dispatcher


def slots_of(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render(message: dict[str, Any]) -> str:
    """A message as the customer reads it: its domain response filled with its variables."""
    name = message.get("response")
    if not name:
        return message.get("text") or ""
    template = DOMAIN["responses"][name][0]
    titles = [b["title"] for b in template.get("buttons", []) + (message.get("buttons") or [])]
    return "\n".join([template["text"].format_map(_Blank(message)), *titles])


def texts(d: CollectingDispatcher) -> str:
    return "\n".join(render(m) for m in d.messages)


def responses(d: CollectingDispatcher) -> list[str]:
    return [m.get("response") or "" for m in d.messages]


def order_row(svc: OrderService, order_id: str) -> Order:
    with Session(svc.engine) as s:
        return s.get(Order, order_id)


def full_phones() -> list[str]:
    return [phone for _, phone, _ in DEMO_CUSTOMERS.values()]


def verified(order_id: str, **slots: Any) -> dict[str, Any]:
    return {"order_id": order_id, "verified_orders": [order_id], **slots}


# ------------------------------------------------------------------ verification gate


def test_gate_verifies_the_logged_in_customers_own_order(shop):
    oid = DEMO_ORDERS["shipped"]
    t = tracker(f"订单{oid}到哪了", "logistics", slots={"order_id": oid}, metadata={"customer_id": C1, "channel": "web"})
    events, d = run(ActionVerifyGate(), t)
    s = slots_of(events)
    assert s["verification"] == "verified" and s["topic"] == "logistics"
    assert s["verified_orders"] == [oid] and s["customer_id"] == C1
    assert d.messages == []


def test_gate_offers_the_customers_recent_orders_as_buttons(shop):
    t = tracker("我的快递到哪了", "logistics", metadata={"customer_id": C1})
    events, d = run(ActionVerifyGate(), t)
    assert slots_of(events)["verification"] == "choose"
    buttons = d.messages[0]["buttons"]
    assert 1 <= len(buttons) <= 5
    for b in buttons:
        assert b["payload"].startswith('/logistics{"order_id": "')
        oid = json.loads(b["payload"][len("/logistics"):])["order_id"]
        assert shop.order_belongs_to(oid, C1)


def test_gate_someone_elses_order_needs_the_phone_tail(shop):
    oid = DEMO_ORDERS["delivered"]  # belongs to C0002
    t = tracker(f"查下{oid}", "order_status", slots={"order_id": oid, "phone_tail": "9999"}, metadata={"customer_id": C1})
    events, _ = run(ActionVerifyGate(), t)
    s = slots_of(events)
    assert s["verification"] == "needed"
    assert s["phone_tail"] is None  # a stale tail must not count for this order
    assert "verified_orders" not in s


def test_gate_accepts_order_and_tail_in_one_message(shop):
    oid = DEMO_ORDERS["paid"]
    tail = DEMO_PHONE_TAILS["paid"]
    t = tracker(f"{oid} 尾号{tail}", "order_status", slots={"order_id": oid, "phone_tail": tail}, entities={"order_id": oid, "phone_tail": tail})
    s = slots_of(run(ActionVerifyGate(), t)[0])
    assert s["verification"] == "verified" and s["verified_orders"] == [oid]


def test_gate_refuses_a_malformed_order_number_politely(shop):
    t = tracker("订单 12345678", "order_status", slots={"order_id": "12345678<script>"})
    events, d = run(ActionVerifyGate(), t)
    s = slots_of(events)
    assert s["order_id"] is None and s["verification"] == "needed"
    assert "13位数字" in texts(d)


def test_gate_remembers_an_order_verified_earlier(shop):
    oid = DEMO_ORDERS["shipped"]
    t = tracker("退款", "refund", slots=verified(oid))
    assert slots_of(run(ActionVerifyGate(), t)[0])["verification"] == "verified"


def test_gate_answers_a_general_question_with_the_policy(shop):
    t = tracker("申请退款后钱几天回来", "refund", metadata={"customer_id": C1}, speech_act="ask")
    t.latest_message["response_selector"] = {"faq": {"response": {"intent_response_key": "faq/refund_time",
                                                                  "confidence": 0.9}}}
    events, d = run(ActionVerifyGate(), t)
    assert slots_of(events)["verification"] == "answered" and responses(d) == ["utter_faq/refund_time"]


def test_gate_ignores_an_faq_answer_the_selector_only_drew(shop):
    t = tracker("那到底是哪天发呢", "logistics", speech_act="ask")
    t.latest_message["response_selector"] = {"faq": {"response": {"intent_response_key": "faq/missing_item",
                                                                  "confidence": 0.25}}}
    events, d = run(ActionVerifyGate(), t)
    assert "utter_faq/missing_item" not in responses(d) and slots_of(events)["verification"] == "needed"


def test_gate_own_refund_question_is_not_answered_with_the_policy(shop):
    t = tracker("我那笔退款到哪了", "refund", metadata={"customer_id": C1}, speech_act="ask")
    t.latest_message["response_selector"] = {"faq": {"response": {"intent_response_key": "faq/refund_time"}}}
    events, d = run(ActionVerifyGate(), t)
    assert slots_of(events)["verification"] == "choose" and responses(d) == ["utter_choose_order"]


def test_gate_with_the_database_down(db_down):
    t = tracker("查订单", "order_status", slots={"order_id": DEMO_ORDERS["paid"]}, metadata={"customer_id": C1})
    events, d = run(ActionVerifyGate(), t)
    assert slots_of(events)["verification"] == "unavailable"
    assert "稍后再试" in texts(d)


# ------------------------------------------------------------------ verification form


async def test_form_right_tail_verifies(shop):
    oid = DEMO_ORDERS["shipped"]
    tail = DEMO_PHONE_TAILS["shipped"]
    t = tracker(tail, "nlu_fallback", slots={"order_id": oid, "requested_slot": "phone_tail", "verification": "needed"}, active_loop="order_verification_form")
    s, d = await run_form(ValidateOrderVerificationForm(), t)
    assert s["phone_tail"] == tail and s["verification"] == "verified"
    assert s["verified_orders"] == [oid] and s["requested_slot"] is None
    assert tail in t.latest_message["text"] and "核实通过" in texts(d)


async def test_form_extracts_a_typed_order_number_without_an_entity(shop):
    oid = DEMO_ORDERS["paid"]
    t = tracker(f"是{oid}", "out_of_scope", slots={"requested_slot": "order_id", "verification": "needed"}, active_loop="order_verification_form")
    s, _ = await run_form(ValidateOrderVerificationForm(), t)
    assert s["order_id"] == oid and "verify_attempts" not in s


async def test_form_logged_in_owner_skips_the_tail(shop):
    oid = DEMO_ORDERS["paid"]
    t = tracker(oid, "order_status", slots={"requested_slot": "order_id", "verification": "needed"}, metadata={"customer_id": C1}, entities={"order_id": oid}, candidates={"order_id": oid}, active_loop="order_verification_form")
    s, _ = await run_form(ValidateOrderVerificationForm(), t)
    assert s["verification"] == "verified" and s["requested_slot"] is None


@pytest.mark.parametrize(
    ("answer", "slot", "message"),
    [
        ("0000", "phone_tail", "不一致"),
        ("12", "phone_tail", "4位数字"),
        ("1999999999999", "order_id", "没有查到"),
        ("12345678", "order_id", "格式不对"),
    ],
)
async def test_form_counts_failed_attempts(shop, answer, slot, message):
    oid = DEMO_ORDERS["shipped"] if slot == "phone_tail" else None
    t = tracker(answer, "nlu_fallback", slots={"order_id": oid, "requested_slot": slot, "verification": "needed"}, active_loop="order_verification_form")
    s, d = await run_form(ValidateOrderVerificationForm(), t)
    assert s[slot] is None and s["verify_attempts"] == 1
    assert message in texts(d) and "还可尝试2次" in texts(d)
    assert "verification" not in s


async def test_form_order_number_taken_back_at_the_tail_question_is_asked_again(shop):
    oid = DEMO_ORDERS["shipped"]
    t = tracker("不是这个 我另一单", "deny", slots={"order_id": oid, "requested_slot": "phone_tail", "verification": "needed"}, active_loop="order_verification_form")
    s, d = await run_form(ValidateOrderVerificationForm(), t)
    assert s["order_id"] is None and s["phone_tail"] is None
    assert "verify_attempts" not in s and "格式不对" not in texts(d) and "还可尝试" not in texts(d)


async def test_form_third_failure_asks_for_a_handoff(shop):
    oid = DEMO_ORDERS["shipped"]
    t = tracker("0000", "nlu_fallback", slots={"order_id": oid, "requested_slot": "phone_tail", "verification": "needed", "verify_attempts": 2}, active_loop="order_verification_form")
    s, d = await run_form(ValidateOrderVerificationForm(), t)
    assert s["verification"] == "failed" and s["handoff_reason"] == "verification_failed"
    assert s["requested_slot"] is None  # the form ends; the rules hand off
    assert "不一致" in texts(d) and "还可尝试" not in texts(d)


async def test_form_with_the_database_down(db_down):
    t = tracker("1234", "nlu_fallback", slots={"order_id": DEMO_ORDERS["shipped"], "requested_slot": "phone_tail", "verification": "needed"}, active_loop="order_verification_form")
    s, d = await run_form(ValidateOrderVerificationForm(), t)
    assert s["verification"] == "unavailable" and s["requested_slot"] is None
    assert "稍后再试" in texts(d)


# ------------------------------------------------------------------ order actions


def test_order_status_of_a_verified_order(shop):
    oid = DEMO_ORDERS["shipped"]
    events, d = run(ActionOrderStatus(), tracker("订单状态", "order_status", slots=verified(oid)))
    reply = texts(d)
    assert oid in reply and "已发货" in reply
    assert not any(p in reply for p in full_phones())


def test_order_actions_refuse_an_unverified_order(shop):
    oid = DEMO_ORDERS["shipped"]
    for action in (ActionOrderStatus(), ActionLogistics(), ActionCancelOrder(), ActionRefund()):
        _, d = run(action, tracker("查一下", "order_status", slots={"order_id": oid}))
        assert "核实身份" in texts(d) and "已发货" not in texts(d)
    assert order_row(shop, oid).status == "已发货"


def test_logistics_shows_the_latest_three_events(shop):
    oid = DEMO_ORDERS["shipped"]
    _, d = run(ActionLogistics(), tracker("到哪了", "logistics", slots=verified(oid)))
    reply = texts(d)
    expected = shop.tracking(oid, limit=3)
    assert expected and all(e.description in reply for e in expected)
    assert len(reply.splitlines()) == 1 + len(expected) + 1  # heading, events, expected arrival
    view = shop.find_order(oid)
    days = delivery_days(view.address_masked)
    assert f"{days}天内送达" in reply and short_date(view.shipped_at + timedelta(days=days)) in reply


@pytest.mark.parametrize(("address", "days"), [("浙江省杭州市西湖区****", 2), ("新疆维吾尔自治区乌鲁木齐市****", 10),
                                               ("广东省广州市天河区****", 4), ("****", 4)])
def test_delivery_days_follow_the_regions_the_shop_promises(address, days):
    assert delivery_days(address) == days


def test_logistics_before_shipping(shop):
    _, d = run(ActionLogistics(), tracker("到哪了", "logistics", slots=verified(DEMO_ORDERS["paid"])))
    assert "尚未发货" in texts(d)


def card_then_answer(action, request: tuple[str, str], answer: tuple[str, str], slots: dict[str, Any],
                     speech_act: str = "act", then=None) -> tuple[dict[str, Any], CollectingDispatcher, CollectingDispatcher]:
    """Runs `action` on the request, then action_confirm (or `then`) on the answer in the next message."""
    events, card = run(action, tracker(*request, slots={**slots, "act_mode": speech_act}))
    pending = slots_of(events).get("pending")
    t = tracker(*answer, slots={**slots, "pending": pending}, history=[request])
    _, done = run(then or ActionConfirm(), t)
    return pending, card, done


def test_cancel_a_paid_order_before_shipping_after_confirming(shop):
    oid = DEMO_ORDERS["paid"]
    events, d = run(ActionCancelOrder(), tracker("不想要了，取消订单", "cancel_order", slots=verified(oid)))
    pending = slots_of(events)["pending"]
    assert (pending["op"], pending["order_id"], pending["after"]) == ("cancel", oid, "m0")
    assert responses(d) == ["utter_confirm_cancel"] and "原路退回" in texts(d)
    assert [b["payload"] for b in DOMAIN["responses"]["utter_confirm_cancel"][0]["buttons"]] == ["/affirm", "/deny"]
    assert order_row(shop, oid).status == "待发货"  # nothing happens before the customer confirms

    t = tracker("确认", "affirm", slots=verified(oid, pending=pending), history=[("不想要了，取消订单", "cancel_order")])
    events, d = run(ActionConfirm(), t)
    assert responses(d) == ["utter_cancel_done_refund"] and "退款单" in texts(d)
    assert slots_of(events)["pending"] is None
    assert order_row(shop, oid).status == "已取消"


@pytest.mark.parametrize(("text", "intent", "status"), [
    ("确认取消", "cancel_order", "已取消"),
    ("好的", "affirm", "已取消"),
    ("不取消了", "cancel_order", "待付款"),
    ("算了", "deny", "待付款"),
    ("取消", "cancel_order", "待付款"),  # ambiguous after "确认取消吗": nothing happens
])
def test_typed_answers_to_the_cancel_card(shop, text: str, intent: str, status: str):
    oid = DEMO_ORDERS["pending_payment"]
    card_then_answer(ActionCancelOrder(), ("取消订单", "cancel_order"), (text, intent), verified(oid))
    assert order_row(shop, oid).status == status


def test_a_yes_that_is_not_the_very_next_message_changes_nothing(shop):
    oid = DEMO_ORDERS["paid"]
    pending = make_pending("cancel", oid, "m0")
    t = tracker("确认", "affirm", slots=verified(oid, pending=pending),
                history=[("取消订单", "cancel_order"), ("运费多少", "faq")])
    _, d = run(ActionConfirm(), t)
    assert responses(d) == ["utter_nothing_pending"] and order_row(shop, oid).status == "待发货"


def test_a_card_for_someone_elses_order_is_never_carried_out(shop):
    oid = DEMO_ORDERS["paid"]  # belongs to C0001; the slots do not say it was verified
    pending = make_pending("cancel", oid, "m0")
    t = tracker("确认", "affirm", slots={"pending": pending}, history=[("取消订单", "cancel_order")])
    _, d = run(ActionConfirm(), t)
    assert responses(d) == ["utter_not_verified"] and order_row(shop, oid).status == "待发货"


def test_cancel_confirmed_after_the_order_shipped_meanwhile_is_refused(shop):
    oid = DEMO_ORDERS["shipped"]
    t = tracker("确认", "affirm", slots=verified(oid, pending=make_pending("cancel", oid, "m0")),
                history=[("取消", "cancel_order")])
    _, d = run(ActionConfirm(), t)
    assert responses(d) == ["utter_changed_meanwhile"] and order_row(shop, oid).status == "已发货"


def test_can_i_cancel_is_answered_and_offers_the_request(shop):
    oid = DEMO_ORDERS["paid"]
    events, d = run(ActionCancelOrder(), tracker("这单还能取消吗", "cancel_order", slots=verified(oid, act_mode="ask")))
    assert responses(d) == ["utter_cancel_possible"] and slots_of(events)["pending"]["op"] == "offer"
    payload = d.messages[0]["buttons"][0]["payload"]
    assert payload.startswith("/cancel_order{") and json.loads(payload[len("/cancel_order"):])["mode"] == "act"
    assert order_row(shop, oid).status == "待发货"


def test_cancel_after_shipping_offers_a_return(shop):
    oid = DEMO_ORDERS["shipped"]
    _, d = run(ActionCancelOrder(), tracker("取消订单", "cancel_order", slots=verified(oid)))
    assert responses(d) == ["utter_cancel_shipped"] and "已经发货" in texts(d)
    assert order_row(shop, oid).status == "已发货"


def test_modify_starts_the_form_with_the_field_from_the_request(shop):
    oid = DEMO_ORDERS["paid"]
    t = tracker("收货地址能换成公司的吗", "modify_order", slots=verified(oid))
    s = slots_of(run(ActionModifyOrder(), t)[0])
    assert s["next_step"] == "modify_form" and s["modify_field"] == "address" and s["modify_value"] is None


def test_modify_takes_the_new_address_from_the_request(shop):
    oid = DEMO_ORDERS["paid"]
    t = tracker("把订单的地址改成上海市浦东新区世纪大道100号吧", "modify_order", slots=verified(oid))
    s = slots_of(run(ActionModifyOrder(), t)[0])
    assert (s["modify_field"], s["modify_value"]) == ("address", "上海市浦东新区世纪大道100号")


def test_modify_takes_the_receiver_name_without_the_remark_after_it(shop):
    oid = DEMO_ORDERS["paid"]
    t = tracker(f"{oid} 收件人改成王芳 我老婆收", "modify_order", slots=verified(oid))
    s = slots_of(run(ActionModifyOrder(), t)[0])
    assert (s["modify_field"], s["modify_value"]) == ("receiver_name", "王芳")


async def test_modify_form_keeps_a_latin_receiver_name_whole(shop):
    t = tracker("Anna Lee", "out_of_scope", slots={"modify_field": "receiver_name", "requested_slot": "modify_value"}, candidates={"modify_value": "Anna Lee"}, active_loop="modify_order_form")
    s, _ = await run_form(ValidateModifyOrderForm(), t)
    assert s["modify_value"] == "Anna Lee"


def test_modify_refused_after_shipping(shop):
    events, d = run(ActionModifyOrder(), tracker("改地址", "modify_order", slots=verified(DEMO_ORDERS["shipped"])))
    assert slots_of(events)["next_step"] is None and "无法再修改" in texts(d)


async def test_modify_form_rejects_a_bad_phone(shop):
    t = tracker("12345", "out_of_scope", slots={"modify_field": "phone", "requested_slot": "modify_value"}, candidates={"modify_value": "12345"}, active_loop="modify_order_form")
    s, d = await run_form(ValidateModifyOrderForm(), t)
    assert s["modify_value"] is None and "11位" in texts(d)


async def test_modify_form_keeps_only_the_address_of_a_change_to_phrase(shop):
    raw = "改成上海市浦东新区世纪大道100号"
    t = tracker(raw, "modify_order", slots={"modify_field": "address", "requested_slot": "modify_value"}, candidates={"modify_value": raw}, active_loop="modify_order_form")
    s, _ = await run_form(ValidateModifyOrderForm(), t)
    assert s["modify_value"] == "上海市浦东新区世纪大道100号"


def test_new_phone_is_confirmed_masked_then_written(shop):
    oid = DEMO_ORDERS["paid"]
    slots = verified(oid, modify_field="phone", modify_value="13900001111")
    events, card = run(ActionSubmitModify(), tracker("13900001111", "out_of_scope", slots=slots))
    assert responses(card) == ["utter_confirm_modify"] and "139****1111" in texts(card)
    assert "13900001111" not in texts(card) and order_row(shop, oid).receiver_phone != "13900001111"
    pending = slots_of(events)["pending"]
    t = tracker("是的", "affirm", slots=verified(oid, pending=pending), history=[("13900001111", "out_of_scope")])
    _, done = run(ActionConfirm(), t)
    assert order_row(shop, oid).receiver_phone == "13900001111"
    assert "139****1111" in texts(done) and "13900001111" not in texts(done)


def test_new_address_declined_is_not_written(shop):
    oid = DEMO_ORDERS["paid"]
    new = "浙江省杭州市西湖区文三路100号"
    slots = verified(oid, modify_field="address", modify_value=new)
    events, _ = run(ActionSubmitModify(), tracker(new, "out_of_scope", slots=slots))
    t = tracker("算了先不改了", "deny", slots=verified(oid, pending=slots_of(events)["pending"]), history=[(new, "out_of_scope")])
    _, d = run(ActionConfirm(), t)
    assert responses(d) == ["utter_change_dropped"] and order_row(shop, oid).address != new


def test_an_address_corrected_at_the_card_gets_a_new_card_and_only_its_yes_writes(shop):
    oid = DEMO_ORDERS["paid"]
    old = "北京市海淀区中关村大街27号"
    slots = verified(oid, modify_field="address", modify_value=old)
    events, _ = run(ActionSubmitModify(), tracker(old, "out_of_scope", slots=slots))
    fix = "等一下 门牌号不对 是中关村大街29号"
    t = tracker(fix, "deny", slots=verified(oid, pending=slots_of(events)["pending"]), history=[(old, "out_of_scope")])
    events, card = run(ActionCorrectChange(), t)
    assert responses(card) == ["utter_confirm_modify"] and "北京市海淀区中关村大街29号" in texts(card)
    assert order_row(shop, oid).address not in (old, "北京市海淀区中关村大街29号")
    pending = slots_of(events)["pending"]
    assert pending["args"]["value"] == "北京市海淀区中关村大街29号"
    t = tracker("确认", "affirm", slots=verified(oid, pending=pending), history=[(old, "out_of_scope"), (fix, "deny")])
    run(ActionConfirm(), t)
    assert order_row(shop, oid).address == "北京市海淀区中关村大街29号"


# ------------------------------------------------------------------ after-sales


def refunds_of(shop: OrderService, oid: str) -> list[Refund]:
    with Session(shop.engine) as s:
        return s.execute(select(Refund).where(Refund.order_id == oid)).scalars().all()


def test_refund_request_is_confirmed_then_filed_with_72_hours(shop):
    oid = DEMO_ORDERS["shipped"]
    pending, card, done = card_then_answer(ActionRefund(), ("我要退款", "refund"), ("确认", "affirm"), verified(oid))
    assert responses(card) == ["utter_confirm_refund"] and "72小时内" in texts(card)
    assert responses(done) == ["utter_refund_filed"]
    refunds = refunds_of(shop, oid)
    assert len(refunds) == 1 and refunds[0].id in texts(done)
    assert order_row(shop, oid).status == "退款中"


def test_refund_card_of_a_presale_order_promises_15_working_days(shop):
    _, d = run(ActionRefund(), tracker("退款", "refund", slots=verified(DEMO_ORDERS["presale"])))
    assert "15个工作日内" in texts(d) and not refunds_of(shop, DEMO_ORDERS["presale"])


def test_refund_question_without_a_refund_files_nothing(shop):
    oid = DEMO_ORDERS["shipped"]
    events, d = run(ActionRefund(), tracker("我的退款到哪了", "refund", slots=verified(oid, act_mode="ask")))
    assert responses(d) == ["utter_refund_none"] and slots_of(events)["pending"]["op"] == "offer"
    assert not refunds_of(shop, oid) and order_row(shop, oid).status == "已发货"


def test_a_yes_to_the_offer_shows_the_card_and_a_second_yes_files(shop):
    oid = DEMO_ORDERS["shipped"]
    offer, _, card = card_then_answer(ActionRefund(), ("退款到哪了", "refund"), ("那申请吧", "affirm"),
                                      verified(oid), speech_act="ask")
    assert offer["op"] == "offer" and responses(card) == ["utter_confirm_refund"]
    assert not refunds_of(shop, oid)  # a yes to an offer only shows the card


def test_refund_already_in_progress(shop):
    _, d = run(ActionRefund(), tracker("退款怎么还没到", "refund", slots=verified(DEMO_ORDERS["refunding"])))
    assert responses(d) == ["utter_refund_progress"] and "72小时内" in texts(d) and "无需重复申请" in texts(d)


@pytest.mark.parametrize(
    ("role", "response"),
    [("delivered", "utter_return_eligible"), ("delivered_old", "utter_return_window_expired"),
     ("shipped", "utter_return_not_delivered")],
)
def test_return_question(shop, role, response):
    oid = DEMO_ORDERS[role]
    _, d = run(ActionReturnExchange(), tracker("这单能退货吗", "return_exchange", slots=verified(oid, act_mode="ask")))
    assert responses(d) == [response] and "7天" in texts(d)
    assert not refunds_of(shop, oid)


def test_return_request_is_confirmed_then_filed(shop):
    oid = DEMO_ORDERS["delivered"]
    _, card, done = card_then_answer(ActionReturnExchange(), ("我要退货", "return_exchange"), ("好的", "affirm"), verified(oid))
    assert responses(card) == ["utter_confirm_return"] and responses(done) == ["utter_return_filed"]
    assert len(refunds_of(shop, oid)) == 1 and order_row(shop, oid).status == "退款中"


def test_exchange_request_is_confirmed_then_recorded(shop):
    oid = DEMO_ORDERS["delivered"]
    pending, card, done = card_then_answer(
        ActionReturnExchange(), ("尺码小了，想换大一码", "return_exchange"), ("确认", "affirm"), verified(oid)
    )
    assert pending["op"] == "exchange" and responses(done) == ["utter_exchange_filed"]
    assert not refunds_of(shop, oid) and order_row(shop, oid).status == "已签收"
    exchange = shop.exchange_of(oid)
    assert exchange["exchange_status"] == "待处理" and exchange["size"] == "大一码"
    assert exchange["exchange_id"] in texts(done)
    assert_variables_given(done)


def assert_variables_given(d: CollectingDispatcher) -> None:
    """Every {variable} of the responses sent is filled (Rasa would show the braces)."""
    for message in d.messages:
        template = DOMAIN["responses"][message["response"]][0]["text"]
        missing = {name for name in re.findall(r"{(\w+)}", template) if message.get(name) in (None, "")}
        assert not missing, (message["response"], missing)


def test_a_second_exchange_is_not_offered_and_says_why(shop):
    oid = DEMO_ORDERS["delivered"]
    first = shop.request_exchange(oid, reason="换XL码").data["exchange_id"]
    for text, mode in [("想换个颜色", "act"), ("这单还能换吗", "ask")]:
        events, d = run(ActionReturnExchange(), tracker(text, "return_exchange", slots=verified(oid, act_mode=mode)))
        assert responses(d) == ["utter_exchange_exists"] and slots_of(events)["pending"] is None
        assert oid in texts(d) and "换货" in texts(d) and "转人工" in texts(d)
        assert_variables_given(d)
    assert [shop.exchange_of(oid)["exchange_id"]] == [first] and not refunds_of(shop, oid)


def test_an_exchange_filed_after_the_card_was_shown_is_not_filed_twice(shop):
    oid = DEMO_ORDERS["delivered"]
    request = ("尺码不合适 换货", "return_exchange")
    events, card = run(ActionReturnExchange(), tracker(*request, slots=verified(oid, act_mode="act")))
    assert responses(card) == ["utter_confirm_exchange"]
    first = shop.request_exchange(oid, reason="换货").data["exchange_id"]  # from another chat meanwhile
    t = tracker("确认", "affirm", slots=verified(oid, pending=slots_of(events)["pending"]), history=[request])
    _, done = run(ActionConfirm(), t)
    assert responses(done) == ["utter_exchange_exists"] and oid in texts(done)
    assert_variables_given(done)
    assert shop.exchange_of(oid)["exchange_id"] == first


def test_money_back_is_refused_while_an_exchange_runs(shop):
    oid = DEMO_ORDERS["delivered"]
    shop.request_exchange(oid, reason="换大一码")
    # asked: answered at once
    _, d = run(ActionRefund(), tracker("这个还能退钱吗", "refund", slots=verified(oid, act_mode="ask")))
    assert responses(d) == ["utter_exchange_exists"]
    # requested: the card, then the refusal instead of a refund
    _, card, done = card_then_answer(ActionRefund(), ("我要退款", "refund"), ("确认", "affirm"), verified(oid))
    assert responses(card) == ["utter_confirm_refund"] and responses(done) == ["utter_exchange_exists"]
    assert not refunds_of(shop, oid) and order_row(shop, oid).status == "已签收"


def test_order_status_mentions_a_running_exchange(shop):
    oid = DEMO_ORDERS["delivered"]
    _, d = run(ActionOrderStatus(), tracker("订单状态", "order_status", slots=verified(oid)))
    assert responses(d) == ["utter_order_status_delivered"] and "换货" not in texts(d)
    exchange = shop.request_exchange(oid, reason="换XL").data
    _, d = run(ActionOrderStatus(), tracker("订单状态", "order_status", slots=verified(oid)))
    reply = texts(d)
    assert responses(d) == ["utter_order_status_exchanging"]
    assert oid in reply and "已签收" in reply and exchange["exchange_id"] in reply and "待处理" in reply
    assert short_date(exchange["deadline"]) in reply
    assert_variables_given(d)
    with Session(shop.engine) as s, s.begin():  # the after-sales team completes it
        s.execute(update(Exchange).where(Exchange.id == exchange["exchange_id"]).values(status="已完成"))
    _, d = run(ActionOrderStatus(), tracker("订单状态", "order_status", slots=verified(oid)))
    assert responses(d) == ["utter_order_status_delivered"]


def test_invoice_form_then_card_then_written(shop):
    oid = DEMO_ORDERS["delivered"]
    s = slots_of(run(ActionInvoice(), tracker("开发票", "invoice", slots=verified(oid)))[0])
    assert s["next_step"] == "invoice_form"
    t = tracker("alice@example.com", "out_of_scope", slots=verified(oid, invoice_title="个人", invoice_email="alice@example.com"))
    events, card = run(ActionSubmitInvoice(), t)
    assert responses(card) == ["utter_confirm_invoice"] and "a***@example.com" in texts(card)
    with Session(shop.engine) as session:
        assert session.execute(select(Invoice).where(Invoice.order_id == oid)).scalar_one_or_none() is None
    t = tracker("确认", "affirm", slots=verified(oid, pending=slots_of(events)["pending"]), history=[("alice@example.com", "out_of_scope")])
    _, done = run(ActionConfirm(), t)
    with Session(shop.engine) as session:
        inv = session.execute(select(Invoice).where(Invoice.order_id == oid)).scalar_one()
    assert inv.title == "个人" and inv.tax_id is None and inv.email == "alice@example.com"
    assert inv.id in texts(done) and "a***@example.com" in texts(done)


def test_invoice_question_is_answered_from_the_data(shop):
    oid = DEMO_ORDERS["delivered"]
    _, d = run(ActionInvoice(), tracker("发票开了没有", "invoice", slots=verified(oid, act_mode="ask")))
    assert responses(d) in (["utter_invoice_none"], ["utter_invoice_pending"], ["utter_invoice_issued"])


def test_invoice_refused_before_payment(shop):
    events, d = run(ActionInvoice(), tracker("开发票", "invoice", slots=verified(DEMO_ORDERS["pending_payment"])))
    assert slots_of(events)["next_step"] is None and "付款后" in texts(d)


async def test_invoice_form_personal_title_skips_the_tax_id(shop):
    t = tracker("个人", "out_of_scope", slots={"requested_slot": "invoice_title"}, candidates={"invoice_title": "个人"}, active_loop="invoice_form")
    s, _ = await run_form(ValidateInvoiceForm(), t)
    assert s["invoice_title"] == "个人" and s["requested_slot"] == "invoice_email"


async def test_invoice_form_opens_without_complaining_about_cleared_slots(shop):
    """The opening action clears the three slots; validation must not scold the customer."""
    oid = DEMO_ORDERS["delivered"]
    events, _ = await arun(ActionInvoice(), tracker("给这个订单开张发票", "invoice", slots=verified(oid)))
    cleared = {e["name"]: e["value"] for e in events if e.get("event") == "slot" and e["name"].startswith("invoice_")}
    assert cleared == {"invoice_title": None, "invoice_tax_id": None, "invoice_email": None}
    t = tracker("给这个订单开张发票", "invoice", slots=verified(oid), candidates=cleared, active_loop="invoice_form")
    _, d = await run_form(ValidateInvoiceForm(), t)
    assert texts(d) == ""


async def test_invoice_form_rejects_a_bad_email(shop):
    t = tracker("abc", "out_of_scope", slots={"invoice_title": "个人", "requested_slot": "invoice_email"}, candidates={"invoice_email": "abc"}, active_loop="invoice_form")
    s, d = await run_form(ValidateInvoiceForm(), t)
    assert s["invoice_email"] is None and "邮箱格式不正确" in texts(d)


def test_invoice_request_fills_in_the_title_it_names(shop):
    oid = DEMO_ORDERS["delivered"]
    events, d = run(ActionInvoice(), tracker(f"{oid} 麻烦开张发票 抬头个人就行", "invoice", slots=verified(oid)))
    s = slots_of(events)
    assert s["next_step"] == "invoice_form" and s["invoice_title"] == "个人" and s["invoice_email"] is None
    assert responses(d) == []  # the form asks for the e-mail next


def test_invoice_request_fills_in_company_title_and_tax_id(shop):
    oid = DEMO_ORDERS["delivered"]
    text = f"{oid}开发票 抬头杭州云帆科技有限公司 税号91330106MA2XXXXX1K"
    s = slots_of(run(ActionInvoice(), tracker(text, "invoice", slots=verified(oid)))[0])
    assert (s["invoice_title"], s["invoice_tax_id"]) == ("杭州云帆科技有限公司", "91330106MA2XXXXX1K")


def test_special_invoice_request_is_not_put_into_the_e_invoice_form(shop):
    """The 专票 request came before the order was picked from the list."""
    oid = DEMO_ORDERS["delivered"]
    t = tracker(oid, "invoice", slots=verified(oid), history=[("我们单位要开专票 税号都有 怎么申请", "invoice")])
    events, d = run(ActionInvoice(), t)
    assert slots_of(events)["next_step"] is None and responses(d) == ["utter_faq/special_invoice"]
    assert [b["title"] for b in d.messages[0]["buttons"]] == ["转人工"] and "invoice_title" not in slots_of(events)


@pytest.mark.parametrize(
    ("requested", "text", "expected"),
    [
        ("invoice_email", "邮箱 zhangwei88@163.com", {"invoice_email": "zhangwei88@163.com"}),
        ("invoice_email", "发到 caiwu@yunfan.cn 谢谢", {"invoice_email": "caiwu@yunfan.cn"}),
        # an e-mail address answering the title question is the e-mail, never a company's name
        ("invoice_title", "邮箱 zhangwei88@163.com", {"invoice_title": None, "invoice_email": "zhangwei88@163.com"}),
        ("invoice_title", "杭州云帆科技有限公司 税号91330106MA2XXXXX1K",
         {"invoice_title": "杭州云帆科技有限公司", "invoice_tax_id": "91330106MA2XXXXX1K"}),
        ("invoice_tax_id", "税号是91330106MA2XXXXX1K", {"invoice_tax_id": "91330106MA2XXXXX1K"}),
    ],
)
async def test_invoice_form_takes_each_detail_from_a_sentence(shop, requested, text, expected):
    slots = {"invoice_title": "杭州云帆科技有限公司", "requested_slot": requested}
    if requested == "invoice_title":
        slots = {"requested_slot": requested}
    t = tracker(text, "out_of_scope", slots=slots, candidates={requested: text}, active_loop="invoice_form")
    s, d = await run_form(ValidateInvoiceForm(), t)
    assert {k: s.get(k) for k in expected} == expected
    assert "invalid" not in " ".join(responses(d))


@pytest.mark.parametrize("requested", ["invoice_title", "invoice_email"])
async def test_dropping_the_invoice_request_ends_the_form_and_files_nothing(shop, requested):
    text = "啊先不开了 回头再说"
    t = tracker(text, "goodbye", slots={"requested_slot": requested}, candidates={requested: text}, active_loop="invoice_form")
    events = await ValidateInvoiceForm().run(d := CollectingDispatcher(), t, DOMAIN)
    s = slots_of(events)
    assert s["requested_slot"] is None and s["invoice_title"] is None and s["next_step"] is None
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
    assert responses(d) == ["utter_deny"]
    assert shop.invoice_of(DEMO_ORDERS["delivered"]) is None


async def test_a_company_name_is_not_a_way_of_dropping_the_request(shop):
    text = "不要停科技有限公司"
    t = tracker(text, "out_of_scope", slots={"requested_slot": "invoice_title"}, candidates={"invoice_title": text}, active_loop="invoice_form")
    s, d = await run_form(ValidateInvoiceForm(), t)
    assert s["invoice_title"] == text and responses(d) == []


@pytest.mark.parametrize("tax_id", ["91330100MA2ABCDE1", "91330100MA2ABCDE1XY"])  # 17 and 19 characters
async def test_invoice_form_refuses_a_tax_id_the_service_would_refuse(shop, tax_id):
    t = tracker(tax_id, "out_of_scope", slots={"invoice_title": "杭州某某科技有限公司", "requested_slot": "invoice_tax_id"}, candidates={"invoice_tax_id": tax_id}, active_loop="invoice_form")
    s, _ = await run_form(ValidateInvoiceForm(), t)
    assert s["invoice_tax_id"] is None
    assert shop.request_invoice(DEMO_ORDERS["delivered"], "杭州某某科技有限公司", tax_id=tax_id).code == "invalid_input"


def test_promotions_come_from_the_database(shop):
    _, d = run(ActionPromotions(), tracker("有什么活动", "promotion"))
    promos = shop.active_promotions()
    assert promos and all(p["title"] in texts(d) for p in promos[:5])


def test_complaint_is_filed_with_the_customers_words(shop):
    t = tracker("提交投诉", "affirm", history=[("你们快递员态度太差了，我要投诉", "complaint")])
    _, d = run(ActionFileComplaint(), t)
    with Session(shop.engine) as s:
        rows = s.execute(select(Complaint).where(Complaint.conversation_id == "conv-1")).scalars().all()
    assert len(rows) == 1 and "态度太差" in rows[0].text and rows[0].id in texts(d)


@pytest.mark.parametrize(
    ("action", "text", "urgent"),
    [
        (ActionPaymentIssue(), "同一笔订单扣了两次钱", True),
        (ActionPaymentIssue(), "支付失败但是钱被扣了", True),
        (ActionPaymentIssue(), "付款时显示银行卡余额不足", False),
        (ActionAccountIssue(), "我的账号被盗了", True),
        (ActionAccountIssue(), "忘记密码了怎么办", False),
    ],
)
def test_payment_and_account_triage(action, text, urgent):
    events, d = run(action, tracker(text, "payment_issue"))
    s = slots_of(events)
    if urgent:
        assert s == {"handoff_reason": "urgent", "next_step": "handoff"} and d.messages == []
    else:
        assert s == {"next_step": None}
        (name,) = responses(d)
        assert "/human_agent" in [b["payload"] for b in DOMAIN["responses"][name][0]["buttons"]]


# ------------------------------------------------------------------ database down


@pytest.mark.parametrize(
    "action",
    [ActionOrderStatus(), ActionLogistics(), ActionCancelOrder(), ActionModifyOrder(), ActionRefund(),
     ActionReturnExchange(), ActionInvoice(), ActionSubmitModify(), ActionConfirm(),
     ActionPromotions(), ActionFileComplaint()],
    ids=lambda a: a.name(),
)
def test_database_down_gives_a_polite_answer(db_down, action):
    oid = DEMO_ORDERS["paid"]
    t = tracker("确认", "affirm", slots=verified(oid, modify_field="address", modify_value="浙江省杭州市西湖区文三路1号", invoice_title="个人", pending=make_pending("cancel", oid, "m0")), metadata={"customer_id": C1}, history=[("帮我看看", "order_status")])
    _, d = run(action, t)
    assert "繁忙" in texts(d)


# ------------------------------------------------------------------ handoff


def handoff_of(d: CollectingDispatcher) -> dict:
    customs = [m["custom"] for m in d.messages if m.get("custom")]
    assert len(customs) == 1
    return customs[0]


def test_handoff_payload_for_a_requested_handoff_of_a_vip(shop):
    oid = DEMO_ORDERS["shipped"]
    t = tracker("转人工", "human_agent", slots=verified(oid), metadata={"customer_id": C1}, history=[("我的快递怎么还没到", "logistics")])
    events, d = run(ActionHandoff(), t)
    payload = handoff_of(d)
    assert set(payload) == {"handoff"}
    info = payload["handoff"]
    assert set(info) == {"reason", "priority", "skill", "summary"}
    assert (info["reason"], info["priority"], info["skill"]) == ("requested", "high", "orders")
    assert oid in info["summary"] and "快递怎么还没到" in info["summary"]
    assert "转接人工" in texts(d)
    assert slots_of(events)["handoff_reason"] is None


def test_handoff_after_failed_verification_ends_the_form(shop):
    t = tracker("0000", "nlu_fallback", slots={"handoff_reason": "verification_failed", "order_id": DEMO_ORDERS["shipped"], "requested_slot": None}, active_loop="order_verification_form")
    events, d = run(ActionHandoff(), t)
    info = handoff_of(d)["handoff"]
    assert info["reason"] == "verification_failed" and info["priority"] == "normal"
    assert {"event": "active_loop", "name": None} in [{k: e.get(k) for k in ("event", "name")} for e in events]


def test_handoff_for_anger_and_for_not_understood(shop):
    _, d = run(ActionHandoff(), tracker("你们是不是有病!!", "refund", emotion="angry"))
    assert handoff_of(d)["handoff"]["reason"] == "angry" and handoff_of(d)["handoff"]["priority"] == "high"
    _, d = run(ActionHandoff(), tracker("啊吧啊吧", "nlu_fallback", history=[("哦哦哦", "nlu_fallback")]))
    assert handoff_of(d)["handoff"]["reason"] == "not_understood"


def test_urgent_handoff_with_the_database_down_still_goes_out(db_down):
    t = tracker("同一笔订单扣了两次钱", "payment_issue", slots={"handoff_reason": "urgent"}, metadata={"customer_id": C2})
    _, d = run(ActionHandoff(), t)
    info = handoff_of(d)["handoff"]
    assert (info["reason"], info["priority"], info["skill"]) == ("urgent", "urgent", "payments")


async def test_rest_channel_delivers_the_payload_as_custom(shop):
    """What the hub receives: Rasa's REST channel collects the action's messages."""
    from rasa.core.channels.channel import CollectingOutputChannel

    _, d = await arun(ActionHandoff(), tracker("转人工", "human_agent"))
    channel = CollectingOutputChannel()
    for message in d.messages:
        await channel.send_response("conv-1", {**message, "text": render(message)})
    customs = [m for m in channel.messages if "custom" in m]
    assert len(customs) == 1
    assert customs[0]["custom"]["handoff"]["reason"] == "requested"
    assert any("转接人工" in (m.get("text") or "") for m in channel.messages)


def test_action_server_registers_exactly_the_domain_actions():
    """What `rasa run actions --actions actions` loads must match domain.yml."""
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    assert set(executor.actions) == set(DOMAIN["actions"])


def test_withdrawing_a_running_refund_offers_a_person_and_changes_nothing(shop):
    oid = DEMO_ORDERS["refunding"]
    _, d = run(ActionRefund(), tracker("这个退款我不想退了 能撤回吗", "refund", slots=verified(oid, act_mode="ask")))
    assert responses(d) == ["utter_refund_withdraw"] and order_row(shop, oid).status == "退款中"


def test_can_the_address_still_be_changed_is_answered_and_offers_the_change(shop):
    oid = DEMO_ORDERS["paid"]
    before = order_row(shop, oid).address
    t = tracker(f"{oid} 的收货地址现在还来得及改吗", "modify_order", slots=verified(oid, act_mode="ask"))
    events, d = run(ActionModifyOrder(), t)
    s = slots_of(events)
    assert responses(d) == ["utter_modify_possible"] and "来得及" in texts(d)
    assert s["next_step"] is None and s["pending"]["op"] == "offer"
    assert order_row(shop, oid).address == before


def test_where_an_order_is_sent_shows_the_address_in_full_only_to_its_signed_in_owner(shop):
    oid = DEMO_ORDERS["paid"]
    row = order_row(shop, oid)
    owner, other = row.customer_id, ("C0002" if row.customer_id != "C0002" else "C0001")
    ask = f"{oid} 寄到哪个地址的"
    events, d = run(ActionModifyOrder(), tracker(ask, "modify_order", slots=verified(oid, act_mode="ask"),
                                                 metadata={"customer_id": owner}))
    assert responses(d) == ["utter_modify_current"] and row.address in texts(d)
    assert slots_of(events).get("pending") is None  # "对的 没问题" after it is no yes to a change
    _, d = run(ActionModifyOrder(), tracker(ask, "modify_order", slots=verified(oid, act_mode="ask"),
                                            metadata={"customer_id": other}))
    assert row.address not in texts(d) and "****" in texts(d)  # verified by phone tail only: masked
    _, d = run(ActionModifyOrder(), tracker(f"{oid} 收货电话留的哪个", "modify_order",
                                            slots=verified(oid, act_mode="ask"), metadata={"customer_id": owner}))
    assert row.receiver_phone not in texts(d) and row.receiver_phone[-4:] in texts(d)
    assert order_row(shop, oid).address == row.address


def test_a_yes_to_the_change_offer_starts_the_form_not_the_change(shop):
    oid = DEMO_ORDERS["paid"]
    before = order_row(shop, oid).address
    request = ("地址还能改吗", "modify_order")
    events, _ = run(ActionModifyOrder(), tracker(*request, slots=verified(oid, act_mode="ask")))
    pending = slots_of(events)["pending"]
    answer = tracker("好的", "affirm", slots={**verified(oid), "pending": pending}, history=[request])
    events, _ = run(ActionConfirm(), answer)
    assert {"event": "followup", "name": "action_modify_order"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events
    ]
    assert slots_of(events)["act_mode"] == "act" and order_row(shop, oid).address == before


@pytest.mark.parametrize("text", ["收货地址改成广州市天河区天河路385号", "地址写错了", "地址能改成上海市浦东新区世纪大道100号吗"])
def test_a_stated_change_starts_the_form_even_when_tagged_ask(shop, text):
    oid = DEMO_ORDERS["paid"]
    s = slots_of(run(ActionModifyOrder(), tracker(text, "modify_order", slots=verified(oid, act_mode="ask")))[0])
    assert s["next_step"] == "modify_form"


@pytest.mark.parametrize(
    ("role", "response"),
    [("delivered", "utter_return_eligible"), ("delivered_old", "utter_return_window_expired")],
)
def test_can_i_get_my_money_back_for_delivered_goods_is_the_return_window(shop, role, response):
    oid = DEMO_ORDERS[role]
    events, d = run(ActionRefund(), tracker("这个还能退吗 没拆", "refund", slots=verified(oid, act_mode="ask")))
    assert responses(d) == [response] and not refunds_of(shop, oid)


async def test_a_policy_answer_applied_to_an_order_is_reread_as_its_topic_asked():
    from actions.verification import ActionApplyAnswer

    t = tracker("那2025061800006是不是已经过了", "nlu_fallback", entities={"order_id": "2025061800006"},
                slots={"last_faq": "faq/return_policy"})
    events, _ = await arun(ActionApplyAnswer(), t)
    user = next(e for e in events if e.get("event") == "user")
    assert [e["event"] for e in events][:2] == ["rewind", "action"]
    assert user["parse_data"]["intent"]["name"] == "return_exchange"
    values = {e["entity"]: e["value"] for e in user["parse_data"]["entities"]}
    assert values == {"order_id": "2025061800006", "mode": "ask"}
    # after the message: the policy stays the answer the next follow-up leans on
    after = events[events.index(user) + 1:]
    assert {"event": "slot", "name": "last_faq", "value": "faq/return_policy", "timestamp": None} in after


@pytest.mark.parametrize(
    ("text", "cannot"),
    [("我是她老公 手机尾号不知道", True), ("那我把订单截图发你行不行", True), ("尾号是1234", False), ("1234", False)],
)
def test_a_tail_that_will_not_come_is_recognised(text, cannot):
    from bot.dialogue import cannot_give_tail

    assert cannot_give_tail(text) is cannot


async def test_a_customer_without_the_tail_is_offered_a_person(shop):
    from actions.verification import ValidateOrderVerificationForm

    t = tracker("我是她老公 手机尾号不知道", "nlu_fallback", slots={"order_id": DEMO_ORDERS["delivered"],
                "requested_slot": "phone_tail"}, active_loop="order_verification_form")
    d = CollectingDispatcher()
    form = ValidateOrderVerificationForm()
    found = await form.extract_phone_tail(d, t, {})
    assert found == {"phone_tail": None} and responses(d) == ["utter_verify_tail_unknown"] and "人工" in texts(d)
    # no try is used up: the form asks for the tail again as it was
    d = CollectingDispatcher()
    assert await form.validate_phone_tail(None, d, t, {}) == {"phone_tail": None} and responses(d) == []


def test_a_cancel_asked_for_at_the_refund_card_shows_the_cancel_card_and_changes_nothing(shop):
    oid = DEMO_ORDERS["paid"]
    request, switch = ("我要退款", "refund"), ("不要退款了 直接帮我取消订单", "cancel_order")
    pending, _, d = card_then_answer(ActionRefund(), request, switch, verified(oid))
    assert pending["op"] == "refund"
    assert responses(d) == ["utter_change_switched", "utter_confirm_cancel"]
    assert order_row(shop, oid).status == "待发货" and shop.refund_of(oid) is None


def test_another_delivery_detail_asked_for_at_the_address_card_starts_that_change(shop):
    oid = DEMO_ORDERS["paid"]
    pending = make_pending("modify", oid, "m0", field="address", value="广州市天河区体育西路50号")
    switch = "等下 地址不改了 改收件人叫王芳"
    t = tracker(switch, "modify_order", slots=verified(oid, pending=pending), history=[("广州市天河区体育西路50号", "out_of_scope")])
    events, d = run(ActionConfirm(), t)
    assert responses(d) == ["utter_change_switched"]
    assert [e["name"] for e in events if e["event"] == "followup"] == ["action_modify_order"]
    follow = tracker(switch, "modify_order", slots=verified(oid), history=[("广州市天河区体育西路50号", "out_of_scope")])
    follow.events.append({"event": "action", "name": "action_confirm"})
    s = slots_of(run(ActionModifyOrder(), follow)[0])
    assert (s["modify_field"], s["modify_value"]) == ("receiver_name", "王芳")
    assert order_row(shop, oid).receiver_name != "王芳"


def test_where_the_money_goes_asked_at_the_refund_card_is_answered_and_the_card_stays_open(shop):
    oid = DEMO_ORDERS["paid"]
    request, question = ("我要退款", "refund"), ("好的，但是退到哪里？", "out_of_scope")
    pending, _, d = card_then_answer(ActionRefund(), request, question, verified(oid), then=ActionCardAside())
    assert responses(d) == ["utter_refund_route", "utter_confirm_refund"] and "原路" in texts(d)
    assert shop.refund_of(oid) is None
    again = slots_of(run(ActionCardAside(), tracker(*question, slots=verified(oid, pending=pending), history=[request]))[0])["pending"]
    assert (again["op"], again["after"]) == ("refund", "m1")
    t = tracker("确认", "affirm", slots=verified(oid, pending=again), history=[request, question])
    run(ActionConfirm(), t)
    assert shop.refund_of(oid) is not None


def test_the_size_wanted_at_the_exchange_card_is_kept_on_the_card(shop):
    oid = DEMO_ORDERS["delivered"]
    request, detail = ("想换货", "return_exchange"), ("换个大号的", "modify_order")
    pending, _, d = card_then_answer(ActionReturnExchange(), request, detail, verified(oid), then=ActionCardAside())
    assert pending["op"] == "exchange" and responses(d) == ["utter_confirm_exchange"]
    events, _ = run(ActionCardAside(), tracker(*detail, slots=verified(oid, pending=pending), history=[request]))
    again = slots_of(events)["pending"]
    assert again["op"] == "exchange" and "换个大号的" in again["args"]["reason"]
    with Session(shop.engine) as s:
        assert s.scalars(select(Exchange).where(Exchange.order_id == oid)).first() is None


@pytest.mark.parametrize(("role", "response"), [
    ("paid", "utter_price_protection_open"),
    ("delivered_old", "utter_price_protection_closed"),
    ("pending_payment", "utter_price_protection_unpaid"),
])
def test_a_price_drop_is_answered_from_the_orders_payment_date(shop, role, response):
    oid = DEMO_ORDERS[role]
    _, d = run(ActionOrderStatus(), tracker(f"{oid}买完降价了50块", "order_status", slots=verified(oid)))
    assert responses(d) == [response]
    view = shop.find_order(oid)
    if view.paid_at:
        assert short_date(view.paid_at) in texts(d)


@pytest.mark.parametrize(("card_field", "switch", "field", "value"), [
    ("address", "地址不改了 改电话 13900001111", "phone", "13900001111"),
    ("phone", "电话别改了 收货人改成王芳", "receiver_name", "王芳"),
])
def test_the_change_asked_for_while_declining_another_is_read_without_the_declined_clause(shop, card_field, switch, field, value):
    oid = DEMO_ORDERS["paid"]
    follow = tracker(switch, "modify_order", slots=verified(oid), history=[("2025061800002改一下", "modify_order")])
    follow.events.append({"event": "action", "name": "action_confirm"})
    s = slots_of(run(ActionModifyOrder(), follow)[0])
    assert (s["modify_field"], s["modify_value"]) == (field, value)


async def test_form_reads_a_courier_waybill_number_as_its_order_without_using_a_try(shop):
    oid = DEMO_ORDERS["shipped"]
    waybill = shop.find_order(oid).tracking_no
    text = f"{waybill} 这个快递到哪了"
    t = tracker(text, "logistics", slots={"requested_slot": "order_id", "verification": "needed"},
                entities={"order_id": waybill}, candidates={"order_id": waybill}, active_loop="order_verification_form")
    s, d = await run_form(ValidateOrderVerificationForm(), t)
    assert s["order_id"] == oid and "verify_attempts" not in s
    assert responses(d) == ["utter_waybill_order"] and oid in texts(d)


@pytest.mark.parametrize(("paid", "response"), [(False, "utter_refund_never_paid"), (True, None)])
def test_the_money_of_a_cancelled_order_is_answered_not_the_cancel(shop, paid, response):
    oid = DEMO_ORDERS["cancelled"]
    if not paid:
        with Session(shop.engine) as s:
            s.execute(update(Order).where(Order.order_id == oid).values(paid_at=None))
            s.commit()
    _, d = run(ActionCancelOrder(), tracker(f"{oid} 取消了钱退了吗", "cancel_order", slots=verified(oid)))
    assert "utter_cancel_already" not in responses(d)
    assert response is None or responses(d) == [response]


def test_the_address_of_an_order_in_refund_is_shown_without_offering_a_change(shop):
    oid = DEMO_ORDERS["refunding"]
    t = tracker(f"{oid}的收货地址是哪里啊 我忘了填的啥", "modify_order", slots=verified(oid, act_mode="ask"),
                metadata={"customer_id": C1})
    _, d = run(ActionModifyOrder(), t)
    assert responses(d) == ["utter_modify_current"] and shop.delivery_details(oid, C1)["address"] in texts(d)
    assert not d.messages[0].get("buttons")


def test_an_email_corrected_at_the_invoice_card_shows_the_card_again_with_it(shop):
    oid = DEMO_ORDERS["delivered_old"]
    pending = make_pending("invoice", oid, "m0", title="个人", tax_id=None, email="zw@test.com")
    t = tracker("邮箱写错了 是zw2@test.com", "out_of_scope", slots=verified(oid, pending=pending),
                history=[("要开发票", "invoice")])
    events, d = run(ActionCardAside(), t)
    again = slots_of(events)["pending"]
    assert responses(d) == ["utter_confirm_invoice"]
    assert (again["args"]["email"], again["after"]) == ("zw2@test.com", "m1")
    with Session(shop.engine) as s:
        assert s.scalars(select(Invoice).where(Invoice.order_id == oid, Invoice.email == "zw2@test.com")).first() is None
