"""Pagination and the few SQL expressions that differ between SQLite and PostgreSQL."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Generic, TypeVar

from sqlalchemy import Date, Select, cast, func, or_, select

from ...extensions import db
from ..text import is_storable, storable

T = TypeVar("T")
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


def newest_first(stmt: Select, id_col, convert: Callable[[Any], T], *, time_col=None,
                 before: int | None = None, after: int | None = None, per_page: int = PER_PAGE) -> Page[T]:
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
    rows = db.session.execute(stmt.order_by(*order).limit(per_page + 1)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    if newer_direction:
        rows.reverse()
    if not rows:
        return Page([])
    has_newer = more if newer_direction else cursor is not None
    has_older = True if newer_direction else more
    return Page([convert(row) for row in rows],
                newer=rows[0]._mapping[id_col] if has_newer else None,
                older=rows[-1]._mapping[id_col] if has_older else None)


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


def utc_day(column):
    """The UTC calendar day of a timestamp column."""
    if _dialect() == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


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
