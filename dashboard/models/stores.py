"""Shops of a chain, and each shop's stock of each product."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import Quantity, UtcDateTime, utcnow


class Store(db.Model):
    """A shop: its tills sell in its currency, its days are its local days, its invoices its own series.

    The default store (exactly one) holds what a single-shop installation sells. Its time zone,
    currency and invoice prefix may stay empty: it then follows DASHBOARD_TIMEZONE,
    DASHBOARD_CURRENCY and SERVER_INVOICE_PREFIX, so a single shop needs no setup.
    """

    __tablename__ = "stores"
    __table_args__ = (
        Index(
            "uq_stores_default",
            "is_default",
            unique=True,
            sqlite_where=text("is_default = 1"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    time_zone: Mapped[str | None] = mapped_column(String(64))  # IANA name
    currency: Mapped[str | None] = mapped_column(String(3))  # ISO 4217
    # Unique, so two stores' server series can never print the same number.
    invoice_prefix: Mapped[str | None] = mapped_column(String(16), unique=True)
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class StockLevel(db.Model):
    """A product's stock in one store: quantity = opening_quantity + that store's movements of it.

    One row per (store, product): a sale locks its own store's row, so two shops selling
    the same product do not wait for each other.
    """

    __tablename__ = "stock_levels"
    __table_args__ = (
        Index("ix_stock_levels_product_id", "product_id"),
        Index(
            "ix_stock_levels_negative",
            "store_id",
            "quantity",
            sqlite_where=text("quantity < 0"),
            postgresql_where=text("quantity < 0"),
        ),
    )

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    opening_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
