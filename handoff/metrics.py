"""Supervisor figures computed from stored facts (pure functions over rows)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return float(ordered[rank - 1])


def mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def start_of_day(now: float, tz: str) -> float:
    """Epoch of local midnight: "today" is the shop's day, not UTC's."""
    local = datetime.fromtimestamp(now, ZoneInfo(tz))
    return datetime.combine(local.date(), time(0), tzinfo=ZoneInfo(tz)).timestamp()


def handoff_figures(handoffs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Today's handoffs by reason and first response times (queue entry → first agent reply)."""
    by_reason = Counter(h["reason"] for h in handoffs)
    frt = [
        h["first_response_at"] - h["queued_at"]
        for h in handoffs
        if h.get("first_response_at") is not None
    ]
    return {
        "handoffs_today": len(handoffs),
        "handoffs_by_reason": dict(by_reason),
        "first_response_seconds": {
            "avg": mean(frt),
            "p90": percentile(frt, 90),
            "count": len(frt),
        },
    }


def queue_figures(queue_items: Sequence[dict[str, Any]], now: float) -> dict[str, Any]:
    waits = [now - float(i["queued_at"]) for i in queue_items if i.get("queued_at")]
    return {"queue_length": len(queue_items), "longest_wait_seconds": max(waits) if waits else 0.0}
