"""The contract's invariants, checked straight against the database."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

Q = Decimal("0.001")


class _engine:
    """An engine for a URL (disposed afterwards), or the engine given."""

    def __init__(self, bind):
        self.owned = isinstance(bind, str)
        self.engine: Engine = create_engine(bind) if self.owned else bind

    def connect(self):
        return self.engine.connect()

    def __del__(self):
        if self.owned:
            self.engine.dispose()


def check_invariants(bind) -> dict:
    """Assert invariants 3 and 4 and the shape of every stored sale; return a few counts."""
    engine = _engine(bind)
    with engine.connect() as conn:
        dup_ids = conn.execute(text("SELECT offline_id FROM orders GROUP BY offline_id HAVING COUNT(*) > 1")).all()
        assert not dup_ids, f"offline_id stored twice: {dup_ids[:5]}"
        dup_invoices = conn.execute(
            text("SELECT invoice_number FROM orders GROUP BY invoice_number HAVING COUNT(*) > 1")
        ).all()
        assert not dup_invoices, f"invoice number shared: {dup_invoices[:5]}"
        unnumbered = conn.execute(text("SELECT COUNT(*) FROM orders WHERE invoice_number IS NULL")).scalar()
        assert unnumbered == 0, f"{unnumbered} stored sales without an invoice number"
        bad_lines = conn.execute(
            text(
                "SELECT l.id, COUNT(m.id) FROM order_lines l "
                "LEFT JOIN stock_movements m ON m.order_line_id = l.id AND m.kind = 'sale' "
                "GROUP BY l.id HAVING COUNT(m.id) <> 1"
            )
        ).all()
        assert not bad_lines, f"order lines without exactly one sale movement: {bad_lines[:5]}"
        empty = conn.execute(
            text("SELECT o.id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)")
        ).all()
        assert not empty, f"stored sales without lines: {empty[:5]}"
        drift = []
        # Invariant 4, per store: every store's stock of a product is its opening stock plus that store's
        # movements of it (a movement of a store without a level row is drift too).
        moved = {
            (store, pid): Decimal(str(total))
            for store, pid, total in conn.execute(
                text(
                    "SELECT store_id, product_id, SUM(quantity_delta) FROM stock_movements GROUP BY store_id, product_id"
                )
            )
        }
        levels = {
            (store, pid): (Decimal(str(opening)), Decimal(str(stock)))
            for store, pid, opening, stock in conn.execute(
                text("SELECT store_id, product_id, opening_quantity, quantity FROM stock_levels")
            )
        }
        for key in set(moved) | set(levels):
            opening, stock = levels.get(key, (Decimal(0), Decimal(0)))
            expected = (opening + moved.get(key, Decimal(0))).quantize(Q)
            if stock.quantize(Q) != expected:
                drift.append((key, stock, expected))
        # products.stock_quantity is the default store's, for the contract's readers.
        default = conn.execute(text("SELECT id FROM stores WHERE is_default")).scalar_one()
        for pid, sku, opening, stock in conn.execute(
            text("SELECT id, sku, opening_stock, stock_quantity FROM products")
        ):
            level = levels.get((default, pid), (Decimal(0), Decimal(0)))
            expected = (Decimal(str(opening)) + moved.get((default, pid), Decimal(0))).quantize(Q)
            if Decimal(str(stock)).quantize(Q) != expected or level[1].quantize(Q) != expected:
                drift.append((sku, stock, expected, level))
        assert not drift, f"stock is not opening stock plus movements: {drift[:5]}"
        wrong_store = conn.execute(
            text(
                "SELECT m.id FROM stock_movements m JOIN order_lines l ON l.id = m.order_line_id "
                "JOIN orders o ON o.id = l.order_id WHERE m.store_id <> o.store_id"
            )
        ).all()
        assert not wrong_store, f"movements of a sale in another store than the sale's: {wrong_store[:5]}"
        orders = conn.execute(text("SELECT COUNT(*) FROM orders")).scalar()
        lines = conn.execute(text("SELECT COUNT(*) FROM order_lines")).scalar()
    return {"orders": orders, "lines": lines}


def stored_offline_ids(bind) -> dict[str, tuple[int, str]]:
    """offline_id -> (order id, invoice number) of every stored sale."""
    with _engine(bind).connect() as conn:
        return {
            row[0]: (row[1], row[2]) for row in conn.execute(text("SELECT offline_id, id, invoice_number FROM orders"))
        }
