"""The order service the actions call. It returns data and outcome codes, never
customer-facing text: the actions word the replies.

Every public method accepts untrusted input (slot values, free text): malformed input
gives None / [] / Outcome(ok=False, code="invalid_input") and never reaches SQL. State
changes run in one transaction with a compare-and-set on the order status (so two
concurrent requests cannot both cancel or refund) and write an OrderChange audit row.
A refund (or return) and an exchange are never open on one order at the same time: each
refuses while the other is open."""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

from .db import DatabaseUnavailable, get_engine
from .models import (
    EXCHANGE_OPEN,
    Complaint,
    Customer,
    Exchange,
    Invoice,
    Order,
    OrderChange,
    Promotion,
    Refund,
    TrackingEvent,
)
from .timeutil import add_working_days, as_utc, format_shanghai, utcnow
from .values import (
    clean_email,
    clean_invoice_title,
    clean_order_field,
    clean_tax_id,
    exchange_details,
)

log = logging.getLogger(__name__)

RETURN_WINDOW = timedelta(days=7)
NORMAL_REFUND_HOURS = 72
PRESALE_REFUND_WORKING_DAYS = 15

CANCELLABLE = ("待付款", "待发货")
MODIFIABLE = ("待付款", "待发货")
REFUNDABLE = ("待发货", "已发货", "已签收")
INVOICEABLE = ("待发货", "已发货", "已签收")

_MAX_RAW = 64  # longest raw string we even look at for ids / phones
_ORDER_ID_RE = re.compile(r"[0-9]{12,20}")
_CUSTOMER_ID_RE = re.compile(r"C[0-9]{1,15}")
_TAIL_RE = re.compile(r"[0-9]{4}")


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class OrderView:
    order_id: str
    customer_id: str
    status: str
    order_type: str
    total: float
    items: list[str]
    created_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    carrier: str | None
    tracking_no: str | None
    phone_masked: str
    address_masked: str
    vip_level: int


@dataclass(frozen=True)
class TrackingView:
    time: datetime
    location: str
    description: str


@dataclass(frozen=True)
class Outcome:
    ok: bool
    code: str
    data: dict = field(default_factory=dict)


def _refused(code: str, **data: Any) -> Outcome:
    return Outcome(ok=False, code=code, data=data)


INVALID = Outcome(ok=False, code="invalid_input", data={})


# --------------------------------------------------------------------------- pure helpers


def _nfkc(raw: object, max_len: int) -> str | None:
    """NFKC-normalised, stripped str (full-width digits become ASCII), or None if unusable."""
    if not isinstance(raw, str) or len(raw) > max_len:
        return None
    return unicodedata.normalize("NFKC", raw).strip()


def normalize_order_id(raw: str) -> str | None:
    """The order number as 12–20 ASCII digits; anything else (letters, SQL, HTML) → None.

    Inner spaces are dropped (customers type "2024 0909 11223"); full-width digits are
    accepted because Chinese IMEs produce them."""
    text = _nfkc(raw, _MAX_RAW)
    if text is None:
        return None
    text = re.sub(r"\s+", "", text)
    return text if _ORDER_ID_RE.fullmatch(text) else None


def _normalize_customer_id(raw: object) -> str | None:
    text = _nfkc(raw, 16)
    if text is None:
        return None
    text = text.upper()
    return text if _CUSTOMER_ID_RE.fullmatch(text) else None


def mask_phone(phone: str) -> str:
    """"13812341234" -> "138****1234". Never returns the full number; junk gives "****"."""
    if not isinstance(phone, str):
        return "****"
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", phone[:_MAX_RAW]))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) < 8:
        return "****"
    return f"{digits[:3]}****{digits[-4:]}"


