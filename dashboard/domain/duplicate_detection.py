"""Finding duplicates in the books, kind by kind, without loading all orders.

Each kind is one streaming query (an index scan or an aggregate the database
does), so memory grows with the number of duplicates found, never with the
number of orders. A set of orders is reported under the first kind that
applies: orders claimed by an earlier kind are left out of the later ones.
Void orders and lines are never reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import and_, func, literal, or_, select

from ..database import chunks
from ..extensions import db
from ..models import Order, OrderLine, Product, StockLevel, StockMovement, Store
from ..models.duplicates import CERTAIN_KINDS
from .money import round_money
from .stock_ledger import active_movements

STREAM = {"yield_per": 2000}


@dataclass(frozen=True)
class FoundGroup:
    """A set of orders (or of one order's lines) that a scan reports together."""

    kind: str
    key: str
    order_ids: tuple[int, ...]
    line_ids: tuple[int, ...] = ()  # the extra lines or lines with extra movements, for line kinds

    @property
    def confidence(self) -> str:
        return "certain" if self.kind in CERTAIN_KINDS else "review"


@dataclass(frozen=True)
class StockDrift:
    sku: str
    stock_quantity: Decimal
    expected: Decimal
    store: str = ""  # the store's code; empty for the products row (the default store's mirror)


def find_duplicates(
    *, double_entry_window: timedelta, kinds: tuple[str, ...] | None = None, progress=None
) -> Iterator[FoundGroup]:
    """Every duplicate group in the books now, kind by kind in the contract's order of precedence."""
    claimed: set[int] = set()
    steps = [
        ("same_offline_id", lambda: _same_offline_id(claimed)),
        ("same_invoice_same_content", lambda: _same_invoice(claimed)),
        ("resent_with_new_id", lambda: _resent_with_new_id(claimed)),
        ("invoice_collision", lambda: _invoice_collisions(claimed)),
        ("suspected_double_entry", lambda: _double_entries(claimed, double_entry_window)),
        ("duplicate_lines", lambda: _duplicate_lines(claimed)),
        ("duplicate_movements", lambda: _duplicate_movements(claimed)),
    ]
    for number, (kind, finder) in enumerate(steps):
        if progress:
            progress(number / len(steps), f"looking for {kind}")
        for group in finder():
            # Earlier kinds claim their orders even when the caller asked only for later ones.
            if kinds is None or kind in kinds:
                yield group
            claimed.update(group.order_ids)


def _shared_keys(column) -> Iterator[str]:
    """Values of an orders column held by two or more orders.

    Read from the column's index alone; void orders are left out when the
    members are fetched, which drops keys with fewer than two completed orders.
    """
    stmt = select(column).where(column.is_not(None)).group_by(column).having(func.count() > 1).order_by(column)
    yield from db.session.execute(stmt.execution_options(**STREAM)).scalars()


def _orders_by(column, keys: list[str]):
    stmt = (
        select(Order.id, column.label("key"), Order.content_hash, Order.created_at)
        .where(column.in_(keys), Order.status == "completed")
        .order_by(column, Order.created_at, Order.id)
    )
    return db.session.execute(stmt).all()


def _same_offline_id(claimed: set[int]) -> Iterator[FoundGroup]:
    keys = list(_shared_keys(Order.offline_id))
    for chunk in chunks(keys):
        by_key: dict[str, list[int]] = {}
        for row in _orders_by(Order.offline_id, chunk):
            by_key.setdefault(row.key, []).append(row.id)
        for key, ids in by_key.items():
            if len(ids) > 1:
                yield FoundGroup("same_offline_id", key, tuple(ids))


def _invoice_partitions(claimed: set[int]) -> Iterator[tuple[str, dict[str, list[int]]]]:
    """For each invoice number shared by unclaimed completed orders: its orders by content."""
    keys = list(_shared_keys(Order.invoice_number))
    for chunk in chunks(keys):
        by_key: dict[str, dict[str, list[int]]] = {}
        for row in _orders_by(Order.invoice_number, chunk):
            if row.id not in claimed:
                by_key.setdefault(row.key, {}).setdefault(row.content_hash or f"order-{row.id}", []).append(row.id)
        yield from by_key.items()


def _same_invoice(claimed: set[int]) -> Iterator[FoundGroup]:
    for invoice, contents in _invoice_partitions(claimed):
        for content, ids in contents.items():
            if len(ids) > 1:
                yield FoundGroup("same_invoice_same_content", f"{invoice}|{content}", tuple(ids))


def _resent_with_new_id(claimed: set[int]) -> Iterator[FoundGroup]:
    """One sale a till sent again under a new offline id: same device, same created_at instant, same basket.

    A till rings one sale at a time, so these copies are one sale whatever their
    receipt or invoice numbers (a re-send keeping its receipt number is stored
    renumbered). Two tills are two sales: the device is in the key. Sales without
    an offline id (legacy) are left to review: an old clock may be too coarse.

    The shared instants come from ix_orders_device_created alone; their orders are
    fetched in chunks through it as an OR of exact pairs, with nothing else filtered
    in SQL (a row-value IN or a status condition made SQLite scan instead).
    """
    shared = (
        select(Order.device_id, Order.created_at)
        .group_by(Order.device_id, Order.created_at)
        .having(func.count() > 1)
        .order_by(Order.device_id, Order.created_at)
    )
    keys = [tuple(row) for row in db.session.execute(shared.execution_options(**STREAM))]
    for chunk in chunks(keys, 400):  # two parameters a pair: under SQLite's oldest limit of 999
        baskets: dict[tuple, list[int]] = {}
        for row in db.session.execute(
            select(Order.id, Order.device_id, Order.created_at, Order.content_hash, Order.status, Order.offline_id)
            .where(or_(*(and_(Order.device_id == device, Order.created_at == instant) for device, instant in chunk)))
            .order_by(Order.device_id, Order.created_at, Order.id)
        ):
            if row.status == "completed" and row.offline_id and row.content_hash and row.id not in claimed:
                baskets.setdefault((row.device_id, row.created_at, row.content_hash), []).append(row.id)
        for (device_id, instant, content), ids in baskets.items():
            if len(ids) > 1:
                yield FoundGroup("resent_with_new_id", f"{device_id}:{instant.isoformat()}:{content}", tuple(ids))


@dataclass(frozen=True)
class InvoiceGroup:
    invoice_number: str
    order_ids: tuple[int, ...]
    kind: str


def shared_invoice_groups() -> Iterator[InvoiceGroup]:
    """Every set of completed orders sharing an invoice number, whatever else they share.

    Copies of one content form a same_invoice_same_content group; where an
    invoice number holds several contents, one order of each forms an
    invoice_collision group.
    """
    for invoice, contents in _invoice_partitions(set()):
        for ids in contents.values():
            if len(ids) > 1:
                yield InvoiceGroup(invoice, tuple(ids), "same_invoice_same_content")
        if len(contents) > 1:
            yield InvoiceGroup(invoice, tuple(sorted(ids[0] for ids in contents.values())), "invoice_collision")


def _invoice_collisions(claimed: set[int]) -> Iterator[FoundGroup]:
    """Two real sales on one invoice number; and sales the server renumbered on a receipt-number collision.

    A till re-sending a sale under a new offline id but its old receipt number is
    renumbered too; resent_with_new_id has claimed those, so only other baskets
    reusing a receipt number are left here.
    """
    for invoice, contents in _invoice_partitions(claimed):
        # One sale of each content: the copies of one content were reported as same_invoice_same_content.
        firsts = sorted(ids[0] for ids in contents.values())
        if len(firsts) > 1:
            yield FoundGroup("invoice_collision", invoice, tuple(firsts))
    renumbered = (
        select(Order.receipt_number, Order.id)
        .where(Order.receipt_number_collision.is_(True), Order.status == "completed")
        .order_by(Order.receipt_number, Order.id)
    )
    by_receipt: dict[str, list[int]] = {}
    for receipt, order_id in db.session.execute(renumbered):
        by_receipt.setdefault(receipt, []).append(order_id)
    for chunk in chunks(list(by_receipt)):
        holders = db.session.execute(
            select(Order.invoice_number, Order.id).where(Order.invoice_number.in_(chunk), Order.status == "completed")
        ).all()
        for invoice, holder_id in holders:
            by_receipt[invoice].insert(0, holder_id)
        for receipt in chunk:
            ids = tuple(sorted(i for i in set(by_receipt[receipt]) if i not in claimed))
            if len(ids) > 1:
                yield FoundGroup("invoice_collision", f"receipt:{receipt}", ids)


def _double_entries(claimed: set[int], window: timedelta) -> Iterator[FoundGroup]:
    """Same device and basket, entered again within the window, under another offline id and invoice number.

    Walks each device's sales in time order once (the (device, created_at)
    index the dashboard uses anyway) and keeps, per basket, the run of entries
    no further apart than the window; runs older than the window are closed as
    it goes, so memory follows the sales of one window, not all orders.
    """
    stmt = (
        select(Order.id, Order.device_id, Order.content_hash, Order.created_at, Order.offline_id, Order.invoice_number)
        .where(Order.status == "completed", Order.content_hash.is_not(None))
        .order_by(Order.device_id, Order.created_at, Order.id)
    )
    runs: dict[tuple[int, str], list] = {}
    for row in db.session.execute(stmt.execution_options(**STREAM)):
        key = (row.device_id, row.content_hash)
        run = runs.get(key)
        if run and row.created_at - run[-1].created_at <= window:
            run.append(row)
            continue
        if run:
            yield from _double_entry_group(runs.pop(key), claimed)
        runs[key] = [row]
        if len(runs) > 1000:
            yield from _close_runs(runs, claimed, row, window)
    for run in runs.values():
        yield from _double_entry_group(run, claimed)


def _close_runs(runs: dict, claimed: set[int], now_row, window: timedelta) -> Iterator[FoundGroup]:
    """Close the runs no later sale can join: another device's, or older than the window."""
    for key in [
        k for k, run in runs.items() if k[0] != now_row.device_id or now_row.created_at - run[-1].created_at > window
    ]:
        yield from _double_entry_group(runs.pop(key), claimed)


def _double_entry_group(run: list, claimed: set[int]) -> Iterator[FoundGroup]:
    rows = [row for row in run if row.id not in claimed]
    # Legacy sales without an offline id share none with anybody.
    offline_ids = {r.offline_id or f"none:{r.id}" for r in rows}
    if len(rows) > 1 and len(offline_ids) == len(rows) and len({r.invoice_number for r in rows}) == len(rows):
        yield FoundGroup(
            "suspected_double_entry",
            f"{rows[0].device_id}:{rows[0].content_hash}:{rows[0].id}",
            tuple(row.id for row in rows),
        )


def _duplicate_lines(claimed: set[int]) -> Iterator[FoundGroup]:
    """Orders whose lines add up to more than the total, where dropping repeated identical lines makes them equal."""
    line_sum = func.sum(OrderLine.quantity * OrderLine.unit_price)
    stmt = (
        select(Order.id, Order.total)
        .join(OrderLine, and_(OrderLine.order_id == Order.id, OrderLine.status == "completed"))
        .where(Order.status == "completed")
        .group_by(Order.id, Order.total)
        .having(line_sum > Order.total + Decimal("0.005"))
    )
    candidates = [
        (order_id, total)
        for order_id, total in db.session.execute(stmt.execution_options(**STREAM))
        if order_id not in claimed
    ]
    for chunk in chunks(candidates):
        lines_by_order: dict[int, list] = {}
        for line in db.session.execute(
            select(OrderLine.id, OrderLine.order_id, OrderLine.sku, OrderLine.quantity, OrderLine.unit_price)
            .where(OrderLine.order_id.in_([c[0] for c in chunk]), OrderLine.status == "completed")
            .order_by(OrderLine.order_id, OrderLine.line_no)
        ):
            lines_by_order.setdefault(line.order_id, []).append(line)
        for order_id, total in chunk:
            extra = repeated_lines(lines_by_order.get(order_id, []), Decimal(str(total)))
            if extra:
                yield FoundGroup("duplicate_lines", f"order:{order_id}", (order_id,), tuple(extra))


def repeated_lines(lines, total: Decimal) -> list[int]:
    """Ids of the repeats of identical lines, when leaving them out makes the lines add up to the total."""
    seen: set = set()
    kept_sum, extra = Decimal(0), []
    for line in lines:
        key = (line.sku, Decimal(str(line.quantity)), Decimal(str(line.unit_price)))
        if key in seen:
            extra.append(line.id)
        else:
            seen.add(key)
            kept_sum += key[1] * key[2]
    return extra if extra and round_money(kept_sum) == round_money(total) else []


def _duplicate_movements(claimed: set[int]) -> Iterator[FoundGroup]:
    """Order lines with more than one sale movement still in force."""
    stmt = (
        select(StockMovement.order_line_id)
        .where(StockMovement.kind.in_(("sale", "legacy")), StockMovement.order_line_id.is_not(None))
        .group_by(StockMovement.order_line_id)
        .having(func.count() > 1)
        .order_by(StockMovement.order_line_id)
    )
    line_ids = list(db.session.execute(stmt.execution_options(**STREAM)).scalars())
    for chunk in chunks(line_ids):
        lines = dict(
            db.session.execute(
                select(OrderLine.id, OrderLine.order_id)
                .join(Order, Order.id == OrderLine.order_id)
                .where(OrderLine.id.in_(chunk), OrderLine.status == "completed", Order.status == "completed")
            ).all()
        )
        in_force = active_movements(list(lines))
        for line_id in sorted(lines):
            if len(in_force.get(line_id, [])) > 1 and lines[line_id] not in claimed:
                yield FoundGroup("duplicate_movements", f"line:{line_id}", (lines[line_id],), (line_id,))


def stock_drift() -> list[StockDrift]:
    """Stores' stock levels that are not their opening stock plus that store's movements, and products
    whose stock (the default store's mirror) is not the default store's opening stock plus its movements."""
    moved = (
        select(StockMovement.store_id, StockMovement.product_id, func.sum(StockMovement.quantity_delta).label("moved"))
        .group_by(StockMovement.store_id, StockMovement.product_id)
        .subquery()
    )
    levels = db.session.execute(
        select(Store.code, Product.sku, StockLevel.quantity, StockLevel.opening_quantity, moved.c.moved)
        .join(Store, Store.id == StockLevel.store_id)
        .join(Product, Product.id == StockLevel.product_id)
        .outerjoin(moved, (moved.c.product_id == StockLevel.product_id) & (moved.c.store_id == StockLevel.store_id))
        .order_by(Store.code, Product.sku)
    )
    mirrors = db.session.execute(
        select(literal(""), Product.sku, Product.stock_quantity, Product.opening_stock, moved.c.moved)
        .outerjoin(
            moved,
            (moved.c.product_id == Product.id)
            & (moved.c.store_id == select(Store.id).where(Store.is_default.is_(True)).scalar_subquery()),
        )
        .order_by(Product.sku)
    )
    drift = []
    for store, sku, stock, opening, delta in [*levels, *mirrors]:
        expected = (Decimal(str(opening)) + Decimal(str(delta or 0))).quantize(Decimal("0.001"))
        if Decimal(str(stock)).quantize(Decimal("0.001")) != expected:
            drift.append(StockDrift(sku, Decimal(str(stock)), expected, store))
    # Movements of a store that has no level for the product: stock moved that no level shows.
    orphans = db.session.execute(
        select(Store.code, Product.sku, moved.c.moved)
        .join(Store, Store.id == moved.c.store_id)
        .join(Product, Product.id == moved.c.product_id)
        .where(
            ~select(StockLevel.store_id)
            .where(StockLevel.store_id == moved.c.store_id, StockLevel.product_id == moved.c.product_id)
            .exists(),
            moved.c.moved != 0,
        )
    )
    drift += [
        StockDrift(sku, Decimal(0), Decimal(str(delta)).quantize(Decimal("0.001")), store)
        for store, sku, delta in orphans
    ]
    return drift
