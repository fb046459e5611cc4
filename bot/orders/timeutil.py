"""Time helpers for the order data: everything is stored and computed in UTC, and only
converted to China Standard Time (Asia/Shanghai) where a time is shown or where the
business calendar (working days, "today") matters."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

try:  # the system tz database is the normal source; CST has had no DST since 1991
    from zoneinfo import ZoneInfo

    SHANGHAI = ZoneInfo("Asia/Shanghai")
except Exception:  # pragma: no cover - only on machines without tzdata
    SHANGHAI = timezone(timedelta(hours=8), "CST")  # type: ignore[assignment]

UTC = timezone.utc


def utcnow() -> datetime:
    """The current instant as an aware UTC datetime (the default clock of the service)."""
    return datetime.now(UTC)


def as_utc(dt: datetime) -> datetime:
    """Aware UTC datetime; a naive value is taken to be UTC already (that is how it is stored)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def to_shanghai(dt: datetime | None) -> datetime | None:
    """The same instant in Asia/Shanghai, for display and calendar logic."""
    if dt is None:
        return None
    return as_utc(dt).astimezone(SHANGHAI)


def format_shanghai(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Render an instant as Beijing time; empty string for a missing time."""
    local = to_shanghai(dt)
    return local.strftime(fmt) if local is not None else ""


def add_working_days(start: datetime, days: int) -> datetime:
    """`start` plus `days` working days on the Shanghai calendar, keeping the time of day.

    Saturdays and Sundays are skipped; public holidays (and the swapped make-up working
    weekends of the Chinese calendar) are NOT modelled. A start on a weekend counts
    from the following Monday, because the first counted day is the next working day.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    local = as_utc(start).astimezone(SHANGHAI)
    day = local.date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            counted += 1
    result = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=SHANGHAI)
    return result.astimezone(UTC)
