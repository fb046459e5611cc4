"""SQLAlchemy models of the demo shop. Tables carry a `shop_` prefix so they can live in
the same database as the hub's conversation tables and Rasa's tracker store.

Times are stored as naive UTC (portable between SQLite and PostgreSQL) and come back as
aware UTC datetimes; money is exact on both backends (NUMERIC on PostgreSQL, integer
cents on SQLite, which has no decimal type)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy import DateTime as _DateTime
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

from .timeutil import UTC, as_utc

Base = declarative_base()

ORDER_STATUSES: tuple[str, ...] = ("待付款", "待发货", "已发货", "已签收", "已取消", "退款中", "已退款")
ORDER_TYPES: tuple[str, ...] = ("normal", "presale")
REFUND_STATUSES: tuple[str, ...] = ("退款中", "已退款", "已拒绝")
INVOICE_STATUSES: tuple[str, ...] = ("待开具", "已开具", "已作废")
COMPLAINT_STATUSES: tuple[str, ...] = ("待处理", "处理中", "已解决")
EXCHANGE_STATUSES: tuple[str, ...] = ("待处理", "处理中", "已完成", "已拒绝")
EXCHANGE_OPEN: tuple[str, ...] = ("待处理", "处理中")  # at most one of these per order

_CENT = Decimal("0.01")


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC out; stored naive UTC so both backends compare alike."""

    impl = _DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:  # type: ignore[no-untyped-def]
        if value is None:
            return None
        return as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:  # type: ignore[no-untyped-def]
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Money(TypeDecorator):
    """Exact yuan amounts: NUMERIC(12,2) where available, integer cents on SQLite."""

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):  # type: ignore[no-untyped-def]
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Integer())
        return dialect.type_descriptor(Numeric(12, 2))

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        amount = Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP)
        return int(amount * 100) if dialect.name == "sqlite" else amount

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(_CENT)
        return Decimal(value).quantize(_CENT)


class Customer(Base):
    __tablename__ = "shop_customers"

    id = Column(String(16), primary_key=True)  # "C0001"
    name = Column(String(64), nullable=False)
    phone = Column(String(20), nullable=False)  # full number: never log or echo it
    vip_level = Column(Integer, nullable=False, default=0)  # 0..5
    created_at = Column(UTCDateTime, nullable=False)

    orders = relationship("Order", back_populates="customer")


class Order(Base):
    __tablename__ = "shop_orders"

    order_id = Column(String(20), primary_key=True)  # 13 digits: YYYYMMDD + 5
    customer_id = Column(String(16), ForeignKey("shop_customers.id"), nullable=False)
    status = Column(String(8), nullable=False)  # one of ORDER_STATUSES
    order_type = Column(String(8), nullable=False, default="normal")  # normal | presale
    total = Column(Money, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    paid_at = Column(UTCDateTime)
    shipped_at = Column(UTCDateTime)
    delivered_at = Column(UTCDateTime)
    address = Column(String(200), nullable=False)
    receiver_name = Column(String(32), nullable=False)
    receiver_phone = Column(String(20), nullable=False)
    carrier = Column(String(16))
    tracking_no = Column(String(32))

    customer = relationship("Customer", back_populates="orders")
    items = relationship("OrderItem", back_populates="order", order_by="OrderItem.id")
    events = relationship("TrackingEvent", back_populates="order", order_by="TrackingEvent.time")

    __table_args__ = (Index("ix_shop_orders_customer_created", "customer_id", "created_at"),)


class OrderItem(Base):
    __tablename__ = "shop_order_items"

    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(String(20), ForeignKey("shop_orders.order_id"), nullable=False, index=True)
    name = Column(String(100), nullable=False)
    sku = Column(String(32), nullable=False)
    qty = Column(Integer, nullable=False)
    price = Column(Money, nullable=False)  # unit price

    order = relationship("Order", back_populates="items")


class TrackingEvent(Base):
    __tablename__ = "shop_tracking_events"

    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(String(20), ForeignKey("shop_orders.order_id"), nullable=False)
    time = Column(UTCDateTime, nullable=False)
    location = Column(String(32), nullable=False)
    description = Column(String(200), nullable=False)

    order = relationship("Order", back_populates="events")

    __table_args__ = (Index("ix_shop_tracking_order_time", "order_id", "time"),)


class Refund(Base):
    __tablename__ = "shop_refunds"

    id = Column(String(24), primary_key=True)  # "R…"
    order_id = Column(String(20), ForeignKey("shop_orders.order_id"), nullable=False, index=True)
    amount = Column(Money, nullable=False)
    reason = Column(String(500), nullable=False, default="")
    status = Column(String(8), nullable=False)  # one of REFUND_STATUSES
    created_at = Column(UTCDateTime, nullable=False)
    expected_by = Column(UTCDateTime, nullable=False)


class Exchange(Base):
    """An exchange request (换货): the goods go back and the same item, in another size or
    colour if asked, comes out; no money moves and the order keeps its status. At most one
    open (待处理/处理中) exchange per order, kept by a partial unique index as well as by the
    service."""

    __tablename__ = "shop_exchanges"

    id = Column(String(24), primary_key=True)  # "HH…"
    order_id = Column(String(20), ForeignKey("shop_orders.order_id"), nullable=False, index=True)
    status = Column(String(8), nullable=False)  # one of EXCHANGE_STATUSES
    reason = Column(String(500), nullable=False, default="")
    size = Column(String(16))  # the size asked for, when the request names one ("XL", "42码", "大一码")
    notes = Column(String(200))  # anything else the request asks for (colour)
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)

    __table_args__ = (
        Index(
            "uq_shop_exchanges_open_order", "order_id", unique=True,
            sqlite_where=status.in_(EXCHANGE_OPEN), postgresql_where=status.in_(EXCHANGE_OPEN),
        ),
    )


class Invoice(Base):
    __tablename__ = "shop_invoices"

    id = Column(String(24), primary_key=True)  # "FP…"
    order_id = Column(String(20), ForeignKey("shop_orders.order_id"), nullable=False, index=True)
    title = Column(String(100), nullable=False)
    tax_id = Column(String(20))
    email = Column(String(254))
    status = Column(String(8), nullable=False)  # one of INVOICE_STATUSES
    created_at = Column(UTCDateTime, nullable=False)


class Promotion(Base):
    __tablename__ = "shop_promotions"

    id = Column(Integer, primary_key=True, autoincrement=True)
    title = Column(String(100), nullable=False)
    description = Column(Text, nullable=False)
    starts_at = Column(UTCDateTime, nullable=False)
    ends_at = Column(UTCDateTime, nullable=False)
    rules = Column(Text, nullable=False, default="{}")  # JSON object


class Complaint(Base):
    __tablename__ = "shop_complaints"

    id = Column(String(24), primary_key=True)  # "TS…"
    conversation_id = Column(String(128), nullable=False, index=True)
    order_id = Column(String(20))  # not a foreign key: a complaint is kept even for an unknown order
    text = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    status = Column(String(8), nullable=False, default="待处理")


class OrderChange(Base):
    """Audit trail: one row per changed field of an order, written in the same transaction."""

    __tablename__ = "shop_order_changes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(String(20), ForeignKey("shop_orders.order_id"), nullable=False, index=True)
    field = Column(String(32), nullable=False)
    old = Column(Text)
    new = Column(Text)
    at = Column(UTCDateTime, nullable=False)
