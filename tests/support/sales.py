"""Building sales and batches the way a till sends them."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

# The catalogue every test loads: sku -> (name, price, opening stock).
CATALOG = {
    "COFFEE": ("Coffee", "2.50", "100"),
    "BREAD": ("Bread", "3.20", "100"),
    "CROISSANT": ("Croissant", "1.80", "100"),
    "TEA": ("Tea", "2.00", "100"),
}

_receipts = itertools.count(1)


def load_catalog() -> dict:
    """Import CATALOG through the product's own catalogue import (inside an app context); returns it."""
    from dashboard.domain.catalog import ProductRow, import_products

    import_products(
        [ProductRow(sku, name, Decimal(price), Decimal(stock)) for sku, (name, price, stock) in CATALOG.items()]
    )
    return CATALOG


def make_sale(
    *,
    prefix: str = "T01",
    lines=None,
    receipt_number: str | None = None,
    payments: bool = True,
    created_at: str | None = None,
    **overrides,
) -> dict:
    """A valid sale: fresh offline_id, a new receipt number, lines from the catalogue, totals that add up."""
    lines = (
        lines
        if lines is not None
        else [
            {"sku": "COFFEE", "quantity": "2", "unit_price": "2.50"},
            {"sku": "BREAD", "quantity": "1", "unit_price": "3.20"},
        ]
    )
    total = sum((Decimal(str(ln["quantity"])) * Decimal(str(ln["unit_price"])) for ln in lines), Decimal(0))
    total = str(total.quantize(Decimal("0.01")))
    sale = {
        "offline_id": str(uuid.uuid4()),
        "receipt_number": receipt_number or f"{prefix}-{next(_receipts):06d}",
        "created_at": created_at or (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat(),
        "cashier": "Amal",
        "lines": lines,
        "total": total,
    }
    if payments:
        sale["payments"] = [{"method": "cash", "amount": total}]
    sale.update(overrides)
    return sale


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
