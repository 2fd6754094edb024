"""The server's side of a daily close: what it stored and refused for a till, read by query.

`Books` asks the database for one till and day at a time (answering a close,
one day's page). `PrefetchedBooks` reads a whole page of tills and days in a
handful of queries and answers the same questions from memory (the grid):
comparing 20 tills over 14 days must not cost 280 round trips of each kind.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, text

from ..database import chunks
from ..extensions import db
from ..models import DuplicateGroup, DuplicateGroupMember, Order, SyncAttempt
from ..models.sync_log import ATTEMPT_STATE_CONDITIONS
from ..vocabulary import GroupStatus, OrderStatus

# Refused sales nobody has settled yet (re-processed or handled): the skipped sales that need action.
_NEEDS_ACTION = ATTEMPT_STATE_CONDITIONS["action"]


@dataclass(frozen=True)
class StoredSale:
    id: int
    offline_id: str | None
    receipt_number: str | None
    total: Decimal
    legacy: bool
    created_at: datetime


@dataclass(frozen=True)
class TillSale:
    """A stored sale looked up by the offline_id a till counted (completed, or void and kept elsewhere)."""

    offline_id: str
    id: int
    status: str
    kept_order_id: int | None
    total: Decimal


@dataclass(frozen=True)
class Refused:
    """A refused sale of the till, not settled yet (its latest attempt)."""

    attempt_id: int
    offline_id: str | None
    receipt_number: str | None
    total: Decimal | None
    sold_at: datetime | None


class Books:
    """One till and day at a time, each question one query (or one a chunk of ids)."""

    def stored(self, device_id: int, start: datetime, end: datetime) -> list[StoredSale]:
        """The till's completed sales sold in [start, end), in sale order."""
        return [
            StoredSale(r.id, r.offline_id, r.receipt_number, r.total, r.legacy_id is not None, r.created_at)
            for r in db.session.execute(
                select(Order.id, Order.offline_id, Order.receipt_number, Order.total, Order.legacy_id, Order.created_at)
                .where(
                    Order.device_id == device_id,
                    Order.created_at >= start,
                    Order.created_at < end,
                    Order.status == OrderStatus.COMPLETED,
                )
                .order_by(Order.created_at, Order.id)
            )
        ]

    def by_offline_id(self, device_id: int, offline_ids: list[str]) -> list[TillSale]:
        found = []
        for chunk in chunks(offline_ids):
            found += [
                TillSale(r.offline_id, r.id, r.status, r.kept_order_id, r.total)
                for r in db.session.execute(
                    select(Order.offline_id, Order.id, Order.status, Order.kept_order_id, Order.total).where(
                        Order.device_id == device_id, Order.offline_id.in_(chunk)
                    )
                )
            ]
        return found

    def totals(self, order_ids: list[int]) -> dict[int, Decimal]:
        found: dict[int, Decimal] = {}
        for chunk in chunks(sorted(set(order_ids))):
            found.update(db.session.execute(select(Order.id, Order.total).where(Order.id.in_(chunk))).all())
        return found

    def refused_by_id(self, device_id: int, offline_ids: list[str]) -> dict[str, Refused]:
        found: dict[str, Refused] = {}
        for chunk in chunks(offline_ids):
            for refused in self._refused(SyncAttempt.device_id == device_id, SyncAttempt.offline_id.in_(chunk)):
                found[refused.offline_id] = refused
        return found

    def refused_in_day(self, device_id: int, start: datetime, end: datetime) -> list[Refused]:
        """One per sale (its latest attempt): a sale refused twice is one sale."""
        latest = {
            r.offline_id or f"#{r.attempt_id}": r
            for r in self._refused(
                SyncAttempt.device_id == device_id, SyncAttempt.sold_at >= start, SyncAttempt.sold_at < end
            )
        }
        return list(latest.values())

    @staticmethod
    def _refused(*conditions) -> list[Refused]:
        return [
            Refused(r.id, r.offline_id, r.receipt_number, r.total, r.sold_at)
            for r in db.session.execute(
                select(
                    SyncAttempt.id,
                    SyncAttempt.offline_id,
                    SyncAttempt.receipt_number,
                    SyncAttempt.total,
                    SyncAttempt.sold_at,
                )
                .where(*conditions, text(_NEEDS_ACTION))
                .order_by(SyncAttempt.id)
            )
        ]

    def in_open_groups(self, order_ids: list[int]) -> set[int]:
        found: set[int] = set()
        for chunk in chunks(order_ids):
            found.update(
                db.session.scalars(
                    select(DuplicateGroupMember.order_id)
                    .join(DuplicateGroup, DuplicateGroup.id == DuplicateGroupMember.group_id)
                    .where(DuplicateGroupMember.order_id.in_(chunk), DuplicateGroup.status == GroupStatus.OPEN)
                )
            )
        return found


