"""Comparing a till's daily close with what the server stored for that till and business day.

The comparison is never stored as the truth: sales still in a till's outbox
arrive later, and duplicates are fixed later, so every page and every answer
recomputes it. A close with its offline_ids is compared sale by sale; one
without is compared by count and total, and a difference is then explained
as far as the server can (rejected sales of the day, legacy sales, copies in
an open duplicate group).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select, text

from ..extensions import db
from ..models import Closing, DuplicateGroup, DuplicateGroupMember, Order, SyncAttempt
from ..models.sync_log import ATTEMPT_STATE_CONDITIONS
from ..vocabulary import ClosingDifference, ClosingStatus, GroupStatus, OrderStatus
from .business_day import day_bounds

# Sales named in one difference, at most (the count says how many there are).
SHOWN_SALES = 100
_CHUNK = 500
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class SaleRef:
    """A sale a difference is about: stored (order_id), skipped (attempt_id), or known only by its id."""

    offline_id: str | None
    receipt_number: str | None = None
    total: Decimal | None = None
    order_id: int | None = None
    attempt_id: int | None = None


@dataclass(frozen=True)
class Difference:
    kind: ClosingDifference
    count: int
    amount: Decimal
    sales: tuple[SaleRef, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """A close against the server's books; till_* are None when no close was received."""

    status: ClosingStatus
    till_count: int | None
    till_total: Decimal | None
    server_count: int
    server_total: Decimal
    differences: tuple[Difference, ...]

    @property
    def at_stake(self) -> Decimal:
        """The money the differences are about, each counted once whatever its direction."""
        return sum((abs(d.amount) for d in self.differences), ZERO)

    def as_json(self) -> dict:
        return {
            "status": str(self.status),
            "till": {"count": self.till_count, "total": _money(self.till_total)},
            "server": {"count": self.server_count, "total": _money(self.server_total)},
            "differences": [{"kind": str(d.kind), "count": d.count, "amount": _money(d.amount),
                             "offline_ids": [s.offline_id for s in d.sales if s.offline_id]}
                            for d in self.differences],
        }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01")))


@dataclass(frozen=True)
class _Stored:
    id: int
    offline_id: str | None
    receipt_number: str | None
    total: Decimal
    legacy: bool


def compare(closing: Closing | None, device_id: int, day: date, zone: str) -> Comparison:
    """The till's close (or its absence) against the server's completed sales of that till and day."""
    start, end = day_bounds(day, zone)
    stored = [_Stored(r.id, r.offline_id, r.receipt_number, r.total, r.legacy_id is not None)
              for r in db.session.execute(
                  select(Order.id, Order.offline_id, Order.receipt_number, Order.total, Order.legacy_id)
                  .where(Order.device_id == device_id, Order.created_at >= start, Order.created_at < end,
                         Order.status == OrderStatus.COMPLETED)
                  .order_by(Order.created_at, Order.id))]
    server_total = sum((s.total for s in stored), ZERO)
    if closing is None:
        return Comparison(ClosingStatus.NOT_RECEIVED, None, None, len(stored), server_total, ())
    if closing.offline_ids is not None:
        differences = _by_sale(closing, device_id, stored)
    else:
        differences = _by_count(closing, device_id, stored, start, end)
    status = ClosingStatus.DIFFERS if differences else ClosingStatus.MATCHED
    return Comparison(status, closing.sales_count, closing.sales_total, len(stored), server_total,
                      tuple(differences))


def _by_sale(closing: Closing, device_id: int, stored: list[_Stored]) -> list[Difference]:
    """Sale by sale: each id the till counted is stored (or stands for a kept copy), skipped, or pending."""
    till_ids: list[str] = json.loads(closing.offline_ids)
    standing: dict[str, tuple[int, Decimal]] = {}  # the till's id -> the stored sale that is it
    voided: dict[str, int] = {}  # the till's id -> the copy kept in its place
    for chunk in _chunks(till_ids):
        rows = db.session.execute(
            select(Order.offline_id, Order.id, Order.status, Order.kept_order_id, Order.total)
            .where(Order.device_id == device_id, Order.offline_id.in_(chunk)))
        for row in rows:
            if row.status == OrderStatus.COMPLETED:
                standing[row.offline_id] = (row.id, row.total)
            elif row.kept_order_id is not None:
                voided[row.offline_id] = row.kept_order_id
    # Voided as a copy of another sale: the kept copy is this sale in the books.
    kept_ids = sorted(set(voided.values()))
    kept = {}
    for chunk in _chunks(kept_ids):
        kept.update(db.session.execute(select(Order.id, Order.total).where(Order.id.in_(chunk))).all())
    for offline_id, kept_id in voided.items():
        if offline_id not in standing and kept_id in kept:
            standing[offline_id] = (kept_id, kept[kept_id])
    missing = [offline_id for offline_id in till_ids if offline_id not in standing]
    skipped = _skipped_by_id(device_id, missing)
    pending = [offline_id for offline_id in missing if offline_id not in skipped]
    counted = {order_id: total for order_id, total in standing.values()}
    accounted = sum(counted.values(), ZERO) + sum((s.total or ZERO for s in skipped.values()), ZERO)
    remainder = closing.sales_total - accounted
    differences = []
    if pending:
        differences.append(Difference(ClosingDifference.PENDING, len(pending), remainder,
                                      tuple(SaleRef(offline_id) for offline_id in pending[:SHOWN_SALES])))
    elif remainder:
        differences.append(Difference(ClosingDifference.TOTAL_DIFFERS, 0, remainder))
    if skipped:
        differences.append(_skipped_difference(list(skipped.values())))
    differences += _extras([s for s in stored if s.id not in counted])
    return differences


