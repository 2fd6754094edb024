"""Reading query-string values; a malformed value is treated as absent, never as an error page."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from flask import request


def int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 19 else None


def page_arg() -> int:
    return max(int_arg("page") or 1, 1)


def str_arg(name: str, limit: int = 100) -> str | None:
    value = request.args.get(name, "").strip()
    return value[:limit] or None


def date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def utc_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def day_range(default_days: int) -> tuple[date, date, datetime, datetime]:
    """?from= and ?to= (UTC days, inclusive), defaulting to the last `default_days` days; also as [start, end)."""
    today = datetime.now(timezone.utc).date()
    last = date_arg("to") or today
    first = date_arg("from") or last - timedelta(days=default_days - 1)
    if first > last:
        first, last = last, first
    return first, last, utc_day_start(first), utc_day_start(last + timedelta(days=1))
