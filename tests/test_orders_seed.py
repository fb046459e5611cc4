"""The demo shop seed: deterministic, complete, internally consistent, same on both backends."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from bot.orders.db import make_engine
from bot.orders.models import (
    ORDER_STATUSES,
    Customer,
    Exchange,
    Invoice,
    Order,
    OrderItem,
    Promotion,
    Refund,
    TrackingEvent,
)
from bot.orders.seed import (
    _DEMO_SPEC,
    CATALOG,
    DEMO_ORDERS,
    DEMO_PHONE_TAILS,
    build_shop,
    demo_table,
    main,
    order_count,
    seed,
)
from bot.orders.service import OrderService
from bot.orders.timeutil import UTC, format_shanghai

ROOT = Path(__file__).resolve().parents[1]
FIXED_NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)

TABLES = [
    (Customer, Customer.id),
    (Order, Order.order_id),
    (OrderItem, OrderItem.id),
    (TrackingEvent, TrackingEvent.id),
    (Refund, Refund.id),
    (Invoice, Invoice.id),
    (Promotion, Promotion.id),
    (Exchange, Exchange.id),
]


def dump(engine) -> dict[str, list[tuple]]:
    """Every seeded row as plain tuples (ORM-level values, so Money/UTC types compare alike)."""
    out: dict[str, list[tuple]] = {}
    with Session(engine, future=True) as s:
        for model, key in TABLES:
            cols = [c.key for c in model.__table__.columns]
            rows = s.execute(select(model).order_by(key)).scalars().all()
            out[model.__tablename__] = [tuple(getattr(r, c) for c in cols) for r in rows]
    return out


def test_build_is_deterministic() -> None:
    def flat(data) -> list:
        rows = []
        for group in (data.customers, data.orders, data.items, data.events, data.refunds, data.invoices, data.promotions,
                      data.exchanges):
            for obj in group:
                rows.append(tuple(getattr(obj, c.key) for c in obj.__table__.columns))
        return rows

    assert flat(build_shop(FIXED_NOW)) == flat(build_shop(FIXED_NOW))
    other = build_shop(FIXED_NOW + timedelta(days=40))
    assert [c.phone for c in other.customers] == [c.phone for c in build_shop(FIXED_NOW).customers]


@pytest.mark.parametrize("now", [FIXED_NOW, FIXED_NOW + timedelta(days=123, hours=17)])
def test_the_shop_has_the_same_size_whenever_it_is_seeded(now) -> None:
    """Docs and the conversation suite quote these counts; the exchanges came later and were
    drawn last, so everything before them is what it was."""
    data = build_shop(now)
    sizes = {name: len(getattr(data, name)) for name in
             ("customers", "orders", "items", "events", "refunds", "invoices", "promotions", "exchanges")}
    assert sizes == {"customers": 80, "orders": 300, "items": 575, "events": 792, "refunds": 62,
                     "invoices": 33, "promotions": 5, "exchanges": 2}


def test_seeded_exchanges_are_consistent(seeded_engine, seed_now) -> None:
    with Session(seeded_engine, future=True) as s:
        exchanges = s.execute(select(Exchange)).scalars().all()
        orders = {o.order_id: o for o in s.execute(select(Order)).scalars().all()}
        refunded = set(s.execute(select(Refund.order_id)).scalars().all())
    assert sorted(e.status for e in exchanges) == ["处理中", "已完成"]
    svc = OrderService(seeded_engine, now=lambda: seed_now)
    for e in exchanges:
        order = orders[e.order_id]
        assert e.id.startswith("HH") and e.reason
        assert order.status == "已签收" and e.order_id not in refunded
        assert order.order_id not in DEMO_ORDERS.values() and order.customer_id not in ("C0001", "C0002")
        assert order.delivered_at <= e.created_at <= e.updated_at <= seed_now
        assert e.created_at <= order.delivered_at + timedelta(days=7)  # asked inside the window
        if e.status == "处理中":
            assert svc.return_eligibility(e.order_id).code == "exchange_exists"
            assert svc.exchange_of(e.order_id)["open"]
    for oid in DEMO_ORDERS.values():
        assert svc.exchange_of(oid) is None


def test_same_data_on_both_backends(engine, tmp_path) -> None:
    """Seeding SQLite and the parametrised backend at the same instant gives identical rows."""
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    seed(reference, now=FIXED_NOW)
    seed(engine, now=FIXED_NOW)
    assert dump(engine) == dump(reference)
    reference.dispose()


def test_seed_refuses_to_write_twice(engine) -> None:
    seed(engine, now=FIXED_NOW)
    before = order_count(engine)
    with pytest.raises(RuntimeError):
        seed(engine, now=FIXED_NOW)
    assert order_count(engine) == before


def test_shop_coverage(seeded_engine, seed_now) -> None:
    with Session(seeded_engine, future=True) as s:
        customers = s.execute(select(Customer)).scalars().all()
        orders = s.execute(select(Order)).scalars().all()
        items = s.execute(select(OrderItem)).scalars().all()
        promos = s.execute(select(Promotion)).scalars().all()
        invoices = s.execute(select(Invoice)).scalars().all()
    assert len(customers) >= 60
    assert {c.vip_level for c in customers} == set(range(6))
    phones = [c.phone for c in customers]
    assert len(set(phones)) == len(phones)
    assert all(re.fullmatch(r"1[358][0-9]{9}", p) for p in phones)
    assert {p[:2] for p in phones} == {"13", "15", "18"}

    assert len(orders) >= 240
    assert set(Counter(o.status for o in orders)) == set(ORDER_STATUSES)
    assert {o.order_type for o in orders} == {"normal", "presale"}
    assert all(re.fullmatch(r"[0-9]{13}", o.order_id) for o in orders)
    for o in orders:
        if o.order_id not in DEMO_ORDERS.values():
            assert o.order_id[:8] == format_shanghai(o.created_at, "%Y%m%d")
        assert seed_now - timedelta(days=61) <= o.created_at <= seed_now
        assert o.total == sum(i.price * i.qty for i in items if i.order_id == o.order_id)

    categories = {c[0] for c in CATALOG if c[1] in {i.name for i in items}}
    assert len(categories) >= 8

    assert 4 <= len(promos) <= 6
    assert any(p.starts_at <= seed_now < p.ends_at for p in promos)
    assert any(p.ends_at <= seed_now for p in promos)
    assert invoices


def test_life_cycle_is_consistent(seeded_engine, seed_now) -> None:
    with Session(seeded_engine, future=True) as s:
        orders = s.execute(select(Order)).scalars().all()
        events = s.execute(select(TrackingEvent)).scalars().all()
        refunds = s.execute(select(Refund)).scalars().all()
    by_order: dict[str, list[TrackingEvent]] = {}
    for e in events:
        by_order.setdefault(e.order_id, []).append(e)
    refunded = {r.order_id for r in refunds}
    for o in orders:
        times = [t for t in (o.created_at, o.paid_at, o.shipped_at, o.delivered_at) if t is not None]
        assert times == sorted(times) and times[-1] <= seed_now, o.order_id
        if o.status == "待付款":
            assert o.paid_at is None and o.shipped_at is None
        if o.status in ("待发货", "已发货", "已签收", "退款中", "已退款"):
            assert o.paid_at is not None
        if o.status == "待发货":
            assert o.shipped_at is None and o.order_id not in by_order
        if o.status in ("已发货", "已签收"):
            evs = by_order[o.order_id]
            assert 2 <= len(evs) <= 6 and o.carrier and o.tracking_no
            assert all(re.match(r"【[^】]+】", e.description) for e in evs)
            assert all(o.shipped_at <= e.time <= seed_now for e in evs)
            assert "揽收" in min(evs, key=lambda e: e.time).description
        if o.status == "已发货":
            assert o.delivered_at is None
        if o.status == "已签收":
            last = max(by_order[o.order_id], key=lambda e: e.time)
            assert "签收" in last.description and last.time == o.delivered_at
        if o.status in ("退款中", "已退款"):
            assert o.order_id in refunded
    for r in refunds:
        assert r.id.startswith("R") and r.expected_by > r.created_at
        status = next(o.status for o in orders if o.order_id == r.order_id)
        if status == "退款中":
            assert r.status == "退款中"
        if status == "已退款":
            assert r.status == "已退款"


def test_demo_orders_match_their_roles(seeded_engine, seed_now) -> None:
    svc = OrderService(seeded_engine, now=lambda: seed_now)
    for role, (oid, status, otype, cid) in _DEMO_SPEC.items():
        view = svc.find_order(oid)
        assert view is not None, role
        assert (view.status, view.order_type, view.customer_id) == (status, otype, cid), role
        assert svc.verify_phone_tail(oid, DEMO_PHONE_TAILS[role]), role
        assert view.phone_masked.endswith(DEMO_PHONE_TAILS[role])
    assert svc.return_eligibility(DEMO_ORDERS["delivered"]).ok
    assert svc.return_eligibility(DEMO_ORDERS["delivered_old"]).code == "window_expired"
    assert len(svc.tracking(DEMO_ORDERS["shipped"], limit=10)) >= 2
    assert {r["role"] for r in demo_table(seeded_engine)} == set(DEMO_ORDERS)


def test_reset_touches_only_shop_tables(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE hub_probe (id INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO hub_probe (id) VALUES (7)"))
    seed(engine, now=FIXED_NOW)
    url = engine.url.render_as_string(hide_password=False)
    assert main(["--url", url, "--reset"]) == 0
    check = make_engine(url)
    try:
        assert order_count(check) >= 240
        with check.connect() as conn:
            assert conn.execute(text("SELECT id FROM hub_probe")).scalar_one() == 7
        assert "hub_probe" in inspect(check).get_table_names()
    finally:
        check.dispose()


def test_cli(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bot.orders.seed", "--url", url, *args],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )

    first = run("--show-demo")
    assert first.returncode == 0, first.stderr
    assert "2025061800001" in first.stdout  # the fixed spec is shown even before seeding
    first = run("--if-empty", "--show-demo")
    assert first.returncode == 0, first.stderr
    assert "seeded" in first.stdout
    for role, oid in DEMO_ORDERS.items():
        assert re.search(rf"^{role}\s+{oid}\s+\S+\s+\S+\s+C\d{{4}}\s+{DEMO_PHONE_TAILS[role]}$", first.stdout, re.M)
    eng = make_engine(url)
    before = order_count(eng)
    again = run()
    assert again.returncode == 1 and "--reset" in again.stderr
    skipped = run("--if-empty")
    assert skipped.returncode == 0 and "nothing to do" in skipped.stdout
    assert order_count(eng) == before
    eng.dispose()
    assert "13812341234" not in first.stdout + again.stdout + again.stderr
