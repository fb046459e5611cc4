"""Customer panel data from the order service, tolerated missing or unavailable.

The order service is synchronous SQL, so it runs in a worker thread with a time limit:
a slow shop database must never stall the hub's event loop or a handoff.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

log = logging.getLogger("handoff.customers")

ORDER_FIELDS = ("order_id", "status", "order_type", "total", "items", "created_at",
                "shipped_at", "delivered_at", "carrier", "tracking_no")


def order_summary(view: Any) -> dict[str, Any]:
    """The console's view of one order: no full phone or address."""
    data = asdict(view) if is_dataclass(view) else dict(view)
    out = {}
    for key in ORDER_FIELDS:
        value = data.get(key)
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


class CustomerDirectory:
    """Looks customers up through ``bot.orders.service.OrderService`` when it is there."""

    def __init__(self, service: Any = None, timeout: float = 2.0) -> None:
        self._service = service
        self._tried = service is not None
        self.timeout = timeout

    def _get_service(self) -> Any:
        if not self._tried:
            self._tried = True
            try:
                from bot.orders.service import OrderService

                self._service = OrderService()
            except Exception as exc:  # missing module or database: the hub works without it
                log.warning("order service unavailable (%s); no VIP levels or orders", type(exc).__name__)
                self._service = None
        return self._service

    async def _call(self, method: str, *args: Any) -> Any:
        def run() -> Any:
            service = self._get_service()
            fn = getattr(service, method, None) if service is not None else None
            return fn(*args) if fn is not None else None

        try:
            return await asyncio.wait_for(asyncio.to_thread(run), self.timeout)
        except Exception as exc:
            log.warning("order service %s failed: %s", method, type(exc).__name__)
            return None

    async def profile(self, customer_id: str | None) -> dict[str, Any] | None:
        """``{id, name, vip_level, phone_masked}`` or None."""
        if not customer_id:
            return None
        result = await self._call("customer_profile", customer_id)
        if not isinstance(result, dict):
            return None
        return {
            "id": result.get("id", customer_id),
            "name": result.get("name"),
            "phone_masked": result.get("phone_masked"),
            "vip_level": result.get("vip_level"),
        }

    async def recent_orders(self, customer_id: str | None, limit: int = 5) -> list[dict[str, Any]]:
        if not customer_id:
            return []
        result = await self._call("orders_of_customer", customer_id, limit)
        if not result:
            return []
        try:
            return [order_summary(v) for v in result]
        except Exception:
            return []
