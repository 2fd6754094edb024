"""Reading query-string values; a malformed value is treated as absent, never as an error page."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import request

from ..domain.stores import StoreInfo
from .i18n import local_days, local_today

# Ids and cursors are INTEGER keys (32 bits on PostgreSQL): a larger number matches nothing.
LARGEST_ID = 2**31 - 1


def int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 11 and int(value) <= LARGEST_ID else None


# Further than any list a person pages through; keeps OFFSET inside what a database integer holds.
MAX_PAGE = 100_000


def page_arg() -> int:
    return min(max(int_arg("page") or 1, 1), MAX_PAGE)


def str_arg(name: str, limit: int = 100) -> str | None:
    value = request.args.get(name, "").strip()
    return value[:limit] or None


# Sales are between 2000 and tomorrow (domain/sales.py); a filter day outside these bounds is
# clamped, so the day after it or its local midnight can always be computed.
EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2999, 12, 30)


def date_arg(name: str) -> date | None:
    try:
        day = date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None
    return min(max(day, EARLIEST_DAY), LATEST_DAY)


def day_range(default_days: int) -> tuple[date, date, datetime, datetime]:
    """?from= and ?to= (days in the dashboard's time zone, inclusive), defaulting to the last
    `default_days` days; also as the UTC instants [start, end). Every date filter goes through here."""
    last = date_arg("to") or local_today()
    first = date_arg("from") or last - timedelta(days=default_days - 1)
    if first > last:
        first, last = last, first
    return (first, last, *local_days(first, last))


def chosen_store(stores: list[StoreInfo]) -> StoreInfo | None:
    """?store= (a store code, in any case) when it is one of `stores`; None otherwise."""
    code = (str_arg("store", 16) or "").upper()
    return next((store for store in stores if store.code == code), None)


def period_args(first: date | None, last: date | None) -> dict[str, str | None]:
    """A period as the ?from= and ?to= arguments of links that keep it (None: open-ended)."""
    return {"from": first.isoformat() if first else None, "to": last.isoformat() if last else None}


def optional_day_range() -> tuple[date | None, date | None, datetime | None, datetime | None]:
    """?from= and ?to= when given (either may be absent: open-ended), read as day_range reads them."""
    first, last = date_arg("from"), date_arg("to")
    if first and last and first > last:
        first, last = last, first
    start = local_days(first, first)[0] if first else None
    end = local_days(last, last)[1] if last else None
    return first, last, start, end