def mask_address(address: str) -> str:
    """Keep the region (up to the district/county), hide street and house number."""
    if not isinstance(address, str) or not address:
        return "****"
    m = re.match(r"^(.{2,16}?(?:区|县|旗|市辖区))", address)
    head = m.group(1) if m else address[: min(6, max(len(address) // 2, 1))]
    return f"{head}****"


def refund_eta(order_type: str, approved_at: datetime) -> datetime:
    """When the money should be back: normal orders 72 h after approval, pre-sale orders
    15 working days (Mon–Fri on the Shanghai calendar; public holidays not modelled)."""
    start = as_utc(approved_at)
    if order_type == "normal":
        return start + timedelta(hours=NORMAL_REFUND_HOURS)
    if order_type == "presale":
        return add_working_days(start, PRESALE_REFUND_WORKING_DAYS)
    raise ValueError(f"unknown order_type {order_type!r}")


def return_window_open(delivered_at: datetime | None, now: datetime) -> bool:
    """七天无理由: open for 7 × 24 h from the delivery (sign-off) instant, inclusive."""
    if delivered_at is None:
        return False
    return as_utc(now) <= as_utc(delivered_at) + RETURN_WINDOW


def return_deadline(delivered_at: datetime) -> datetime:
    """Last instant of the 7-day no-reason return window."""
    return as_utc(delivered_at) + RETURN_WINDOW


def refund_refusal(status: str, delivered_at: datetime | None, now: datetime) -> str | None:
    """Why a refund cannot be opened for an order in `status` (None: it can). Open refunds
    (退款中/已退款) are reported separately as refund_exists."""
    if status == "待付款":
        return "not_paid"
    if status == "已取消":
        return "already_cancelled"
    if status not in REFUNDABLE:
        return "not_refundable"
    if status == "已签收" and not return_window_open(delivered_at, now):
        return "window_expired"
    return None


def clean_text(raw: object, max_len: int) -> str | None:
    """Free text safe for any backend: control chars, NUL and lone surrogates removed,
    whitespace collapsed, cut to max_len. None if not a str. (PostgreSQL rejects NUL.)"""
    if not isinstance(raw, str):
        return None
    raw = raw[: max_len * 4]
    text = "".join(
        ch
        for ch in raw
        if not (unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") and ch not in "\n\t")
    )
    text = re.sub(r"[ \t\r\f\v]+", " ", text).strip()
    return text[:max_len]


def _new_id(prefix: str, now: datetime) -> str:
    """Readable unique id: prefix + Shanghai date + 8 random digits."""
    return f"{prefix}{format_shanghai(now, '%Y%m%d')}{secrets.randbelow(10**8):08d}"


# --------------------------------------------------------------------------- service


class OrderService:
    """Reads and changes orders for the actions. Construct once per process and reuse."""

    def __init__(self, engine: Engine | None = None, now: Callable[[], datetime] = utcnow):
        self.engine = engine if engine is not None else get_engine()
        self._now = now

    def now(self) -> datetime:
        return as_utc(self._now())

    # ---- plumbing

    @contextmanager
    def _session(self, write: bool = False) -> Iterator[Session]:
        """One unit of work; a database that cannot be reached becomes DatabaseUnavailable."""
        try:
            with Session(self.engine, future=True, expire_on_commit=False) as session:
                if write:
                    with session.begin():
                        yield session
                else:
                    yield session
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as err:
            log.warning("order database unavailable: %s", type(err.orig).__name__)
            raise DatabaseUnavailable("order database unavailable") from err
        except sa_exc.ProgrammingError as err:
            # a PostgreSQL database without the shop schema is as unusable as a down one
            if "does not exist" in str(err.orig):
                raise DatabaseUnavailable("order schema missing") from err
            raise

    def _audit(self, session: Session, order_id: str, field_name: str, old: Any, new: Any) -> None:
        session.add(
            OrderChange(
                order_id=order_id,
                field=field_name,
                old=None if old is None else str(old),
                new=None if new is None else str(new),
                at=self.now(),
            )
        )

    @staticmethod
    def _set_status(session: Session, order_id: str, old: str, new: str) -> bool:
        """Compare-and-set: only succeeds if nobody changed the status meanwhile."""
        result = session.execute(
            update(Order)
            .where(Order.order_id == order_id, Order.status == old)
            .values(status=new)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    @staticmethod
    def _load_for_update(session: Session, order_id: str) -> Order | None:
        """The order, locked until the transaction ends. PostgreSQL locks the row (FOR UPDATE);
        SQLite has no row locks, so a write that changes nothing takes the database's write
        lock first. Either way what is checked next (an open refund or exchange) cannot be
        changed by another request before this one commits."""
        if session.get_bind().dialect.name == "sqlite":
            session.execute(
                update(Order)
                .where(Order.order_id == order_id)
                .values(status=Order.status)
                .execution_options(synchronize_session=False)
            )
        return session.execute(
            select(Order).where(Order.order_id == order_id).with_for_update()
        ).scalar_one_or_none()

    @staticmethod
    def _open_exchange(session: Session, order_id: str) -> Exchange | None:
        return session.execute(
            select(Exchange)
            .where(Exchange.order_id == order_id, Exchange.status.in_(EXCHANGE_OPEN))
            .order_by(Exchange.created_at.desc())
            .limit(1)
        ).scalar_one_or_none()

    @staticmethod
    def _exchange_data(exchange: Exchange) -> dict:
        return {
            "exchange_id": exchange.id,
            "exchange_status": exchange.status,
            "open": exchange.status in EXCHANGE_OPEN,
            "size": exchange.size,
            "notes": exchange.notes,
            "reason": exchange.reason,
            "created_at": exchange.created_at,
            "created_local": format_shanghai(exchange.created_at),
            "updated_at": exchange.updated_at,
        }

    def _return_check(self, session: Session, order: Order, now: datetime) -> Outcome:
        """Can the delivered goods of `order` go back (return or exchange) now? ok ("eligible")
        with the window's deadline, or the refusal; an open exchange refuses as exchange_exists."""
        oid, status, delivered_at = order.order_id, order.status, order.delivered_at
        if status in ("退款中", "已退款"):
            return _refused("refund_exists", order_id=oid, status=status)
        if status == "已取消":
            return _refused("already_cancelled", order_id=oid, status=status)
        if status != "已签收" or delivered_at is None:
            return _refused("not_delivered", order_id=oid, status=status)
        deadline = return_deadline(delivered_at)
        data = {
            "order_id": oid,
            "delivered_at": delivered_at,
            "deadline": deadline,
            "deadline_local": format_shanghai(deadline),
        }
        exchange = self._open_exchange(session, oid)
        if exchange is not None:
            return _refused("exchange_exists", **data, status=status, **self._exchange_data(exchange))
        if not return_window_open(delivered_at, now):
            return _refused("window_expired", **data)
        data["days_left"] = max(0, (deadline - now).days)
        return Outcome(ok=True, code="eligible", data=data)

    @staticmethod
    def _view(order: Order, customer: Customer | None) -> OrderView:
        return OrderView(
            order_id=order.order_id,
            customer_id=order.customer_id,
            status=order.status,
            order_type=order.order_type,
            total=float(order.total),
            items=[f"{it.name} ×{it.qty}" for it in order.items],
            created_at=order.created_at,
            paid_at=order.paid_at,
            shipped_at=order.shipped_at,
            delivered_at=order.delivered_at,
            carrier=order.carrier,
            tracking_no=order.tracking_no,
            phone_masked=mask_phone(order.receiver_phone),
            address_masked=mask_address(order.address),
            vip_level=customer.vip_level if customer is not None else 0,
        )

    def _create_refund(
        self, session: Session, order: Order, reason: str, now: datetime
    ) -> Refund:
        refund = Refund(
            id=_new_id("R", now),
            order_id=order.order_id,
            amount=order.total,
            reason=reason,
            status="退款中",
            created_at=now,
            expected_by=refund_eta(order.order_type, now),
        )
        session.add(refund)
        return refund

    @staticmethod
    def _refund_data(refund: Refund, order_type: str) -> dict:
        return {
            "refund_id": refund.id,
            "amount": float(refund.amount),
            "expected_by": refund.expected_by,
            "expected_by_local": format_shanghai(refund.expected_by),
            "order_type": order_type,
        }

    # ---- reads

    def find_order(self, order_id: str) -> OrderView | None:
        """The order with masked contact data; None for unknown or malformed ids."""
        oid = normalize_order_id(order_id)
        if oid is None:
            return None
        with self._session() as s:
            order = s.execute(
                select(Order)
                .where(Order.order_id == oid)
                .options(selectinload(Order.items), selectinload(Order.customer))
            ).scalar_one_or_none()
            return self._view(order, order.customer) if order is not None else None

    def verify_phone_tail(self, order_id: str, tail: str) -> bool:
        """True iff `tail` is the last 4 digits of the order's receiver phone.

        Callers must limit attempts per conversation: 4 digits are guessable."""
        oid = normalize_order_id(order_id)
        text = _nfkc(tail, 16)
        if oid is None or text is None or not _TAIL_RE.fullmatch(text):
            return False
        with self._session() as s:
            phone = s.execute(
                select(Order.receiver_phone).where(Order.order_id == oid)
            ).scalar_one_or_none()
        if not phone or len(phone) < 4:
            return False
        return hmac.compare_digest(phone[-4:].encode(), text.encode())

    def orders_of_customer(self, customer_id: str, limit: int = 5) -> list[OrderView]:
        """The customer's orders, newest first; [] for an unknown or malformed id."""
        cid = _normalize_customer_id(customer_id)
        if cid is None or not isinstance(limit, int) or isinstance(limit, bool):
            return []
        limit = max(1, min(limit, 50))
        with self._session() as s:
            customer = s.get(Customer, cid)
            if customer is None:
                return []
            orders = (
                s.execute(
                    select(Order)
                    .where(Order.customer_id == cid)
                    .order_by(Order.created_at.desc(), Order.order_id.desc())
                    .limit(limit)
                    .options(selectinload(Order.items))
                )
                .scalars()
                .all()
            )
            return [self._view(o, customer) for o in orders]

    def delivery_details(self, order_id: str, customer_id: str | None) -> dict[str, str] | None:
        """Full receiver, phone and address, for the signed-in customer who owns the order
        only; None otherwise (a phone tail proves less than a login: others get the masked
        view of `find_order`)."""
        oid, cid = normalize_order_id(order_id), _normalize_customer_id(customer_id or "")
        if oid is None or cid is None:
            return None
        with self._session() as s:
            row = s.execute(
                select(Order.address, Order.receiver_name, Order.receiver_phone)
                .where(Order.order_id == oid, Order.customer_id == cid)
            ).one_or_none()
        if row is None:
            return None
        return {"address": row.address, "receiver_name": row.receiver_name, "phone": row.receiver_phone}

    def order_of_tracking_no(self, number: str) -> str | None:
        """The order shipped under courier waybill `number` ("772155381970880 这个快递到哪了"),
        or None; the caller verifies it like any order number."""
        no = normalize_order_id(number)  # a waybill is digits too; the same bounds apply
        if no is None:
            return None
        with self._session() as s:
            return s.execute(select(Order.order_id).where(Order.tracking_no == no).limit(1)).scalar_one_or_none()

    def order_belongs_to(self, order_id: str, customer_id: str) -> bool:
        oid = normalize_order_id(order_id)
        cid = _normalize_customer_id(customer_id)
        if oid is None or cid is None:
            return False
        with self._session() as s:
            owner = s.execute(
                select(Order.customer_id).where(Order.order_id == oid)
            ).scalar_one_or_none()
        return owner == cid

    def customer_profile(self, customer_id: str) -> dict | None:
        """{id, name, vip_level, phone_masked}; None for unknown or malformed ids."""
        cid = _normalize_customer_id(customer_id)
        if cid is None:
            return None
        with self._session() as s:
            c = s.get(Customer, cid)
            if c is None:
                return None
            return {
                "id": c.id,
                "name": c.name,
                "vip_level": c.vip_level,
                "phone_masked": mask_phone(c.phone),
            }

    def tracking(self, order_id: str, limit: int = 3) -> list[TrackingView]:
        """The latest courier events, newest first; [] when unknown/not shipped."""
        oid = normalize_order_id(order_id)
        if oid is None or not isinstance(limit, int) or isinstance(limit, bool):
            return []
        limit = max(1, min(limit, 50))
        with self._session() as s:
            rows = s.execute(
                select(TrackingEvent)
                .where(TrackingEvent.order_id == oid)
                .order_by(TrackingEvent.time.desc(), TrackingEvent.id.desc())
                .limit(limit)
            ).scalars()
            return [TrackingView(r.time, r.location, r.description) for r in rows]

    def active_promotions(self) -> list[dict]:
        """Promotions running now, ending soonest first; `rules` parsed from JSON."""
        now = self.now()
        with self._session() as s:
            promos = s.execute(
                select(Promotion)
                .where(Promotion.starts_at <= now, Promotion.ends_at > now)
                .order_by(Promotion.ends_at, Promotion.id)
            ).scalars()
            out = []
            for p in promos:
                try:
                    rules = json.loads(p.rules or "{}")
                except ValueError:
                    rules = {}
                out.append(
                    {
                        "id": p.id,
                        "title": p.title,
                        "description": p.description,
                        "starts_at": p.starts_at,
                        "ends_at": p.ends_at,
                        "ends_at_local": format_shanghai(p.ends_at),
                        "rules": rules,
                    }
                )
            return out

    def refund_of(self, order_id: str) -> dict | None:
        """The order's latest refund (id, amount, status, expected_by_local, order_type), or None."""
        oid = normalize_order_id(order_id)
        if oid is None:
            return None
        with self._session() as s:
            row = s.execute(
                select(Refund, Order.order_type)
                .join(Order, Order.order_id == Refund.order_id)
                .where(Refund.order_id == oid)
                .order_by(Refund.created_at.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        refund, order_type = row
        return {**self._refund_data(refund, order_type), "status": refund.status}

    def exchange_of(self, order_id: str) -> dict | None:
        """The order's latest exchange (exchange_id, exchange_status, open, size, notes,
        reason, created_at, created_local, updated_at), or None."""
        oid = normalize_order_id(order_id)
        if oid is None:
            return None
        with self._session() as s:
            exchange = s.execute(
                select(Exchange)
                .where(Exchange.order_id == oid)
                .order_by(Exchange.created_at.desc(), Exchange.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            return self._exchange_data(exchange) if exchange is not None else None

    def invoice_of(self, order_id: str) -> dict | None:
        """The order's invoice request that is not voided (id, status, title), or None."""
        oid = normalize_order_id(order_id)
        if oid is None:
            return None
        with self._session() as s:
            inv = s.execute(
                select(Invoice)
                .where(Invoice.order_id == oid, Invoice.status != "已作废")
                .order_by(Invoice.created_at.desc())
                .limit(1)
            ).scalar_one_or_none()
            if inv is None:
                return None
            return {"invoice_id": inv.id, "status": inv.status, "title": inv.title}

    # ---- changes

    def request_exchange(
        self, order_id: str, reason: str = "", *, size: str | None = None, notes: str | None = None
    ) -> Outcome:
        """Open an exchange (换货, status 待处理) for a delivered order inside the 7-day window.

        The order keeps its status (the goods are swapped, no money moves); the exchange row and
        its audit entry are written in one transaction. `size` and `notes` (colour, …) are what
        the request asks for; when not given they are read from `reason` if it names them.

        data: exchange_id, status (待处理), size, notes, delivered_at, deadline (aware UTC),
        deadline_local, days_left. Refused like return_eligibility (not_found, refund_exists,
        already_cancelled, not_delivered, window_expired) and exchange_exists (an open exchange
        on the order: data carries its exchange_id and exchange_status)."""
        oid = normalize_order_id(order_id)
        why = clean_text(reason if reason is not None else "", 500)
        if oid is None or why is None:
            return INVALID
        if size is None and notes is None:
            size, notes = exchange_details(why)
        else:
            size = clean_text(size, 16) if size is not None else None
            notes = clean_text(notes, 200) if notes is not None else None
            if size is None and notes is None:
                return _refused("invalid_input", field="size")
        now = self.now()
        try:
            with self._session(write=True) as s:
                order = self._load_for_update(s, oid)
                if order is None:
                    return _refused("not_found", order_id=oid)
                check = self._return_check(s, order, now)
                if not check.ok:
                    return check
                exchange = Exchange(
                    id=_new_id("HH", now),
                    order_id=oid,
                    status="待处理",
                    reason=why or "换货",
                    size=size or None,
                    notes=notes or None,
                    created_at=now,
                    updated_at=now,
                )
                s.add(exchange)
                self._audit(s, oid, "exchange", None, exchange.id)
        except sa_exc.IntegrityError:
            # the open-exchange index refused a second one that slipped past the check
            return _refused("conflict", order_id=oid)
        log.info("exchange %s opened for order %s", exchange.id, oid)
        return Outcome(
            ok=True,
            code="done",
            data={**check.data, "exchange_id": exchange.id, "status": "待处理",
                  "size": exchange.size, "notes": exchange.notes},
        )

    def cancel_order(self, order_id: str, reason: str = "") -> Outcome:
        """待付款/待发货 → 已取消; a paid order also gets a refund (data carries it)."""
        oid = normalize_order_id(order_id)
        why = clean_text(reason if reason is not None else "", 500)
        if oid is None or why is None:
            return INVALID
        now = self.now()
        with self._session(write=True) as s:
            order = self._load_for_update(s, oid)
            if order is None:
                return _refused("not_found", order_id=oid)
            status = order.status
            if status == "已取消":
                return _refused("already_cancelled", order_id=oid, status=status)
            if status in ("已发货", "已签收"):
                return _refused("already_shipped", order_id=oid, status=status)
            if status not in CANCELLABLE:
                return _refused("not_cancellable", order_id=oid, status=status)
            if not self._set_status(s, oid, status, "已取消"):
                return _refused("conflict", order_id=oid)
            self._audit(s, oid, "status", status, "已取消")
            data: dict[str, Any] = {"order_id": oid, "previous_status": status, "refund_id": None}
            if order.paid_at is not None and status == "待发货":
                refund = self._create_refund(s, order, why or "取消订单", now)
                data.update(self._refund_data(refund, order.order_type))
                self._audit(s, oid, "refund", None, refund.id)
        log.info("order %s cancelled (was %s)", oid, status)
        return Outcome(ok=True, code="done", data=data)

    def modify_order(
        self,
        order_id: str,
        *,
        address: str | None = None,
        phone: str | None = None,
        receiver_name: str | None = None,
    ) -> Outcome:
        """Change delivery details before shipping; each changed field is audited.

        data: changed (field names). Nothing to change → ok with code "no_change"."""
        oid = normalize_order_id(order_id)
        if oid is None or (address is None and phone is None and receiver_name is None):
            return INVALID
        changes: dict[str, str] = {}
        for name, column, raw in (
            ("address", "address", address),
            ("phone", "receiver_phone", phone),
            ("receiver_name", "receiver_name", receiver_name),
        ):
            if raw is None:
                continue
            value = clean_order_field(name, raw)
            if value is None:
                return _refused("invalid_input", field=name)
            changes[column] = value
        with self._session(write=True) as s:
            order = self._load_for_update(s, oid)
            if order is None:
                return _refused("not_found", order_id=oid)
            status = order.status
            if status in ("已发货", "已签收"):
                return _refused("already_shipped", order_id=oid, status=status)
            if status not in MODIFIABLE:
                return _refused("not_modifiable", order_id=oid, status=status)
            changed = [f for f, v in changes.items() if getattr(order, f) != v]
            if not changed:
                return Outcome(ok=True, code="no_change", data={"order_id": oid, "changed": []})
            result = s.execute(
                update(Order)
                .where(Order.order_id == oid, Order.status == status)
                .values({f: changes[f] for f in changed})
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                return _refused("conflict", order_id=oid)
            for f in changed:
                self._audit(s, oid, f, getattr(order, f), changes[f])
        log.info("order %s modified: %s", oid, ",".join(changed))
        return Outcome(
            ok=True,
            code="done",
            data={
                "order_id": oid,
                "changed": changed,
                "phone_masked": mask_phone(changes.get("receiver_phone", order.receiver_phone)),
                "address_masked": mask_address(changes.get("address", order.address)),
            },
        )

    def request_refund(self, order_id: str, reason: str = "") -> Outcome:
        """Open a refund for a paid order (status → 退款中).

        data: refund_id, amount, expected_by (aware UTC), expected_by_local, order_type.
        Refused: not_paid (待付款), already_cancelled, refund_exists (退款中/已退款 or open
        refund), exchange_exists (an open exchange: the goods are being swapped),
        window_expired (signed for more than 7 days ago)."""
        oid = normalize_order_id(order_id)
        why = clean_text(reason if reason is not None else "", 500)
        if oid is None or why is None:
            return INVALID
        now = self.now()
        with self._session(write=True) as s:
            order = self._load_for_update(s, oid)
            if order is None:
                return _refused("not_found", order_id=oid)
            status = order.status
            if status in ("退款中", "已退款"):
                existing = s.execute(
                    select(Refund)
                    .where(Refund.order_id == oid)
                    .order_by(Refund.created_at.desc())
                    .limit(1)
                ).scalar_one_or_none()
                data = {"order_id": oid, "status": status}
                if existing is not None:
                    data.update(self._refund_data(existing, order.order_type))
                    data["refund_status"] = existing.status
                return _refused("refund_exists", **data)
            exchange = self._open_exchange(s, oid)
            if exchange is not None:
                return _refused("exchange_exists", order_id=oid, status=status,
                                **self._exchange_data(exchange))
            refusal = refund_refusal(status, order.delivered_at, now)
            if refusal == "window_expired":
                return _refused(refusal, order_id=oid, status=status,
                                deadline=return_deadline(order.delivered_at))
            if refusal is not None:
                return _refused(refusal, order_id=oid, status=status)
            if not self._set_status(s, oid, status, "退款中"):
                return _refused("conflict", order_id=oid)
            refund = self._create_refund(s, order, why, now)
            self._audit(s, oid, "status", status, "退款中")
            self._audit(s, oid, "refund", None, refund.id)
            data = {"order_id": oid, "previous_status": status}
            data.update(self._refund_data(refund, order.order_type))
        log.info("refund %s opened for order %s", data["refund_id"], oid)
        return Outcome(ok=True, code="done", data=data)

    def return_eligibility(self, order_id: str) -> Outcome:
        """7-day no-reason return or exchange: ok ("eligible") for 已签收 within 7 days of
        sign-off and no open exchange.

        data: deadline (aware UTC), deadline_local, days_left. Refused: not_found,
        refund_exists, already_cancelled, not_delivered, exchange_exists (with the exchange's
        id and status), window_expired (with the deadline)."""
        oid = normalize_order_id(order_id)
        if oid is None:
            return INVALID
        now = self.now()
        with self._session() as s:
            order = s.get(Order, oid)
            if order is None:
                return _refused("not_found", order_id=oid)
            return self._return_check(s, order, now)

    def request_invoice(
        self,
        order_id: str,
        title: str,
        tax_id: str | None = None,
        email: str | None = None,
    ) -> Outcome:
        """Register an invoice request (status 待开具) for a paid, not refunded order.

        Refused: not_paid, not_invoiceable (cancelled/refunded), invoice_exists."""
        oid = normalize_order_id(order_id)
        if oid is None:
            return INVALID
        clean_title = clean_invoice_title(title)
        if clean_title is None:
            return _refused("invalid_input", field="title")
        clean_tax: str | None = None
        if tax_id is not None and tax_id != "":
            clean_tax = clean_tax_id(tax_id)
            if clean_tax is None:
                return _refused("invalid_input", field="tax_id")
        clean_mail: str | None = None
        if email is not None and email != "":
            clean_mail = clean_email(email)
            if clean_mail is None:
                return _refused("invalid_input", field="email")
        now = self.now()
        with self._session(write=True) as s:
            order = self._load_for_update(s, oid)
            if order is None:
                return _refused("not_found", order_id=oid)
            if order.status == "待付款":
                return _refused("not_paid", order_id=oid, status=order.status)
            if order.status not in INVOICEABLE:
                return _refused("not_invoiceable", order_id=oid, status=order.status)
            existing = s.execute(
                select(Invoice).where(Invoice.order_id == oid, Invoice.status != "已作废")
            ).scalar_one_or_none()
            if existing is not None:
                return _refused(
                    "invoice_exists", order_id=oid, invoice_id=existing.id, status=existing.status
                )
            invoice = Invoice(
                id=_new_id("FP", now),
                order_id=oid,
                title=clean_title,
                tax_id=clean_tax,
                email=clean_mail,
                status="待开具",
                created_at=now,
            )
            s.add(invoice)
            self._audit(s, oid, "invoice", None, invoice.id)
        log.info("invoice %s requested for order %s", invoice.id, oid)
        return Outcome(
            ok=True,
            code="done",
            data={"order_id": oid, "invoice_id": invoice.id, "status": "待开具", "email": clean_mail},
        )

    def file_complaint(self, conversation_id: str, text: str, order_id: str | None = None) -> str:
        """Store a complaint and return its id ("TS…").

        Complaints are never dropped for being messy: text is cleaned and cut to 2000
        characters, a malformed order number is kept inside the text instead of the
        order_id column, a missing conversation id is recorded as "unknown"."""
        conv = clean_text(conversation_id, 128) or "unknown"
        body = clean_text(text, 2000) or ""
        oid = normalize_order_id(order_id) if order_id is not None else None
        if order_id is not None and oid is None:
            raw = clean_text(order_id, 64)
            if raw:
                body = f"{body}\n[订单号原文] {raw}"[:2000]
        now = self.now()
        for _attempt in range(3):
            cid = _new_id("TS", now)
            try:
                with self._session(write=True) as s:
                    s.add(
                        Complaint(
                            id=cid,
                            conversation_id=conv,
                            order_id=oid,
                            text=body,
                            created_at=now,
                            status="待处理",
                        )
                    )
                log.info("complaint %s filed (order %s)", cid, oid or "-")
                return cid
            except sa_exc.IntegrityError:  # id collision: draw another
                continue
        raise RuntimeError("could not allocate a complaint id")


__all__ = [
    "DatabaseUnavailable",
    "OrderService",
    "OrderView",
    "Outcome",
    "TrackingView",
    "clean_text",
    "mask_address",
    "mask_phone",
    "normalize_order_id",
    "refund_eta",
    "return_deadline",
    "return_window_open",
]
