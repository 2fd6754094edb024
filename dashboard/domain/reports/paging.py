"""Pagination and the few SQL expressions that differ between SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Select, case, cast, func, or_, select

from ...extensions import db
from ..text import is_storable, storable

T = TypeVar("T")
SelectT = TypeVar("SelectT", bound=Select)
PER_PAGE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    """A keyset page, newest first; `newer`/`older` are the ids to pass as ?after= / ?before=."""

    items: list[T]
    newer: int | None = None
    older: int | None = None


@dataclass(frozen=True)
class NumberedPage(Generic[T]):
    """A numbered page, for small tables (devices, users) and aggregated rows."""

    items: list[T]
    page: int
    has_prev: bool
    has_next: bool


def within(stmt: SelectT, column, start: datetime | None, end: datetime | None) -> SelectT:
    """stmt limited to rows whose `column` is in [start, end); either bound may be open (None)."""
    if start is not None:
        stmt = stmt.where(column >= start)
    if end is not None:
        stmt = stmt.where(column < end)
    return stmt


def newest_first(
    stmt: Select,
    id_col,
    convert: Callable[[Any], T],
    *,
    time_col=None,
    before: int | None = None,
    after: int | None = None,
    per_page: int = PER_PAGE,
) -> Page[T]:
    """One page of stmt's rows ordered by (time_col, id_col) descending, seeking from a cursor row.

    stmt must select id_col itself (and time_col when given). The cursor is a row
    id; its time is looked up by primary key, so URLs stay short and a page is an
    index range scan from the cursor, never an OFFSET over the rows before it.
    """
    cursor = after if after is not None else before
    newer_direction = after is not None
    if cursor is not None and time_col is None:
        stmt = stmt.where(id_col > cursor if newer_direction else id_col < cursor)
    elif cursor is not None:
        at = db.session.scalar(select(time_col).where(id_col == cursor))
        if at is None:
            cursor, newer_direction = None, False
        elif newer_direction:
            stmt = stmt.where(time_col >= at, or_(time_col > at, id_col > cursor))
        else:
            stmt = stmt.where(time_col <= at, or_(time_col < at, id_col < cursor))
    keys = [time_col, id_col] if time_col is not None else [id_col]
    order = [key.asc() for key in keys] if newer_direction else [key.desc() for key in keys]
    rows = list(db.session.execute(stmt.order_by(*order).limit(per_page + 1)).all())
    more = len(rows) > per_page
    rows = rows[:per_page]
    if newer_direction:
        rows.reverse()
    if not rows:
        return Page([])
    has_newer = more if newer_direction else cursor is not None
    has_older = True if newer_direction else more
    return Page(
        [convert(row) for row in rows],
        newer=rows[0]._mapping[id_col] if has_newer else None,
        older=rows[-1]._mapping[id_col] if has_older else None,
    )


def numbered(stmt: Select, convert: Callable[[Any], T], *, page: int, per_page: int = PER_PAGE) -> NumberedPage[T]:
    """A numbered page of a small or aggregated result; looks one row ahead instead of counting."""
    page = max(page, 1)
    rows = db.session.execute(stmt.limit(per_page + 1).offset((page - 1) * per_page)).all()
    return NumberedPage([convert(row) for row in rows[:per_page]], page, page > 1, len(rows) > per_page)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def utc_bucket(column, unit: str):
    """The start of column's UTC hour or day, as the database computes it."""
    if _dialect() == "postgresql":
        return func.date_trunc(unit, func.timezone("UTC", column))
    return func.strftime("%Y-%m-%d %H:00:00" if unit == "hour" else "%Y-%m-%d 00:00:00", column)


def local_day(column, zone: str, start: datetime, end: datetime):
    """The calendar day of a timestamp column in time zone `zone`, for timestamps in [start, end).

    PostgreSQL knows time zones. SQLite does not: there the day is date(column, +offset), with one
    offset per stretch of [start, end) between the zone's clock changes (a CASE over the few changes).
    """
    if _dialect() == "postgresql":
        return cast(func.timezone(zone, column), Date)
    stretches = _offset_stretches(ZoneInfo(zone), start, end)

    def shifted(seconds: int):
        return func.date(column, f"{seconds:+d} seconds")

    if len(stretches) == 1:
        return shifted(stretches[0][1])
    return case(
        *((column < until, shifted(seconds)) for until, seconds in stretches[:-1]), else_=shifted(stretches[-1][1])
    )


def _offset_stretches(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """(until, UTC offset in seconds) for each stretch of [start, end) with one offset. Zones change
    clocks at most a few times a year, never twice in 12 hours: sampling every 12 hours, then
    bisecting to the microsecond, finds each change exactly."""

    def offset(at: datetime) -> int:
        return int(at.astimezone(zone).utcoffset().total_seconds())

    samples, at = [], start
    while at < end:
        samples.append(at)
        at += timedelta(hours=12)
    samples.append(max(start, end - timedelta(microseconds=1)))
    stretches, current = [], offset(start)
    for low, high in zip(samples, samples[1:]):
        if offset(high) == current:
            continue
        while high - low > timedelta(microseconds=1):
            middle = low + (high - low) / 2
            low, high = (middle, high) if offset(middle) == current else (low, middle)
        stretches.append((high, current))
        current = offset(high)
    stretches.append((end, current))
    return stretches


def as_utc_datetime(value) -> datetime:
    """A bucket value (a string on SQLite, a naive UTC timestamp on PostgreSQL) as an aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def as_date(value) -> date:
    """A day value (a string on SQLite) as a date."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def pretty_json(text: str | None) -> str:
    """JSON text indented for reading; text that is not JSON is returned as it is."""
    if text is None:
        return ""
    try:
        pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return storable(text)
    # An escaped lone surrogate comes back from json.loads as a character no page can encode.
    return pretty if is_storable(pretty) else json.dumps(json.loads(text), indent=2)
