"""The order data layer: models, engine, and the service the actions call."""

from .db import DatabaseUnavailable, database_url, get_engine
from .service import (
    OrderService,
    OrderView,
    Outcome,
    TrackingView,
    mask_phone,
    normalize_order_id,
    refund_eta,
    return_window_open,
)

__all__ = [
    "DatabaseUnavailable",
    "OrderService",
    "OrderView",
    "Outcome",
    "TrackingView",
    "database_url",
    "get_engine",
    "mask_phone",
    "normalize_order_id",
    "refund_eta",
    "return_window_open",
]
