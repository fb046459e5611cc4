"""The order service against real SQLite and PostgreSQL databases holding the seeded shop."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.orders.db import DatabaseUnavailable, make_engine
from bot.orders.models import Complaint, Exchange, Invoice, Order, OrderChange, OrderItem, Refund
from bot.orders.seed import DEMO_ORDERS, DEMO_PHONE_TAILS
from bot.orders.service import (
    OrderService,
    Outcome,
    mask_address,
    mask_phone,
    normalize_order_id,
    refund_eta,
    return_window_open,
)
from bot.orders.timeutil import SHANGHAI, UTC, add_working_days, format_shanghai, to_shanghai
from bot.orders.values import exchange_details

JUNK = [
    None,
    "",
    "   ",
    "1' OR '1'='1",
    "2025061800004' OR '1'='1",
    "2025061800004; DROP TABLE shop_orders;--",
    "<script>alert(1)</script>",
    "\x00\x01\x02\xff",
    "\ud800\udfff",
    b"2025061800004",
    "9" * 100_000,
    12345678901234,
    ["2025061800004"],
]


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def count(engine, model, *where) -> int:
    with Session(engine, future=True) as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def order_row(engine, order_id: str) -> Order:
    with Session(engine, future=True, expire_on_commit=False) as s:
        return s.get(Order, order_id)


# --------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2024090911223", "2024090911223"),
        ("  2024090911223\n", "2024090911223"),
        ("2024 0909 11223", "2024090911223"),
        ("２０２４０９０９１１２２３", "2024090911223"),  # full-width digits from a Chinese IME
        ("123456789012", "123456789012"),
        ("12345678901234567890", "12345678901234567890"),
        ("12345678901", None),
        ("123456789012345678901", None),
        ("2024-0909-11223", None),
        ("订单2024090911223", None),
        ("١٢٣٤٥٦٧٨٩٠١٢٣", None),  # Arabic-Indic digits are not order numbers
    ],
)
def test_normalize_order_id(raw: str, expected: str | None) -> None:
    assert normalize_order_id(raw) == expected


@pytest.mark.parametrize("junk", JUNK)
def test_normalize_order_id_rejects_junk(junk: object) -> None:
    assert normalize_order_id(junk) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "phone, masked",
    [
        ("13812341234", "138****1234"),
        ("+86 138 1234 1234", "138****1234"),
        ("8613812341234", "138****1234"),
        ("123", "****"),
        ("", "****"),
        (None, "****"),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_mask_address_keeps_only_the_region() -> None:
    assert mask_address("浙江省杭州市西湖区文三路123号5幢1201室") == "浙江省杭州市西湖区****"
    assert mask_address("上海市浦东新区世纪大道1号") == "上海市浦东新区****"
    masked = mask_address("某个没有行政区划的地址123号")
    assert masked.endswith("****") and "123号" not in masked


def test_refund_eta_normal_is_72_hours() -> None:
    approved = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    assert refund_eta("normal", approved) == approved + timedelta(hours=72)


def test_refund_eta_presale_skips_weekends() -> None:
    # Monday 10:00 in Shanghai: 15 working days = exactly three weeks later
    assert refund_eta("presale", shanghai(2026, 11, 23, 10, 0)) == shanghai(2026, 12, 14, 10, 0)
    # Friday: the weekend after it does not count
    assert refund_eta("presale", shanghai(2026, 11, 27, 18, 0)) == shanghai(2026, 12, 18, 18, 0)
    # Saturday: counting starts on Monday, the 15th working day is a Friday
    assert refund_eta("presale", shanghai(2026, 11, 28, 10, 0)) == shanghai(2026, 12, 18, 10, 0)


def test_refund_eta_uses_the_shanghai_calendar() -> None:
    # Sunday 20:00 UTC is already Monday 04:00 in Shanghai, so Monday does not count
    approved = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    eta = refund_eta("presale", approved)
    assert to_shanghai(eta) == shanghai(2026, 12, 21, 4, 0)
    assert eta.tzinfo is not None and eta.utcoffset() == timedelta(0)
    # a naive datetime is read as UTC, like the stored values
    assert refund_eta("presale", approved.replace(tzinfo=None)) == eta


def test_refund_eta_rejects_unknown_order_type() -> None:
    with pytest.raises(ValueError):
        refund_eta("wholesale", datetime(2026, 1, 1, tzinfo=UTC))


def test_add_working_days_edges() -> None:
    start = shanghai(2026, 11, 25, 9, 30)  # Wednesday
    assert add_working_days(start, 0) == start
    assert add_working_days(start, 3) == shanghai(2026, 11, 30, 9, 30)
    with pytest.raises(ValueError):
        add_working_days(start, -1)


def test_return_window_is_seven_days_inclusive() -> None:
    delivered = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    assert return_window_open(delivered, delivered + timedelta(days=7))
    assert not return_window_open(delivered, delivered + timedelta(days=7, seconds=1))
    assert return_window_open(delivered.replace(tzinfo=None), delivered + timedelta(days=1))
    assert not return_window_open(None, delivered)


def test_format_shanghai() -> None:
    assert format_shanghai(datetime(2026, 11, 23, 16, 30, tzinfo=UTC)) == "2026-11-24 00:30"
    assert format_shanghai(None) == ""


# --------------------------------------------------------------------------- reads


def test_find_order_returns_masked_view(order_service: OrderService, seeded_engine) -> None:
    view = order_service.find_order(DEMO_ORDERS["shipped"])
    assert view is not None
    assert view.status == "已发货" and view.order_type == "normal"
    assert view.customer_id == "C0001" and view.vip_level == 3
    assert view.phone_masked == "138****1234"
    assert "13812341234" not in repr(view)
    assert view.address_masked.endswith("****")
    assert view.carrier and view.tracking_no
    assert view.created_at <= view.paid_at <= view.shipped_at
    assert view.created_at.tzinfo is not None and view.created_at.utcoffset() == timedelta(0)
    with Session(seeded_engine, future=True) as s:
        items = s.execute(
            select(OrderItem).where(OrderItem.order_id == DEMO_ORDERS["shipped"])
        ).scalars().all()
    assert view.items == [f"{it.name} ×{it.qty}" for it in items]
    assert view.total == pytest.approx(float(sum(it.price * it.qty for it in items)))


def test_find_order_unknown_and_junk(order_service: OrderService) -> None:
    assert order_service.find_order("2099010100000") is None
    for junk in JUNK:
        assert order_service.find_order(junk) is None  # type: ignore[arg-type]


def test_verify_phone_tail(order_service: OrderService) -> None:
    oid = DEMO_ORDERS["delivered"]
    tail = DEMO_PHONE_TAILS["delivered"]
    assert order_service.verify_phone_tail(oid, tail)
    assert order_service.verify_phone_tail(oid, f" {tail} ")
    assert order_service.verify_phone_tail(oid, tail.translate(str.maketrans("0123456789", "０１２３４５６７８９")))
    wrong = f"{(int(tail) + 1) % 10000:04d}"
    assert not order_service.verify_phone_tail(oid, wrong)
    assert not order_service.verify_phone_tail("2099010100000", tail)
    assert not order_service.verify_phone_tail(oid, tail[:3])
    assert not order_service.verify_phone_tail(oid, "13900005678")  # a whole number is not a tail
    for junk in JUNK:
        assert not order_service.verify_phone_tail(oid, junk)  # type: ignore[arg-type]
        assert not order_service.verify_phone_tail(junk, tail)  # type: ignore[arg-type]


def test_orders_of_customer_newest_first(order_service: OrderService) -> None:
    views = order_service.orders_of_customer("C0001", limit=50)
    assert len(views) >= 5
    assert all(v.customer_id == "C0001" for v in views)
    assert [v.created_at for v in views] == sorted((v.created_at for v in views), reverse=True)
    assert {DEMO_ORDERS["shipped"], DEMO_ORDERS["paid"]} <= {v.order_id for v in views}
    assert [v.order_id for v in order_service.orders_of_customer("c0001")] == [
        v.order_id for v in views[:5]
    ]
    assert len(order_service.orders_of_customer("C0001", limit=2)) == 2
    assert order_service.orders_of_customer("C9999") == []
    for junk in JUNK:
        assert order_service.orders_of_customer(junk) == []  # type: ignore[arg-type]
    assert order_service.orders_of_customer("C0001", limit="5") == []  # type: ignore[arg-type]


def test_order_belongs_to(order_service: OrderService) -> None:
    assert order_service.order_belongs_to(DEMO_ORDERS["shipped"], "C0001")
    assert not order_service.order_belongs_to(DEMO_ORDERS["shipped"], "C0002")
    assert not order_service.order_belongs_to("2099010100000", "C0001")
    for junk in JUNK:
        assert not order_service.order_belongs_to(junk, "C0001")  # type: ignore[arg-type]
        assert not order_service.order_belongs_to(DEMO_ORDERS["shipped"], junk)  # type: ignore[arg-type]


def test_customer_profile(order_service: OrderService) -> None:
    assert order_service.customer_profile("C0002") == {
        "id": "C0002",
        "name": "李娜",
        "vip_level": 5,
        "phone_masked": "159****5678",
    }
    assert order_service.customer_profile("C9999") is None
    for junk in JUNK:
        assert order_service.customer_profile(junk) is None  # type: ignore[arg-type]


def test_tracking_newest_first(order_service: OrderService) -> None:
    events = order_service.tracking(DEMO_ORDERS["delivered_old"], limit=10)
    assert 3 <= len(events) <= 6
    assert [e.time for e in events] == sorted((e.time for e in events), reverse=True)
    assert "签收" in events[0].description
    assert events[0].description.startswith(f"【{events[0].location}】")
    assert order_service.tracking(DEMO_ORDERS["delivered_old"]) == events[:3]
    assert order_service.tracking(DEMO_ORDERS["paid"]) == []
    assert order_service.tracking("2099010100000") == []
    for junk in JUNK:
        assert order_service.tracking(junk) == []  # type: ignore[arg-type]


def test_active_promotions_follow_the_clock(seeded_engine, seed_now: datetime) -> None:
    active = OrderService(seeded_engine, now=lambda: seed_now).active_promotions()
    assert 1 <= len(active) < 5
    assert all(p["starts_at"] <= seed_now < p["ends_at"] for p in active)
    assert [p["ends_at"] for p in active] == sorted(p["ends_at"] for p in active)
    assert all(isinstance(p["rules"], dict) and p["rules"] for p in active)
    later = OrderService(seeded_engine, now=lambda: seed_now + timedelta(days=30)).active_promotions()
    assert {p["title"] for p in later} != {p["title"] for p in active}
    assert OrderService(seeded_engine, now=lambda: seed_now + timedelta(days=3650)).active_promotions() == []


# --------------------------------------------------------------------------- cancel


def test_cancel_unpaid_order(order_service: OrderService, seeded_engine) -> None:
    oid = DEMO_ORDERS["pending_payment"]
    out = order_service.cancel_order(oid, "不想要了")
    assert out == Outcome(True, "done", {"order_id": oid, "previous_status": "待付款", "refund_id": None})
    assert order_row(seeded_engine, oid).status == "已取消"
    assert count(seeded_engine, Refund, Refund.order_id == oid) == 0
    assert count(seeded_engine, OrderChange, OrderChange.order_id == oid, OrderChange.field == "status") == 1
    assert order_service.cancel_order(oid).code == "already_cancelled"


def test_cancel_paid_order_opens_refund(order_service: OrderService, seeded_engine, seed_now) -> None:
    oid = DEMO_ORDERS["paid"]
    out = order_service.cancel_order(oid)
    assert out.ok and out.code == "done"
    assert out.data["refund_id"].startswith("R")
    assert out.data["expected_by"] == seed_now + timedelta(hours=72)
    assert out.data["expected_by_local"] == format_shanghai(seed_now + timedelta(hours=72))
    with Session(seeded_engine, future=True) as s:
        refund = s.get(Refund, out.data["refund_id"])
        assert refund.order_id == oid and refund.status == "退款中"
        assert refund.amount == order_row(seeded_engine, oid).total
    assert order_row(seeded_engine, oid).status == "已取消"


@pytest.mark.parametrize(
    "role, code",
    [
        ("shipped", "already_shipped"),
        ("delivered", "already_shipped"),
        ("cancelled", "already_cancelled"),
        ("refunding", "not_cancellable"),
        ("refunded", "not_cancellable"),
    ],
)
def test_cancel_refused(order_service: OrderService, seeded_engine, role: str, code: str) -> None:
    oid = DEMO_ORDERS[role]
    before = order_row(seeded_engine, oid).status
    out = order_service.cancel_order(oid)
    assert (out.ok, out.code) == (False, code)
    assert order_row(seeded_engine, oid).status == before
    assert count(seeded_engine, OrderChange) == 0


def test_cancel_unknown_and_junk(order_service: OrderService, seeded_engine) -> None:
    assert order_service.cancel_order("2099010100000").code == "not_found"
    for junk in JUNK:
        out = order_service.cancel_order(junk)  # type: ignore[arg-type]
        assert (out.ok, out.code) == (False, "invalid_input")
        out = order_service.cancel_order(DEMO_ORDERS["pending_payment"], reason=b"\xff")  # type: ignore[arg-type]
        assert out.code == "invalid_input"
    assert count(seeded_engine, OrderChange) == 0
    assert order_row(seeded_engine, DEMO_ORDERS["pending_payment"]).status == "待付款"


def test_concurrent_cancellations_only_one_wins(seeded_engine, seed_now) -> None:
    oid = DEMO_ORDERS["paid"]
    barrier = threading.Barrier(4)
    results: list[Outcome] = []

    def worker() -> None:
        svc = OrderService(seeded_engine, now=lambda: seed_now)
        barrier.wait()
        results.append(svc.cancel_order(oid))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.ok for r in results) == 1
    assert count(seeded_engine, Refund, Refund.order_id == oid) == 1
    assert count(seeded_engine, OrderChange, OrderChange.order_id == oid, OrderChange.field == "status") == 1


# --------------------------------------------------------------------------- modify


def test_modify_before_shipping_is_audited(order_service: OrderService, seeded_engine) -> None:
    oid = DEMO_ORDERS["paid"]
    before = order_row(seeded_engine, oid)
    new_address = "浙江省杭州市滨江区江南大道588号恒鑫大厦8楼"
    out = order_service.modify_order(oid, address=new_address, phone="+86 139-0000-1111", receiver_name="王小明")
    assert out.ok and out.code == "done"
    assert set(out.data["changed"]) == {"address", "receiver_phone", "receiver_name"}
    assert out.data["phone_masked"] == "139****1111"
    after = order_row(seeded_engine, oid)
    assert (after.address, after.receiver_phone, after.receiver_name) == (new_address, "13900001111", "王小明")
    with Session(seeded_engine, future=True) as s:
        changes = {
            c.field: (c.old, c.new)
            for c in s.execute(select(OrderChange).where(OrderChange.order_id == oid)).scalars()
        }
    assert changes == {
        "address": (before.address, new_address),
        "receiver_phone": (before.receiver_phone, "13900001111"),
        "receiver_name": (before.receiver_name, "王小明"),
    }
    again = order_service.modify_order(oid, address=new_address)
    assert (again.ok, again.code, again.data["changed"]) == (True, "no_change", [])
    assert count(seeded_engine, OrderChange, OrderChange.order_id == oid) == 3


@pytest.mark.parametrize(
    "role, code",
    [("shipped", "already_shipped"), ("delivered", "already_shipped"), ("cancelled", "not_modifiable"), ("refunding", "not_modifiable")],
)
def test_modify_refused_after_shipping(order_service: OrderService, seeded_engine, role: str, code: str) -> None:
    oid = DEMO_ORDERS[role]
    before = order_row(seeded_engine, oid).address
    out = order_service.modify_order(oid, address="北京市海淀区中关村大街1号")
    assert (out.ok, out.code) == (False, code)
    assert order_row(seeded_engine, oid).address == before


@pytest.mark.parametrize(
    "kwargs, bad_field",
    [
        ({"phone": "12345"}, "phone"),
        ({"phone": "1' OR '1'='1"}, "phone"),
        ({"phone": "23812341234"}, "phone"),
        ({"address": "<script>alert(1)</script>上海市"}, "address"),
        ({"address": "短"}, "address"),
        ({"address": "北京" * 150}, "address"),
        ({"address": "北京市\n朝阳区"}, "address"),
        ({"receiver_name": "张三123"}, "receiver_name"),
        ({"receiver_name": "<b>张三</b>"}, "receiver_name"),
        ({"receiver_name": ""}, "receiver_name"),
        ({"address": b"\x00\xff"}, "address"),
    ],
)
def test_modify_rejects_bad_values(order_service: OrderService, seeded_engine, kwargs: dict, bad_field: str) -> None:
    oid = DEMO_ORDERS["paid"]
    before = order_row(seeded_engine, oid)
    out = order_service.modify_order(oid, **kwargs)
    assert (out.ok, out.code, out.data.get("field")) == (False, "invalid_input", bad_field)
    after = order_row(seeded_engine, oid)
    assert (after.address, after.receiver_phone, after.receiver_name) == (
        before.address, before.receiver_phone, before.receiver_name,
    )
    assert count(seeded_engine, OrderChange) == 0


def test_modify_needs_a_field_and_a_valid_id(order_service: OrderService) -> None:
    assert order_service.modify_order(DEMO_ORDERS["paid"]).code == "invalid_input"
    assert order_service.modify_order("2099010100000", receiver_name="王五").code == "not_found"
    for junk in JUNK:
        assert order_service.modify_order(junk, receiver_name="王五").code == "invalid_input"  # type: ignore[arg-type]


# --------------------------------------------------------------------------- refunds


def test_refund_normal_order_eta_72h(order_service: OrderService, seeded_engine, seed_now) -> None:
    oid = DEMO_ORDERS["shipped"]
    out = order_service.request_refund(oid, "不想要了")
    assert out.ok and out.code == "done"
    assert out.data["order_type"] == "normal"
    assert out.data["expected_by"] == seed_now + timedelta(hours=72)
    assert order_row(seeded_engine, oid).status == "退款中"
    with Session(seeded_engine, future=True) as s:
        refund = s.get(Refund, out.data["refund_id"])
        assert (refund.status, refund.reason, refund.expected_by) == ("退款中", "不想要了", out.data["expected_by"])
        assert Decimal(str(out.data["amount"])) == refund.amount
    again = order_service.request_refund(oid)
    assert (again.ok, again.code, again.data["refund_id"]) == (False, "refund_exists", out.data["refund_id"])
    assert count(seeded_engine, Refund, Refund.order_id == oid) == 1


def test_refund_presale_order_eta_working_days(order_service: OrderService, seed_now) -> None:
    out = order_service.request_refund(DEMO_ORDERS["presale"])
    assert out.ok
    assert out.data["order_type"] == "presale"
    assert out.data["expected_by"] == add_working_days(seed_now, 15)
    assert out.data["expected_by"] >= seed_now + timedelta(days=19)


def test_refund_after_delivery_needs_open_window(order_service: OrderService) -> None:
    assert order_service.request_refund(DEMO_ORDERS["delivered"]).ok
    old = order_service.request_refund(DEMO_ORDERS["delivered_old"])
    assert (old.ok, old.code) == (False, "window_expired")
    assert old.data["deadline"] < order_service.now()


@pytest.mark.parametrize(
    "role, code",
    [("pending_payment", "not_paid"), ("cancelled", "already_cancelled"), ("refunding", "refund_exists"), ("refunded", "refund_exists")],
)
def test_refund_refused(order_service: OrderService, seeded_engine, role: str, code: str) -> None:
    oid = DEMO_ORDERS[role]
    refunds_before = count(seeded_engine, Refund)
    out = order_service.request_refund(oid)
    assert (out.ok, out.code) == (False, code)
    assert count(seeded_engine, Refund) == refunds_before
    if code == "refund_exists":
        assert out.data["refund_id"].startswith("R") and out.data["expected_by"]


def test_refund_junk(order_service: OrderService, seeded_engine) -> None:
    before = count(seeded_engine, Refund)
    assert order_service.request_refund("2099010100000").code == "not_found"
    for junk in JUNK:
        assert order_service.request_refund(junk).code == "invalid_input"  # type: ignore[arg-type]
    # a messy reason is cleaned, not refused: the customer's request must not be lost
    out = order_service.request_refund(DEMO_ORDERS["shipped"], "质量\x00问题<script>" + "很差" * 1000)
    assert out.ok
    with Session(seeded_engine, future=True) as s:
        reason = s.get(Refund, out.data["refund_id"]).reason
    assert "\x00" not in reason and reason.startswith("质量问题") and len(reason) == 500
    assert count(seeded_engine, Refund) == before + 1


# --------------------------------------------------------------------------- returns


def test_return_eligibility(order_service: OrderService) -> None:
    ok = order_service.return_eligibility(DEMO_ORDERS["delivered"])
    assert (ok.ok, ok.code) == (True, "eligible")
    assert ok.data["deadline"] == ok.data["delivered_at"] + timedelta(days=7)
    assert ok.data["days_left"] == 5  # delivered 48 h before the seeding instant
    assert order_service.return_eligibility(DEMO_ORDERS["delivered_old"]).code == "window_expired"
    for role, code in [
        ("shipped", "not_delivered"),
        ("paid", "not_delivered"),
        ("pending_payment", "not_delivered"),
        ("cancelled", "already_cancelled"),
        ("refunded", "refund_exists"),
    ]:
        out = order_service.return_eligibility(DEMO_ORDERS[role])
        assert (out.ok, out.code) == (False, code), role
    assert order_service.return_eligibility("2099010100000").code == "not_found"
    for junk in JUNK:
        assert order_service.return_eligibility(junk).code == "invalid_input"  # type: ignore[arg-type]


def test_return_window_closes_with_the_clock(seeded_engine, seed_now) -> None:
    later = OrderService(seeded_engine, now=lambda: seed_now + timedelta(days=6))
    assert later.return_eligibility(DEMO_ORDERS["delivered"]).code == "window_expired"


# --------------------------------------------------------------------------- exchanges


@pytest.mark.parametrize(
    "text, size, notes",
    [
        ("尺码小了，想换大一码", "大一码", None),
        ("换小半码", "小半码", None),
        ("换成XL码的黑色", "XL", "颜色：黑色"),
        ("要M号", "M", None),
        ("换个 s", "S", None),
        ("换2XL码", "2XL", None),
        ("换成 ｘｘｌ", "XXL", None),  # full-width letters from a Chinese IME
        ("鞋子42码的挤脚，换43", "43码", None),  # the size bought is not the size wanted
        ("换成39.5码", "39.5码", None),
        ("换货，42码", "42码", None),
        ("颜色不喜欢，换成白色", None, "颜色：白色"),
        ("黑色的太丑了想换白色", None, "颜色：白色"),
        ("我要换货", None, None),
        ("尺码不合适", None, None),
        ("想换货 上次买的M码有点小", None, None),
        ("我要换货，12月3号前能到吗", None, None),
        ("我要换货，要求12号前寄到", None, None),
        (None, None, None),
        ("换" * 5000, None, None),
    ],
)
def test_exchange_details(text: str, size: str | None, notes: str | None) -> None:
    assert exchange_details(text) == (size, notes)


def exchanges_of(engine, order_id: str) -> list[Exchange]:
    with Session(engine, future=True, expire_on_commit=False) as s:
        return s.execute(select(Exchange).where(Exchange.order_id == order_id).order_by(Exchange.created_at)).scalars().all()


def close_exchange(engine, exchange_id: str, status: str = "已完成") -> None:
    """What the after-sales team does when an exchange is over."""
    with Session(engine, future=True) as s, s.begin():
        s.execute(update(Exchange).where(Exchange.id == exchange_id).values(status=status))


def test_exchange_request_opens_an_exchange(order_service: OrderService, seeded_engine, seed_now) -> None:
    oid = DEMO_ORDERS["delivered"]
    out = order_service.request_exchange(oid, reason="尺码小了，想换大一码")
    assert (out.ok, out.code) == (True, "done")
    d = out.data
    assert d["exchange_id"].startswith("HH" + format_shanghai(seed_now, "%Y%m%d")) and len(d["exchange_id"]) == 18
    assert d["status"] == "待处理" and d["size"] == "大一码" and d["notes"] is None
    assert d["deadline"] == d["delivered_at"] + timedelta(days=7) and d["days_left"] == 5
    [row] = exchanges_of(seeded_engine, oid)
    assert (row.id, row.status, row.reason, row.size) == (d["exchange_id"], "待处理", "尺码小了，想换大一码", "大一码")
    assert row.created_at == row.updated_at == seed_now
    # the audit entry names the exchange; the order itself does not change
    with Session(seeded_engine, future=True) as s:
        audit = s.execute(select(OrderChange).where(OrderChange.order_id == oid)).scalars().all()
    assert [(c.field, c.old, c.new) for c in audit] == [("exchange", None, d["exchange_id"])]
    assert order_row(seeded_engine, oid).status == "已签收"
    assert count(seeded_engine, Refund, Refund.order_id == oid) == 0


def test_exchange_row_and_audit_entry_are_one_transaction(order_service: OrderService, seeded_engine, monkeypatch) -> None:
    oid = DEMO_ORDERS["delivered"]

    def broken_audit(*_args, **_kwargs):
        raise RuntimeError("audit write failed")

    monkeypatch.setattr(order_service, "_audit", broken_audit)
    with pytest.raises(RuntimeError):
        order_service.request_exchange(oid, reason="换货")
    assert exchanges_of(seeded_engine, oid) == []


def test_a_second_exchange_is_refused_while_the_first_is_open(order_service: OrderService, seeded_engine) -> None:
    oid = DEMO_ORDERS["delivered"]
    first = order_service.request_exchange(oid, reason="换XL码")
    again = order_service.request_exchange(oid, reason="换XL码")
    assert (again.ok, again.code) == (False, "exchange_exists")
    assert again.data["exchange_id"] == first.data["exchange_id"] and again.data["exchange_status"] == "待处理"
    assert again.data["status"] == "已签收"
    assert len(exchanges_of(seeded_engine, oid)) == 1
    assert count(seeded_engine, OrderChange, OrderChange.order_id == oid) == 1
    close_exchange(seeded_engine, first.data["exchange_id"], "处理中")
    assert order_service.request_exchange(oid).code == "exchange_exists"  # 处理中 is still open
    # once it is over, the order may be exchanged again while the window is open
    close_exchange(seeded_engine, first.data["exchange_id"], "已完成")
    third = order_service.request_exchange(oid, reason="还是不合适，换成M码")
    assert third.ok and third.data["size"] == "M"
    assert [e.status for e in exchanges_of(seeded_engine, oid)] == ["已完成", "待处理"]


@pytest.mark.parametrize(
    "role, code",
    [
        ("delivered_old", "window_expired"),
        ("shipped", "not_delivered"),
        ("paid", "not_delivered"),
        ("pending_payment", "not_delivered"),
        ("cancelled", "already_cancelled"),
        ("refunding", "refund_exists"),
        ("refunded", "refund_exists"),
    ],
)
def test_exchange_refused_like_a_return(order_service: OrderService, seeded_engine, role: str, code: str) -> None:
    oid = DEMO_ORDERS[role]
    before = count(seeded_engine, Exchange)
    out = order_service.request_exchange(oid, reason="换货")
    assert (out.ok, out.code) == (False, code)
    assert out.code == order_service.return_eligibility(oid).code
    assert count(seeded_engine, Exchange) == before and count(seeded_engine, OrderChange) == 0
    assert order_row(seeded_engine, oid).status == _DEMO_STATUS[role]


_DEMO_STATUS = {"delivered_old": "已签收", "shipped": "已发货", "paid": "待发货", "pending_payment": "待付款",
                "cancelled": "已取消", "refunding": "退款中", "refunded": "已退款"}


def test_exchange_unknown_and_junk(order_service: OrderService, seeded_engine) -> None:
    before = count(seeded_engine, Exchange)
    assert order_service.request_exchange("2099010100000").code == "not_found"
    for junk in JUNK:
        assert order_service.request_exchange(junk).code == "invalid_input"  # type: ignore[arg-type]
        assert order_service.exchange_of(junk) is None  # type: ignore[arg-type]
    assert order_service.request_exchange(DEMO_ORDERS["delivered"], reason=b"\xff").code == "invalid_input"  # type: ignore[arg-type]
    assert order_service.request_exchange(DEMO_ORDERS["delivered"], size=42).code == "invalid_input"  # type: ignore[arg-type]
    assert count(seeded_engine, Exchange) == before and count(seeded_engine, OrderChange) == 0
    # a messy reason is cleaned and kept, not refused
    out = order_service.request_exchange(DEMO_ORDERS["delivered"], "颜色\x00不对<b>" + "换" * 1000)
    assert out.ok
    [row] = exchanges_of(seeded_engine, DEMO_ORDERS["delivered"])
    assert "\x00" not in row.reason and row.reason.startswith("颜色不对") and len(row.reason) == 500


def test_exchange_takes_size_and_notes_given_or_named(order_service: OrderService, seeded_engine) -> None:
    oid = DEMO_ORDERS["delivered"]
    out = order_service.request_exchange(oid, reason="换货", size=" 42码 ", notes="要黑色")
    assert (out.data["size"], out.data["notes"]) == ("42码", "要黑色")
    close_exchange(seeded_engine, out.data["exchange_id"])
    out = order_service.request_exchange(oid, reason="不喜欢这个颜色，换成XL码的黑色")
    assert (out.data["size"], out.data["notes"]) == ("XL", "颜色：黑色")
    close_exchange(seeded_engine, out.data["exchange_id"])
    out = order_service.request_exchange(oid, reason="")  # nothing said: the reason is 换货
    assert (out.data["size"], out.data["notes"]) == (None, None)
    assert exchanges_of(seeded_engine, oid)[-1].reason == "换货"


def test_refund_is_refused_while_an_exchange_is_open(order_service: OrderService, seeded_engine) -> None:
    oid = DEMO_ORDERS["delivered"]
    exchange = order_service.request_exchange(oid, reason="换大一码").data["exchange_id"]
    for reason in ("申请退款", "7天无理由退货："):  # a refund, and a return (which is a refund)
        out = order_service.request_refund(oid, reason=reason)
        assert (out.ok, out.code) == (False, "exchange_exists")
        assert out.data["exchange_id"] == exchange and out.data["status"] == "已签收"
    assert order_service.return_eligibility(oid).code == "exchange_exists"
    assert count(seeded_engine, Refund, Refund.order_id == oid) == 0
    assert order_row(seeded_engine, oid).status == "已签收"
    # a rejected or completed exchange no longer stands in the way
    close_exchange(seeded_engine, exchange, "已拒绝")
    assert order_service.return_eligibility(oid).ok
    assert order_service.request_refund(oid).ok


def test_exchange_is_refused_while_a_refund_is_open(order_service: OrderService, seeded_engine) -> None:
    oid = DEMO_ORDERS["delivered"]
    assert order_service.request_refund(oid, reason="7天无理由退货：不想要了").ok
    out = order_service.request_exchange(oid, reason="算了还是换货吧")
    assert (out.ok, out.code) == (False, "refund_exists")
    assert exchanges_of(seeded_engine, oid) == []


def test_exchange_of(order_service: OrderService, seeded_engine) -> None:
    oid = DEMO_ORDERS["delivered"]
    assert order_service.exchange_of(oid) is None
    filed = order_service.request_exchange(oid, reason="换43码").data
    got = order_service.exchange_of(oid)
    assert got is not None
    assert (got["exchange_id"], got["exchange_status"], got["open"], got["size"]) == (filed["exchange_id"], "待处理", True, "43码")
    assert got["created_local"] == format_shanghai(order_service.now())
    close_exchange(seeded_engine, filed["exchange_id"])
    assert order_service.exchange_of(oid)["open"] is False
    assert order_service.exchange_of("2099010100000") is None


def test_one_open_exchange_per_order_is_also_kept_by_the_database(seeded_engine, seed_now) -> None:
    oid = DEMO_ORDERS["delivered"]

    def add(eid: str, status: str) -> None:
        with Session(seeded_engine, future=True) as s, s.begin():
            s.add(Exchange(id=eid, order_id=oid, status=status, reason="换货", created_at=seed_now, updated_at=seed_now))

    add("HH1", "已完成")
    add("HH2", "已拒绝")
    add("HH3", "待处理")
    with pytest.raises(sa_exc.IntegrityError):
        add("HH4", "处理中")
    assert [e.id for e in exchanges_of(seeded_engine, oid)] == ["HH1", "HH2", "HH3"]


def _race(seeded_engine, seed_now, calls) -> list[Outcome]:
    barrier = threading.Barrier(len(calls))
    results: list[Outcome] = []

    def worker(call) -> None:
        svc = OrderService(seeded_engine, now=lambda: seed_now)
        barrier.wait()
        results.append(call(svc))

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_exchange_requests_open_one_exchange(seeded_engine, seed_now) -> None:
    oid = DEMO_ORDERS["delivered"]
    results = _race(seeded_engine, seed_now, [lambda svc: svc.request_exchange(oid, reason="换货")] * 4)
    assert sum(r.ok for r in results) == 1
    assert {r.code for r in results if not r.ok} <= {"exchange_exists", "conflict"}
    assert len(exchanges_of(seeded_engine, oid)) == 1
    assert count(seeded_engine, OrderChange, OrderChange.order_id == oid) == 1


def test_concurrent_refund_and_exchange_leave_one_open(seeded_engine, seed_now) -> None:
    oid = DEMO_ORDERS["delivered"]
    for _ in range(3):
        with Session(seeded_engine, future=True) as s, s.begin():  # back to the seeded state
            s.execute(Exchange.__table__.delete().where(Exchange.order_id == oid))
            s.execute(Refund.__table__.delete().where(Refund.order_id == oid))
            s.execute(update(Order).where(Order.order_id == oid).values(status="已签收"))
        results = _race(seeded_engine, seed_now, [
            lambda svc: svc.request_exchange(oid, reason="换货"),
            lambda svc: svc.request_refund(oid, reason="退货"),
        ] * 2)
        assert sum(r.ok for r in results) == 1, [r.code for r in results]
        refunds = count(seeded_engine, Refund, Refund.order_id == oid)
        assert refunds + len(exchanges_of(seeded_engine, oid)) == 1


# --------------------------------------------------------------------------- invoices


def test_request_invoice(order_service: OrderService, seeded_engine) -> None:
    oid = DEMO_ORDERS["delivered"]
    out = order_service.request_invoice(oid, "杭州云帆科技有限公司", tax_id="91330106ma2cfxxx1x".upper(), email="fin@example.com")
    assert out.ok and out.code == "done" and out.data["invoice_id"].startswith("FP")
    with Session(seeded_engine, future=True) as s:
        inv = s.get(Invoice, out.data["invoice_id"])
        assert (inv.order_id, inv.title, inv.tax_id, inv.email, inv.status) == (
            oid, "杭州云帆科技有限公司", "91330106MA2CFXXX1X", "fin@example.com", "待开具",
        )
    again = order_service.request_invoice(oid, "个人")
    assert (again.ok, again.code, again.data["invoice_id"]) == (False, "invoice_exists", out.data["invoice_id"])
    personal = order_service.request_invoice(DEMO_ORDERS["shipped"], "个人")
    assert personal.ok and personal.data["email"] is None


@pytest.mark.parametrize(
    "role, code", [("pending_payment", "not_paid"), ("cancelled", "not_invoiceable"), ("refunded", "not_invoiceable")]
)
def test_invoice_refused(order_service: OrderService, seeded_engine, role: str, code: str) -> None:
    before = count(seeded_engine, Invoice)
    out = order_service.request_invoice(DEMO_ORDERS[role], "个人")
    assert (out.ok, out.code) == (False, code)
    assert count(seeded_engine, Invoice) == before


@pytest.mark.parametrize(
    "kwargs, bad_field",
    [
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"title": "<img src=x onerror=alert(1)>"}, "title"),
        ({"title": "公司" * 200}, "title"),
        ({"title": "个人", "tax_id": "1' OR '1'='1"}, "tax_id"),
        ({"title": "个人", "tax_id": "123"}, "tax_id"),
        ({"title": "个人", "email": "not-an-email"}, "email"),
        ({"title": "个人", "email": "a@b.c<script>"}, "email"),
    ],
)
def test_invoice_rejects_bad_values(order_service: OrderService, seeded_engine, kwargs: dict, bad_field: str) -> None:
    before = count(seeded_engine, Invoice)
    out = order_service.request_invoice(DEMO_ORDERS["delivered"], **kwargs)
    assert (out.ok, out.code, out.data.get("field")) == (False, "invalid_input", bad_field)
    assert count(seeded_engine, Invoice) == before


def test_invoice_unknown_and_junk_ids(order_service: OrderService) -> None:
    assert order_service.request_invoice("2099010100000", "个人").code == "not_found"
    for junk in JUNK:
        assert order_service.request_invoice(junk, "个人").code == "invalid_input"  # type: ignore[arg-type]


# --------------------------------------------------------------------------- complaints


def test_file_complaint_stores_it(order_service: OrderService, seeded_engine, seed_now) -> None:
    cid = order_service.file_complaint("conv-42", "快递员态度很差", order_id=DEMO_ORDERS["delivered"])
    assert cid.startswith("TS" + format_shanghai(seed_now, "%Y%m%d"))
    with Session(seeded_engine, future=True) as s:
        c = s.get(Complaint, cid)
        assert (c.conversation_id, c.order_id, c.text, c.status) == (
            "conv-42", DEMO_ORDERS["delivered"], "快递员态度很差", "待处理",
        )
        assert c.created_at == seed_now


@pytest.mark.parametrize("junk", JUNK)
def test_file_complaint_never_loses_messy_input(order_service: OrderService, seeded_engine, junk: object) -> None:
    cid = order_service.file_complaint(junk, junk, order_id=junk)  # type: ignore[arg-type]
    with Session(seeded_engine, future=True) as s:
        c = s.get(Complaint, cid)
    assert c is not None and c.order_id is None
    assert "\x00" not in c.text and len(c.text) <= 2000 and len(c.conversation_id) <= 128


def test_file_complaint_keeps_malformed_order_number_in_text(order_service: OrderService, seeded_engine) -> None:
    cid = order_service.file_complaint("conv-7", "东西坏了", order_id="订单12345")
    with Session(seeded_engine, future=True) as s:
        c = s.get(Complaint, cid)
    assert c.order_id is None and "订单12345" in c.text and c.text.startswith("东西坏了")


# --------------------------------------------------------------------------- database down


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-dir/for/sure/shop.db",
        pytest.param("postgresql+psycopg2://postgres@127.0.0.1:1/test", marks=pytest.mark.postgres),
    ],
    ids=["sqlite", "postgresql"],
)
def test_database_down_raises_database_unavailable(url: str) -> None:
    svc = OrderService(make_engine(url))
    calls = [
        lambda: svc.find_order(DEMO_ORDERS["shipped"]),
        lambda: svc.verify_phone_tail(DEMO_ORDERS["shipped"], "1234"),
        lambda: svc.orders_of_customer("C0001"),
        lambda: svc.customer_profile("C0001"),
        lambda: svc.tracking(DEMO_ORDERS["shipped"]),
        lambda: svc.cancel_order(DEMO_ORDERS["paid"]),
        lambda: svc.modify_order(DEMO_ORDERS["paid"], receiver_name="王五"),
        lambda: svc.request_refund(DEMO_ORDERS["shipped"]),
        lambda: svc.return_eligibility(DEMO_ORDERS["delivered"]),
        lambda: svc.request_invoice(DEMO_ORDERS["delivered"], "个人"),
        lambda: svc.active_promotions(),
        lambda: svc.file_complaint("conv", "text"),
    ]
    for call in calls:
        with pytest.raises(DatabaseUnavailable):
            call()
    # malformed input is answered without touching the database at all
    assert svc.find_order("1' OR '1'='1") is None


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_database_without_schema_is_unavailable(request, tmp_path, backend: str) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        url = request.getfixturevalue("pg_database_url")
    eng = make_engine(url)
    svc = OrderService(eng)
    try:
        with pytest.raises(DatabaseUnavailable):
            svc.find_order(DEMO_ORDERS["shipped"])
        with pytest.raises(DatabaseUnavailable):
            svc.cancel_order(DEMO_ORDERS["paid"])
    finally:
        eng.dispose()


def test_service_defaults_to_database_url(monkeypatch, tmp_path) -> None:
    from bot.orders.db import get_engine

    url = f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    svc = OrderService()
    assert svc.engine is get_engine(url) and str(svc.engine.url) == url
    assert OrderService().engine is svc.engine
    svc.engine.dispose()


def test_times_are_aware_utc(order_service: OrderService) -> None:
    view = order_service.find_order(DEMO_ORDERS["delivered"])
    for t in (view.created_at, view.paid_at, view.shipped_at, view.delivered_at):
        assert t.tzinfo is not None and t.utcoffset() == timedelta(0)
    assert view.delivered_at.astimezone(timezone(timedelta(hours=8))) == to_shanghai(view.delivered_at)


@pytest.mark.parametrize("text", ["哦 对的 没问题", "放在这里就好谢谢", "我知道了没问题的"])
def test_chatter_typed_where_the_address_was_asked_is_not_an_address(text):
    from bot.orders.values import clean_address

    assert clean_address(text) is None