def _by_count(closing: Closing, device_id: int, stored: list[_Stored], start, end) -> list[Difference]:
    """By count and total only (the till sent no ids): the gap, explained as far as the server can."""
    skipped = _skipped_in_day(device_id, start, end)
    skipped_total = sum((s.total or ZERO for s in skipped), ZERO)
    gap = closing.sales_count - len(skipped) - len(stored)
    remainder = closing.sales_total - skipped_total - sum((s.total for s in stored), ZERO)
    differences = []
    if skipped:
        differences.append(_skipped_difference(skipped))
    if gap > 0:
        differences.append(Difference(ClosingDifference.PENDING, gap, remainder))
    elif gap < 0:
        suspects = _extras(stored)
        explained = [d for d in suspects if d.kind != ClosingDifference.NOT_COUNTED]
        kind = explained[0].kind if explained else ClosingDifference.NOT_COUNTED
        sales = tuple(s for d in explained for s in d.sales)[:SHOWN_SALES]
        differences.append(Difference(kind, -gap, -remainder, sales))
    elif remainder:
        differences.append(Difference(ClosingDifference.TOTAL_DIFFERS, 0, remainder))
    return differences


def _extras(extra: list[_Stored]) -> list[Difference]:
    """Stored sales the till does not count, by why: legacy, a copy in an open duplicate group, or unknown."""
    if not extra:
        return []
    grouped = _in_open_groups([s.id for s in extra])
    kinds = {ClosingDifference.LEGACY: [], ClosingDifference.DUPLICATE: [], ClosingDifference.NOT_COUNTED: []}
    for sale in extra:
        kind = (ClosingDifference.LEGACY if sale.legacy else
                ClosingDifference.DUPLICATE if sale.id in grouped else ClosingDifference.NOT_COUNTED)
        kinds[kind].append(sale)
    return [Difference(kind, len(sales), -sum((s.total for s in sales), ZERO),
                       tuple(SaleRef(s.offline_id, s.receipt_number, s.total, order_id=s.id)
                             for s in sales[:SHOWN_SALES]))
            for kind, sales in kinds.items() if sales]


def _in_open_groups(order_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(order_ids):
        found.update(db.session.scalars(
            select(DuplicateGroupMember.order_id)
            .join(DuplicateGroup, DuplicateGroup.id == DuplicateGroupMember.group_id)
            .where(DuplicateGroupMember.order_id.in_(chunk), DuplicateGroup.status == GroupStatus.OPEN)))
    return found


def _skipped_difference(skipped: list[SaleRef]) -> Difference:
    return Difference(ClosingDifference.REJECTED, len(skipped), sum((s.total or ZERO for s in skipped), ZERO),
                      tuple(skipped[:SHOWN_SALES]))


_NEEDS_ACTION = text(ATTEMPT_STATE_CONDITIONS["action"])


def _skipped_by_id(device_id: int, offline_ids: list[str]) -> dict[str, SaleRef]:
    """The till's sales the server refused and nobody has settled yet, by offline_id (the latest attempt)."""
    found: dict[str, SaleRef] = {}
    for chunk in _chunks(offline_ids):
        rows = db.session.execute(
            select(SyncAttempt.id, SyncAttempt.offline_id, SyncAttempt.receipt_number, SyncAttempt.total)
            .where(SyncAttempt.device_id == device_id, SyncAttempt.offline_id.in_(chunk), _NEEDS_ACTION)
            .order_by(SyncAttempt.id))
        for row in rows:
            found[row.offline_id] = SaleRef(row.offline_id, row.receipt_number, row.total, attempt_id=row.id)
    return found


def _skipped_in_day(device_id: int, start, end) -> list[SaleRef]:
    """Refused sales of this till sold that day, not settled yet; one per offline_id (the latest attempt)."""
    rows = db.session.execute(
        select(SyncAttempt.id, SyncAttempt.offline_id, SyncAttempt.receipt_number, SyncAttempt.total)
        .where(SyncAttempt.device_id == device_id, SyncAttempt.sold_at >= start, SyncAttempt.sold_at < end,
               _NEEDS_ACTION)
        .order_by(SyncAttempt.id))
    latest = {row.offline_id or f"#{row.id}": SaleRef(row.offline_id, row.receipt_number, row.total,
                                                      attempt_id=row.id) for row in rows}
    return list(latest.values())


def _chunks(values: list, size: int = _CHUNK):
    for at in range(0, len(values), size):
        yield values[at:at + size]
