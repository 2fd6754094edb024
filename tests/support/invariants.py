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
        dup_ids = conn.execute(text(
            "SELECT offline_id FROM orders GROUP BY offline_id HAVING COUNT(*) > 1")).all()
        assert not dup_ids, f"offline_id stored twice: {dup_ids[:5]}"
        dup_invoices = conn.execute(text(
            "SELECT invoice_number FROM orders GROUP BY invoice_number HAVING COUNT(*) > 1")).all()
        assert not dup_invoices, f"invoice number shared: {dup_invoices[:5]}"
        unnumbered = conn.execute(text("SELECT COUNT(*) FROM orders WHERE invoice_number IS NULL")).scalar()
        assert unnumbered == 0, f"{unnumbered} stored sales without an invoice number"
        bad_lines = conn.execute(text(
            "SELECT l.id, COUNT(m.id) FROM order_lines l "
            "LEFT JOIN stock_movements m ON m.order_line_id = l.id AND m.kind = 'sale' "
            "GROUP BY l.id HAVING COUNT(m.id) <> 1")).all()
        assert not bad_lines, f"order lines without exactly one sale movement: {bad_lines[:5]}"
        empty = conn.execute(text(
            "SELECT o.id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)")).all()
        assert not empty, f"stored sales without lines: {empty[:5]}"
        drift = []
        for _pid, sku, opening, stock, moved in conn.execute(text(
                "SELECT p.id, p.sku, p.opening_stock, p.stock_quantity, "
                "(SELECT COALESCE(SUM(m.quantity_delta), 0) FROM stock_movements m WHERE m.product_id = p.id) "
                "FROM products p")):
            expected = (Decimal(str(opening)) + Decimal(str(moved))).quantize(Q)
            if Decimal(str(stock)).quantize(Q) != expected:
                drift.append((sku, stock, expected))
        assert not drift, f"stock is not opening stock plus movements: {drift[:5]}"
        orders = conn.execute(text("SELECT COUNT(*) FROM orders")).scalar()
        lines = conn.execute(text("SELECT COUNT(*) FROM order_lines")).scalar()
    return {"orders": orders, "lines": lines}


def stored_offline_ids(bind) -> dict[str, tuple[int, str]]:
    """offline_id -> (order id, invoice number) of every stored sale."""
    with _engine(bind).connect() as conn:
        return {row[0]: (row[1], row[2]) for row in conn.execute(
            text("SELECT offline_id, id, invoice_number FROM orders"))}
