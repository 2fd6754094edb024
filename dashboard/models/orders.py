"""Stored sales: orders, their lines and payments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    func,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..vocabulary import OrderStatus, sql_in
from .types import Money, Quantity, UtcDateTime, utcnow

# Sales imported from older systems keep their duplicates (so they can be found
# and fixed here). The unique keys are (value, COALESCE(legacy_id, '')): among
# sales that did not come from a legacy import the value alone is unique, which
# is what makes sync exactly-once, and the same index serves every look-up by
# value, legacy or not.
_LEGACY_KEY: ColumnElement[str] = func.coalesce(literal_column("legacy_id"), literal_column("''"))


class Order(db.Model):
    """A sale. offline_id and invoice_number are each unique: that is what makes sync exactly-once."""

    __tablename__ = "orders"
    # Each index says which query reads it: every stored sale writes an entry in each, so one that
    # no query reads is pure cost (tests/perf/bench_sync.py measures what they cost together).
    __table_args__ = (
        CheckConstraint(sql_in("status", OrderStatus), name="status"),
        # Exactly-once; read by ingestion's look-up of stored sales and GET/POST /api/v1/sync/status.
        Index("uq_orders_offline_id", "offline_id", _LEGACY_KEY, unique=True),
        # Exactly-once for numbers; read by ingestion (receipt numbers taken), numbering (server numbers
        # taken), the duplicate scan by invoice, and the orders search by invoice number.
        Index("uq_orders_invoice_number", "invoice_number", _LEGACY_KEY, unique=True),
        # The orders list by sale time (reports.find_orders: keyset pages, date filter) and the overview.
        Index("ix_orders_created_at", "created_at"),
        # The duplicate scan's completed orders in id order (duplicate_detection._duplicate_lines).
        Index("ix_orders_status_id", "status", "id"),
        # The few sales the server renumbered, for the duplicate reports.
        Index(
            "ix_orders_receipt_collision",
            "receipt_number",
            sqlite_where=text("receipt_number_collision = 1"),
            postgresql_where=text("receipt_number_collision"),
        ),
        # The duplicate scan's same till and instant (re-sent sales, double entries) and each till's
        # latest receipt on the orders page.
        Index("ix_orders_device_created", "device_id", "created_at"),
        # The orders search by receipt number (reports.orders._matching_ids).
        Index("ix_orders_receipt_number", "receipt_number"),
        # The sync call page's orders created by the call (reports.sync_call).
        Index("ix_orders_sync_id", "sync_id"),
        # A store's sales today on the overview (reports/overview.sales_today), the orders list filtered by
        # store, and the orders of someone limited to stores (domain/scope.py).
        Index("ix_orders_store_created", "store_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null only for legacy sales that had none.
    offline_id: Mapped[str | None] = mapped_column(String(36))
    receipt_number: Mapped[str | None] = mapped_column(String(64))
    # Null only inside the transaction that stores the sale, before its number is assigned.
    invoice_number: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    # The till's store when the sale arrived (a till moved later does not move its past sales).
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    cashier: Mapped[str | None] = mapped_column(String(100))
    total: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16), default="completed")
    # SHA-256 of the sale's canonical content: tells a replay from a reused offline_id.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # True when the till's receipt number was already taken and the server renumbered the sale.
    receipt_number_collision: Mapped[bool] = mapped_column(default=False)
    sync_id: Mapped[int | None] = mapped_column(ForeignKey("sync_logs.id"))
    # SHA-256 of device, lines and total: equal for two entries of the same basket.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    legacy_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    legacy_import_id: Mapped[int | None] = mapped_column(ForeignKey("legacy_imports.id"))
    # Set when a fix voids this sale as a duplicate of kept_order_id.
    voided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    void_fix_id: Mapped[int | None] = mapped_column(ForeignKey("fixes.id"))
    kept_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))


class OrderLine(db.Model):
    """One line of a sale, numbered from 1 in the order the till sent them."""

    __tablename__ = "order_lines"
    # (order_id, line_no): one line per number, and every read of an order's lines. No index on
    # product_id: no query looks lines up by product (migration 0008 dropped it).
    __table_args__ = (UniqueConstraint("order_id", "line_no", name="uq_order_lines_order_line_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    line_no: Mapped[int]
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16), default="completed")
    voided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    void_fix_id: Mapped[int | None] = mapped_column(ForeignKey("fixes.id"))


class Payment(db.Model):
    """A payment the till recorded against a sale."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    method: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(Money)