class PrefetchedBooks(Books):
    """Every question about these tills between start and end (and these counted offline_ids), read at once."""

    def __init__(self, device_ids: list[int], start: datetime, end: datetime, offline_ids: list[str]):
        self._stored: dict[int, list[StoredSale]] = defaultdict(list)
        self._by_id: dict[tuple[int, str], TillSale] = {}
        self._refusals: dict[int, list[Refused]] = defaultdict(list)
        self._grouped: set[int] = set()
        if not device_ids:
            return
        for row in db.session.execute(
            select(
                Order.id,
                Order.offline_id,
                Order.receipt_number,
                Order.total,
                Order.legacy_id,
                Order.created_at,
                Order.device_id,
            )
            .where(
                Order.device_id.in_(device_ids),
                Order.created_at >= start,
                Order.created_at < end,
                Order.status == OrderStatus.COMPLETED,
            )
            .order_by(Order.created_at, Order.id)
        ):
            self._stored[row.device_id].append(
                StoredSale(
                    row.id, row.offline_id, row.receipt_number, row.total, row.legacy_id is not None, row.created_at
                )
            )
        # Most counted sales are among those just read; only the others (pending, voided copies, sold on
        # another day by the server's clock) are looked up by id.
        for device_id, sales in self._stored.items():
            for sale in sales:
                if sale.offline_id is not None:
                    self._by_id[(device_id, sale.offline_id)] = TillSale(
                        sale.offline_id, sale.id, OrderStatus.COMPLETED, None, sale.total
                    )
        known = {offline_id for _device_id, offline_id in self._by_id}
        for chunk in chunks(sorted(set(offline_ids) - known)):
            for found in db.session.execute(
                select(
                    Order.offline_id, Order.id, Order.status, Order.kept_order_id, Order.total, Order.device_id
                ).where(Order.device_id.in_(device_ids), Order.offline_id.in_(chunk))
            ):
                self._by_id[(found.device_id, found.offline_id)] = TillSale(
                    found.offline_id, found.id, found.status, found.kept_order_id, found.total
                )
        # The refused sales that need action are few (a partial index holds them): all of these tills'.
        for refused in db.session.execute(
            select(
                SyncAttempt.id,
                SyncAttempt.offline_id,
                SyncAttempt.receipt_number,
                SyncAttempt.total,
                SyncAttempt.sold_at,
                SyncAttempt.device_id,
            )
            .where(SyncAttempt.device_id.in_(device_ids), text(_NEEDS_ACTION))
            .order_by(SyncAttempt.id)
        ):
            self._refusals[refused.device_id].append(
                Refused(refused.id, refused.offline_id, refused.receipt_number, refused.total, refused.sold_at)
            )
        self._grouped = set(
            db.session.scalars(
                select(DuplicateGroupMember.order_id)
                .join(DuplicateGroup, DuplicateGroup.id == DuplicateGroupMember.group_id)
                .join(Order, Order.id == DuplicateGroupMember.order_id)
                .where(
                    DuplicateGroup.status == GroupStatus.OPEN,
                    Order.device_id.in_(device_ids),
                    Order.created_at >= start,
                    Order.created_at < end,
                )
            )
        )

    def stored(self, device_id, start, end):
        return [s for s in self._stored.get(device_id, ()) if start <= s.created_at < end]

    def by_offline_id(self, device_id, offline_ids):
        return [self._by_id[(device_id, i)] for i in offline_ids if (device_id, i) in self._by_id]

    def refused_by_id(self, device_id, offline_ids):
        wanted = set(offline_ids)
        return {r.offline_id: r for r in self._refusals.get(device_id, ()) if r.offline_id in wanted}

    def refused_in_day(self, device_id, start, end):
        latest = {
            r.offline_id or f"#{r.attempt_id}": r
            for r in self._refusals.get(device_id, ())
            if r.sold_at is not None and start <= r.sold_at < end
        }
        return list(latest.values())

    def in_open_groups(self, order_ids):
        return {order_id for order_id in order_ids if order_id in self._grouped}
