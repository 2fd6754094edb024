"""Products and the stock ledger."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..vocabulary import MovementKind, sql_in
from .types import Money, Quantity, UtcDateTime, utcnow


class Product(db.Model):
    """A sellable item of the chain's catalogue.

    Stock is held per store in stock_levels. opening_stock and stock_quantity are the default
    store's (kept for the contract's readers: a single shop reads what it always read), so
    stock_quantity equals opening_stock plus the default store's movements of the product.
    """

    __tablename__ = "products"
    __table_args__ = (
        Index(
            "ix_products_negative_stock",
            "stock_quantity",
            sqlite_where=text("stock_quantity < 0"),
            postgresql_where=text("stock_quantity < 0"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(Money)
    opening_stock: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    stock_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class StockMovement(db.Model):
    """One change of a product's stock. A sale line has exactly one movement of kind 'sale'."""

    __tablename__ = "stock_movements"
    # Each index says which query reads it: every stored sale line writes an entry in each (the
    # partial ones only for the rows they cover), so one that no query reads is pure cost.
    __table_args__ = (
        # The database, not application code, guarantees one sale movement per line.
        Index(
            "uq_stock_movements_sale_line",
            "order_line_id",
            unique=True,
            sqlite_where=text("kind = 'sale'"),
            postgresql_where=text("kind = 'sale'"),
        ),
        # No index leads with product_id or (store_id, product_id) (migration 0013): each would take a
        # write per sale line at one insertion point per (store, product), scattered pages once the
        # table is large, and the only reader, the stock drift check, sums every movement in one pass.
        # A fix compensates a movement at most once; applying it again inserts nothing. Read by
        # stock_ledger.fix_movements (a fix's own movements). Only a fix's movements have a fix_id.
        Index(
            "uq_stock_movements_fix_compensates",
            "fix_id",
            "compensates_movement_id",
            unique=True,
            sqlite_where=text("fix_id IS NOT NULL"),
            postgresql_where=text("fix_id IS NOT NULL"),
        ),
        # stock_ledger.active_movements (a line's movements in force, legacy ones included), the order
        # page's movements, and the duplicate scan's lines with more than one sale movement.
        Index("ix_stock_movements_order_line_id", "order_line_id"),
        # stock_ledger.active_movements: is this movement compensated (and that compensation reversed)?
        Index(
            "ix_stock_movements_compensates",
            "compensates_movement_id",
            sqlite_where=text("compensates_movement_id IS NOT NULL"),
            postgresql_where=text("compensates_movement_id IS NOT NULL"),
        ),
        CheckConstraint(sql_in("kind", MovementKind), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    # The store whose stock moved: a compensation moves the store its sale moved.
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"))
    quantity_delta: Mapped[Decimal] = mapped_column(Quantity)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # For 'compensation' and 'reversal': the fix that made it and the movement it cancels.
    fix_id: Mapped[int | None] = mapped_column(ForeignKey("fixes.id"))
    compensates_movement_id: Mapped[int | None] = mapped_column(ForeignKey("stock_movements.id"))
