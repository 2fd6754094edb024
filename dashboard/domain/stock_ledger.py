"""The stock ledger: which sale movements are in force, and booking movements with their stock.

A fix never deletes a movement: it cancels one with a 'compensation' of the
opposite quantity, and a revert cancels the compensation with a 'reversal'.
A sale movement is in force while it has no compensation that is itself in
force (not reversed).

Stock is held per store (stock_levels): a movement moves the stock of the store
it names, and a cancellation moves the store its movement moved.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, insert, select
from sqlalchemy.orm import aliased

from ..database import bound_rows, placeholder
from ..extensions import db
from ..models import Product, StockLevel, StockMovement

SALE_KINDS = ("sale", "legacy")


@dataclass(frozen=True)
class Movement:
    id: int
    order_line_id: int | None
    product_id: int
    quantity_delta: Decimal
    store_id: int


def active_movements(line_ids: list[int]) -> dict[int, list[Movement]]:
    """Sale movements in force for each of these lines, oldest first."""
    if not line_ids:
        return {}
    compensation = aliased(StockMovement)
    reversal = aliased(StockMovement)
    reversed_ = (
        select(reversal.id)
        .where(reversal.compensates_movement_id == compensation.id, reversal.kind == "reversal")
        .exists()
    )
    cancelled = (
        select(compensation.id)
        .where(
            compensation.compensates_movement_id == StockMovement.id, compensation.kind == "compensation", ~reversed_
        )
        .exists()
    )
    rows = db.session.execute(
        select(
            StockMovement.id,
            StockMovement.order_line_id,
            StockMovement.product_id,
            StockMovement.quantity_delta,
            StockMovement.store_id,
        )
        .where(StockMovement.order_line_id.in_(line_ids), StockMovement.kind.in_(SALE_KINDS), ~cancelled)
        .order_by(StockMovement.order_line_id, StockMovement.id)
    )
    found: dict[int, list[Movement]] = defaultdict(list)
    for row in rows:
        found[row.order_line_id].append(
            Movement(row.id, row.order_line_id, row.product_id, Decimal(str(row.quantity_delta)), row.store_id)
        )
    return dict(found)


def book_cancellations(movements: list[Movement], *, kind: str, fix_id: int, when) -> None:
    """Insert one movement of the opposite quantity for each movement, and move stock to match.

    The unique index on (fix_id, compensates_movement_id) makes a second
    booking by the same fix fail instead of counting stock twice.
    """
    if not movements:
        return
    db.session.execute(
        insert(StockMovement),
        [
            {
                "product_id": m.product_id,
                "store_id": m.store_id,
                "order_line_id": m.order_line_id,
                "quantity_delta": -m.quantity_delta,
                "kind": kind,
                "fix_id": fix_id,
                "compensates_movement_id": m.id,
                "created_at": when,
            }
            for m in movements
        ],
    )
    change: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for m in movements:
        change[(m.store_id, m.product_id)] -= m.quantity_delta
    move_stock(change)


def move_stock(change: dict[tuple[int, int], Decimal]) -> None:
    """Add each (store, product)'s change to that store's stock of it.

    Rows are updated in (store, product) order, so concurrent writers never deadlock, and a
    sale locks only its own store's rows. A store's first movement of a product creates its
    level at zero. The products row is the default store's mirror (the contract's
    products.stock_quantity), so only the default store's movements touch it.

    Sent as plain driver statements (executemany): every synced batch runs this inside its
    write transaction, where SQLAlchemy's per-statement work was time other writers waited.
    """
    keys = sorted(key for key, delta in change.items() if delta)
    if not keys:
        return
    conn = db.session.connection()
    mark = placeholder(conn.dialect)
    levels, products = StockLevel.__table__, Product.__table__
    conn.exec_driver_sql(
        f"INSERT INTO stock_levels (store_id, product_id, opening_quantity, quantity) "  # noqa: S608 - names only
        f"VALUES ({mark}, {mark}, {mark}, {mark}) ON CONFLICT DO NOTHING",
        bound_rows(levels, _LEVEL_COLUMNS, [(store, product, 0, 0) for store, product in keys], conn.dialect),
    )
    conn.exec_driver_sql(
        f"UPDATE stock_levels SET quantity = quantity + {mark} "  # noqa: S608 - names only
        f"WHERE store_id = {mark} AND product_id = {mark}",
        bound_rows(
            levels,
            _DELTA_COLUMNS,
            [(change[(store, product)], store, product) for store, product in keys],
            conn.dialect,
        ),
    )
    default = conn.exec_driver_sql("SELECT id FROM stores WHERE is_default").scalar()
    mirrored = [(change[(store, product)], product) for store, product in keys if store == default]
    if mirrored:
        conn.exec_driver_sql(
            f"UPDATE products SET stock_quantity = stock_quantity + {mark} WHERE id = {mark}",  # noqa: S608
            bound_rows(products, ("stock_quantity", "id"), mirrored, conn.dialect),
        )


# The columns move_stock's values are bound as (their types' bind processors: Decimal to float on SQLite).
_LEVEL_COLUMNS = ("store_id", "product_id", "opening_quantity", "quantity")
_DELTA_COLUMNS = ("quantity", "store_id", "product_id")


def fix_movements(fix_id: int, kind: str) -> list[Movement]:
    """The movements of one kind a fix booked."""
    rows = db.session.execute(
        select(
            StockMovement.id,
            StockMovement.order_line_id,
            StockMovement.product_id,
            StockMovement.quantity_delta,
            StockMovement.store_id,
        )
        .where(and_(StockMovement.fix_id == fix_id, StockMovement.kind == kind))
        .order_by(StockMovement.id)
    )
    return [Movement(r.id, r.order_line_id, r.product_id, Decimal(str(r.quantity_delta)), r.store_id) for r in rows]
