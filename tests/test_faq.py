"""FAQ answers in context: an elliptical follow-up the selector is unsure about stays on
the topic just answered."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionAnswerFaq, faq_in_context, is_elliptical


@pytest.mark.parametrize(
    ("text", "elliptical"),
    [("那预售的呢", True), ("预售商品也是一样吗", True), ("那要是偏远地区呢？", True), ("那運費呢", True),
     ("新的几天能开好", True), ("重开的要多久", True), ("会怎样", True), ("那然后会怎么样？", True),
     ("退款多久到账", False), ("那2025061800002呢", False), ("买一件包邮吗", False)],
)
def test_is_elliptical(text, elliptical):
    assert is_elliptical(text) is elliptical


@pytest.mark.parametrize(
    ("key", "confidence", "previous", "text", "chosen"),
    [
        ("faq/return_policy", 0.17, "faq/refund_time", "预售商品也是一样吗", "faq/refund_time"),
        ("faq/remote_delivery", 0.97, "faq/delivery_time", "那要是偏远地区呢？", "faq/remote_delivery"),
        ("faq/return_policy", 0.17, None, "预售商品也是一样吗", "faq/return_policy"),  # nothing to lean on
        ("faq/shipping_fee", 0.3, "faq/refund_time", "买一件包邮吗", "faq/shipping_fee"),  # not elliptical
        # "the new one" after the re-issue answer is the re-issued invoice, not a 专票
        ("faq/special_invoice", 0.26, "faq/invoice_reissue", "新的几天能开好", "faq/invoice_reissue"),
        # a sum of money after the coupon answer is about its threshold, however sure the selector
        ("faq/shipping_fee", 0.9, "faq/coupon", "订单满了200的", "faq/coupon"),
        ("faq/shipping_fee", 0.9, "faq/refund_time", "订单满了200的", "faq/shipping_fee"),
        # coupon words without the coupon: the coupons just answered about
        ("faq/payment_methods", 0.8, "faq/coupon", "过期了还能补吗", "faq/coupon"),
        ("faq/payment_methods", 0.8, "faq/refund_time", "过期了还能补吗", "faq/payment_methods"),
    ],
)
def test_faq_in_context(key, confidence, previous, text, chosen):
    assert faq_in_context(key, confidence, previous, text) == chosen


def test_coupon_words_after_the_promotions_list_are_about_the_coupons():
    assert faq_in_context(None, 0.0, None, "领了放在哪里看", after_promotions=True) == "faq/coupon"
    assert faq_in_context(None, 0.0, None, "领了放在哪里看") is None
    # "领导" is not claiming a coupon
    assert faq_in_context("faq/contact_merchant", 0.7, None, "叫你们领导来", after_promotions=True) \
        == "faq/contact_merchant"


def test_the_action_answers_and_remembers_the_topic():
    parse = {"text": "那预售的呢", "intent": {"name": "faq"},
             "response_selector": {"faq": {"response": {"intent_response_key": "faq/membership", "confidence": 0.2}}}}
    events = [{"event": "user", "text": "那预售的呢", "parse_data": parse}]
    tracker = Tracker("c", {"last_faq": "faq/refund_time"}, parse, events, False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    out = asyncio.run(ActionAnswerFaq().run(dispatcher, tracker, {}))
    assert [m["response"] for m in dispatcher.messages] == ["utter_faq/refund_time"]
    assert out == [{"event": "slot", "timestamp": None, "name": "last_faq", "value": "faq/refund_time"}]
