"""Small helpers shared by the client tests."""

from __future__ import annotations

from sqlalchemy import create_engine, text

# Items of the demo catalogue (dashboard.domain.catalog), at its prices.
BASKET = [{"sku": "COFFEE", "quantity": 2, "unit_price": "2.50"}, {"sku": "BREAD", "quantity": 1, "unit_price": "3.20"}]
BASKET_TOTAL = "8.20"


def stored_orders(database_url: str, device: str | None = None) -> list[dict]:
    """Every stored sale (offline_id, id, invoice_number, receipt_number, created_at, device, total)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT o.offline_id, o.id, o.invoice_number, o.receipt_number, o.created_at, d.name, o.total, "
                    "o.cashier FROM orders o JOIN devices d ON d.id = o.device_id ORDER BY o.id"
                )
            ).all()
    finally:
        engine.dispose()
    orders = [
        dict(
            offline_id=r[0],
            id=r[1],
            invoice_number=r[2],
            receipt_number=r[3],
            created_at=r[4],
            device=r[5],
            total=r[6],
            cashier=r[7],
        )
        for r in rows
    ]
    return [order for order in orders if device is None or order["device"] == device]


def stored_ids(database_url: str, device: str) -> dict[str, tuple[int, str]]:
    """offline_id -> (order id, invoice number) of the device's stored sales."""
    return {
        order["offline_id"]: (order["id"], order["invoice_number"]) for order in stored_orders(database_url, device)
    }
