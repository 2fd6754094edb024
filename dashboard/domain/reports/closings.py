"""The daily-close screens: a grid of tills by business day, and one day's closes explained.

Every comparison is recomputed here (domain/closing_check.py): a close that
showed sales pending shows them matched once they arrived. Both screens are
bounded: at most MAX_DAYS days and TILLS_PER_PAGE tills a page, keyset-paged by
till id; the closes of a page come from one query on the current-closes index,
and the server's side of the whole page from a few (closing_books.PrefetchedBooks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from ...extensions import db
from ...models import Closing, Device
from ...vocabulary import ClosingStatus
from ..business_day import day_bounds, day_of, zone_for_device
from ..closing_books import PrefetchedBooks
from ..closing_check import Comparison, compare
from ..scope import EVERY_STORE, StoreScope
from ..stores import store_of_device

MAX_DAYS = 14
TILLS_PER_PAGE = 20


@dataclass(frozen=True)
class TillCell:
    device_id: int
    device_name: str
    status: ClosingStatus
    at_stake: Decimal
    currency: str  # its store's: a chain's tills do not share one


@dataclass(frozen=True)
class GridDay:
    day: date
    cells: tuple[TillCell, ...]

    def count(self, status: str) -> int:
        return sum(1 for cell in self.cells if cell.status == status)

    @property
    def at_stake(self) -> list[tuple[str, Decimal]]:
        """(currency, money at stake) for each currency of the day's tills that differ: two stores' currencies
        are never added up."""
        totals: dict[str, Decimal] = {}
        for cell in self.cells:
            if cell.status == ClosingStatus.DIFFERS:
                totals[cell.currency] = totals.get(cell.currency, Decimal(0)) + cell.at_stake
        return sorted(totals.items())


@dataclass(frozen=True)
class ClosingGrid:
    """Days newest first; `more_tills` is the ?after= for the next page of tills (None on the last)."""

    days: tuple[GridDay, ...]
    more_tills: int | None


@dataclass(frozen=True)
class ClosingRow:
    """One close a till sent (the current one or an earlier one it replaced)."""

    id: int
    received_at: datetime
    sales_count: int
    sales_total: Decimal
    first_receipt: str | None
    last_receipt: str | None
    with_ids: bool
    status_at_receipt: str
    replaced_at: datetime | None


@dataclass(frozen=True)
class TillDay:
    device_id: int
    device_name: str
    time_zone: str
    currency: str
    comparison: Comparison
    history: tuple[ClosingRow, ...]  # newest first; the first is the current close


@dataclass(frozen=True)
class _Till:
    id: int
    name: str
    zone: str  # its store's time zone (business_day.zone_for_device), read once per page
    currency: str  # its store's
    since: date  # the till's first business day: before it, "no close" means nothing


def _tills(after: int | None, device_id: int | None, limit: int, scope: StoreScope) -> tuple[list[_Till], int | None]:
    stmt = select(Device.id, Device.name, Device.created_at).where(
        Device.token_hash.is_not(None), scope.stores(Device.store_id)
    )
    if device_id is not None:
        stmt = stmt.where(Device.id == device_id)
    if after is not None:
        stmt = stmt.where(Device.id > after)
    rows = db.session.execute(stmt.order_by(Device.id).limit(limit + 1)).all()
    tills = []
    for r in rows[:limit]:
        store = store_of_device(r.id)
        tills.append(_Till(r.id, r.name, store.time_zone, store.currency, day_of(r.created_at, store.time_zone)))
    return tills, (tills[-1].id if len(rows) > limit else None)


def _current(device_ids: list[int], first: date, last: date) -> dict[tuple[int, date], Closing]:
    if not device_ids:
        return {}
    closings = db.session.scalars(
        select(Closing).where(
            Closing.business_day >= first,
            Closing.business_day <= last,
            Closing.replaced_at.is_(None),
            Closing.device_id.in_(device_ids),
        )
    )
    return {(c.device_id, c.business_day): c for c in closings}


def _books(tills: list[_Till], first: date, last: date, closes: dict[tuple[int, date], Closing]) -> PrefetchedBooks:
    """The server's side of every till and day of the page, read in a few queries."""
    zones = {till.zone for till in tills} or {"UTC"}
    start = min(day_bounds(first, zone)[0] for zone in zones)
    end = max(day_bounds(last, zone)[1] for zone in zones)
    counted = [offline_id for c in closes.values() if c.offline_ids for offline_id in json.loads(c.offline_ids)]
    return PrefetchedBooks([till.id for till in tills], start, end, counted)


def closing_grid(
    first: date,
    last: date,
    *,
    after: int | None = None,
    limit: int = TILLS_PER_PAGE,
    scope: StoreScope = EVERY_STORE,
) -> ClosingGrid:
    """Each day from `last` back to `first` (at most MAX_DAYS), each till's close compared."""
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    tills, more = _tills(after, None, limit, scope)
    closes = _current([t.id for t in tills], first, last)
    books = _books(tills, first, last, closes)
    days = []
    day = last
    while day >= first:
        cells = []
        for till in tills:
            comparison = compare(closes.get((till.id, day)), till.id, day, till.zone, books)
            if day < till.since and comparison.status == ClosingStatus.NOT_RECEIVED and not comparison.server_count:
                continue  # not in service yet: "no close" would be noise
            cells.append(TillCell(till.id, till.name, comparison.status, comparison.at_stake, till.currency))
        days.append(GridDay(day, tuple(cells)))
        day -= timedelta(days=1)
    return ClosingGrid(tuple(days), more)


def closing_day(
    day: date,
    *,
    device_id: int | None = None,
    after: int | None = None,
    limit: int = TILLS_PER_PAGE,
    scope: StoreScope = EVERY_STORE,
) -> tuple[list[TillDay], int | None]:
    """Each till's close of one day (or one till's), compared and with its history; and the next ?after=."""
    tills, more = _tills(after, device_id, limit, scope)
    closes = _current([t.id for t in tills], day, day)
    books = _books(tills, day, day, closes)
    result = []
    for till in tills:
        zone = till.zone
        history = tuple(
            ClosingRow(
                c.id,
                c.received_at,
                c.sales_count,
                c.sales_total,
                c.first_receipt,
                c.last_receipt,
                c.offline_ids is not None,
                c.status_at_receipt,
                c.replaced_at,
            )
            for c in db.session.scalars(
                select(Closing)
                .where(Closing.device_id == till.id, Closing.business_day == day)
                .order_by(Closing.id.desc())
            )
        )
        result.append(
            TillDay(
                till.id,
                till.name,
                zone,
                till.currency,
                compare(closes.get((till.id, day)), till.id, day, zone, books),
                history,
            )
        )
    return result, more


def current_comparison(device_id: int, day: date) -> Comparison:
    """The till's current close of `day` against the server's books now (NOT_RECEIVED without one)."""
    closing = db.session.scalar(
        select(Closing).where(
            Closing.device_id == device_id, Closing.business_day == day, Closing.replaced_at.is_(None)
        )
    )
    return compare(closing, device_id, day, zone_for_device(device_id))
