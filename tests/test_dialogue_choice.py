"""Which order a customer means: the one just answered about, or another named by its goods."""

from __future__ import annotations

import pytest

from actions.verification import tries_an_order_number
from bot.dialogue import (
    corrects_order_choice,
    keeps_topic,
    means_another_order,
    order_by_goods,
    orders_of_kind_named,
    remarks_on_amount,
    same_order_meant,
)

ORDERS = [("A", ["每日坚果礼盒 ×1", "抽纸 ×2"]), ("B", ["可折叠收纳箱 ×1"]), ("C", ["收纳袋 ×3"]),
          ("D", ["Type-C 快充数据线 ×3"])]


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("不对 是另一单 可折叠收纳箱那个", "B"),
        ("收納箱那單", "B"),  # Traditional, part of the name
        ("数据线那个", "D"),
        ("收纳的那个", None),  # two characters name nothing
        ("另一单", None),
        ("2025061800002", None),
    ],
)
def test_order_by_goods(text: str, order: str | None) -> None:
    assert order_by_goods(text, ORDERS) == order


KINDS = [("A", "normal"), ("B", "presale"), ("C", "normal"), ("D", "presale")]


@pytest.mark.parametrize(
    ("text", "kinds", "meant"),
    [
        ("那个预售的", KINDS, ["B", "D"]),
        ("付了定金那单", KINDS, ["B", "D"]),
        ("預售那單", KINDS, ["B", "D"]),  # Traditional
        ("我的订单", KINDS, ["A", "B", "C", "D"]),  # no kind named: every order
        ("预售的", [("A", "normal")], ["A"]),  # no pre-sale order: the list is not emptied
    ],
)
def test_orders_of_kind_named(text: str, kinds: list[tuple[str, str]], meant: list[str]) -> None:
    assert orders_of_kind_named(text, kinds) == meant


@pytest.mark.parametrize(
    ("text", "corrects"),
    [
        ("不对 是另一单 可折叠收纳箱那个", True), ("不是这个", True), ("选错了", True), ("错了 不是这单", True),
        ("我另一个订单呢", True), ("对的", False), ("不对劲啊 怎么还没发", False), ("不是说三天发货吗", False),
    ],
)
def test_corrects_order_choice(text: str, corrects: bool) -> None:
    assert corrects_order_choice(text) is corrects


@pytest.mark.parametrize(
    ("text", "same"),
    [("哪家快递公司送的", True), ("到哪了", True), ("我另一个订单到哪了", False), ("2025061800002 到哪了", False)],
)
def test_same_order_meant(text: str, same: bool) -> None:
    assert same_order_meant(text) is same


@pytest.mark.parametrize(
    ("text", "tries"),
    [("202506180002", True), ("2025-0618-0002", True), ("12345", True), ("订单号是20250618000", True),
     ("哦 原来是要满200才行 那我再加一件", False), ("就是这个123", False)],
)
def test_a_remark_with_a_small_number_is_no_order_number_try(text: str, tries: bool) -> None:
    assert tries_an_order_number(text) is tries


@pytest.mark.parametrize(
    ("text", "another"),
    [
        ("不是这个 我另一单", True), ("单号填错了", True), ("另外一单", True), ("不是这单", True),
        ("另一单是2025061800003", False),  # the new number is there: the form reads it
        ("不对 尾号是1234", False), ("我换了手机号", False), ("另外的问题", False),
    ],
)
def test_means_another_order_at_the_phone_tail_question(text: str, another: bool) -> None:
    assert means_another_order(text) is another


@pytest.mark.parametrize(
    ("text", "last_faq", "remark"),
    [
        ("订单满了200的", "faq/coupon", True),
        ("哦 原来是要满200才行 那我再加一件", "faq/coupon", True),
        ("凑到199了还不行", "faq/shipping_fee", True),
        ("订单满了200的", "faq/refund_time", False),  # not after a money answer
        ("我的订单2025061800002满200了", "faq/coupon", False),  # an order number: that order
        ("运费8块也太贵", "faq/shipping_fee", False),
    ],
)
def test_remarks_on_amount(text: str, last_faq: str, remark: bool) -> None:
    assert remarks_on_amount(text, last_faq) is remark


@pytest.mark.parametrize(("intent", "confidence", "text", "keeps"), [
    ("cancel_order", 0.22, "这是我老婆的单子", True),  # a remark drawn weakly as another topic
    ("order_status", 0.9, "这是我老婆的单子", True),
    ("cancel_order", 0.9, "帮我取消", False),  # a sure new topic
    ("cancel_order", 0.3, "能取消吗", False),  # a question
])
def test_a_remark_keeps_the_topic_under_way(intent, confidence, text, keeps):
    assert keeps_topic(intent, "logistics", text, confidence) is keeps
