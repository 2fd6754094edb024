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

from ..models import Closing
from ..vocabulary import ClosingDifference, ClosingStatus, OrderStatus
from .business_day import day_bounds
from .closing_books import Books, Refused, StoredSale

# Sales named in one difference, at most (the count says how many there are).
SHOWN_SALES = 100
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
            "differences": [
                {
                    "kind": str(d.kind),
                    "count": d.count,
                    "amount": _money(d.amount),
                    "offline_ids": [s.offline_id for s in d.sales if s.offline_id],
                }
                for d in self.differences
            ],
        }


def _money(value: Decimal | None) -> str | None:
    # Cents, as the contract's examples; a third decimal only when the amount has one (KWD, JOD, BHD).
    if value is None:
        return None
    cents = value.quantize(Decimal("0.01"))
    return str(cents if cents == value else value.quantize(Decimal("0.001")))


def compare(closing: Closing | None, device_id: int, day: date, zone: str, books: Books | None = None) -> Comparison:
    """The till's close (or its absence) against the server's completed sales of that till and day."""
    books = books or Books()
    start, end = day_bounds(day, zone)
    stored = books.stored(device_id, start, end)
    server_total = sum((s.total for s in stored), ZERO)
    if closing is None:
        return Comparison(ClosingStatus.NOT_RECEIVED, None, None, len(stored), server_total, ())
    if closing.offline_ids is not None:
        differences = _by_sale(closing, device_id, stored, books)
    else:
        differences = _by_count(closing, device_id, stored, books.refused_in_day(device_id, start, end), books)
    status = ClosingStatus.DIFFERS if differences else ClosingStatus.MATCHED
    return Comparison(status, closing.sales_count, closing.sales_total, len(stored), server_total, tuple(differences))


def _by_sale(closing: Closing, device_id: int, stored: list[StoredSale], books: Books) -> list[Difference]:
    """Sale by sale: each id the till counted is stored (or stands for a kept copy), skipped, or pending."""
    till_ids: list[str] = json.loads(closing.offline_ids)
    standing: dict[str, tuple[int, Decimal]] = {}  # the till's id -> the stored sale that is it
    voided: dict[str, int] = {}  # the till's id -> the copy kept in its place
    for sale in books.by_offline_id(device_id, till_ids):
        if sale.status == OrderStatus.COMPLETED:
            standing[sale.offline_id] = (sale.id, sale.total)
        elif sale.kept_order_id is not None:
            voided[sale.offline_id] = sale.kept_order_id
    # Voided as a copy of another sale: the kept copy is this sale in the books.
    kept = books.totals(list(voided.values())) if voided else {}
    for offline_id, kept_id in voided.items():
        if offline_id not in standing and kept_id in kept:
            standing[offline_id] = (kept_id, kept[kept_id])
    missing = [offline_id for offline_id in till_ids if offline_id not in standing]
    skipped = {i: _ref(r) for i, r in books.refused_by_id(device_id, missing).items()} if missing else {}
    pending = [offline_id for offline_id in missing if offline_id not in skipped]
    counted = {order_id: total for order_id, total in standing.values()}
    accounted = sum(counted.values(), ZERO) + sum((s.total or ZERO for s in skipped.values()), ZERO)
    remainder = closing.sales_total - accounted
    differences = []
    if pending:
        differences.append(
            Difference(
                ClosingDifference.PENDING,
                len(pending),
                remainder,
                tuple(SaleRef(offline_id) for offline_id in pending[:SHOWN_SALES]),
            )
        )
    elif remainder:
        differences.append(Difference(ClosingDifference.TOTAL_DIFFERS, 0, remainder))
    if skipped:
        differences.append(_skipped_difference(list(skipped.values())))
    differences += _extras([s for s in stored if s.id not in counted], books)
    return differences


def _by_count(
    closing: Closing, device_id: int, stored: list[StoredSale], refused: list[Refused], books: Books
) -> list[Difference]:
    """By count and total only (the till sent no ids): the gap, explained as far as the server can."""
    skipped = [_ref(r) for r in refused]
    skipped_total = sum((s.total or ZERO for s in skipped), ZERO)
    gap = closing.sales_count - len(skipped) - len(stored)
    remainder = closing.sales_total - skipped_total - sum((s.total for s in stored), ZERO)
    differences = []
    if skipped:
        differences.append(_skipped_difference(skipped))
    if gap > 0:
        differences.append(Difference(ClosingDifference.PENDING, gap, remainder))
    elif gap < 0:
        suspects = _extras(stored, books)
        explained = [d for d in suspects if d.kind != ClosingDifference.NOT_COUNTED]
        kind = explained[0].kind if explained else ClosingDifference.NOT_COUNTED
        sales = tuple(s for d in explained for s in d.sales)[:SHOWN_SALES]
        differences.append(Difference(kind, -gap, remainder, sales))
    elif remainder:
        differences.append(Difference(ClosingDifference.TOTAL_DIFFERS, 0, remainder))
    return differences


def _extras(extra: list[StoredSale], books: Books) -> list[Difference]:
    """Stored sales the till does not count, by why: legacy, a copy in an open duplicate group, or unknown."""
    if not extra:
        return []
    grouped = books.in_open_groups([s.id for s in extra])
    kinds: dict[ClosingDifference, list[StoredSale]] = {
        ClosingDifference.LEGACY: [],
        ClosingDifference.DUPLICATE: [],
        ClosingDifference.NOT_COUNTED: [],
    }
    for sale in extra:
        kind = (
            ClosingDifference.LEGACY
            if sale.legacy
            else ClosingDifference.DUPLICATE
            if sale.id in grouped
            else ClosingDifference.NOT_COUNTED
        )
        kinds[kind].append(sale)
    return [
        Difference(
            kind,
            len(sales),
            -sum((s.total for s in sales), ZERO),
            tuple(SaleRef(s.offline_id, s.receipt_number, s.total, order_id=s.id) for s in sales[:SHOWN_SALES]),
        )
        for kind, sales in kinds.items()
        if sales
    ]


def _ref(refused: Refused) -> SaleRef:
    return SaleRef(refused.offline_id, refused.receipt_number, refused.total, attempt_id=refused.attempt_id)


def _skipped_difference(skipped: list[SaleRef]) -> Difference:
    return Difference(
        ClosingDifference.REJECTED,
        len(skipped),
        sum((s.total or ZERO for s in skipped), ZERO),
        tuple(skipped[:SHOWN_SALES]),
    )
