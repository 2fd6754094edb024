"""The rows a batch's new sales are stored as, made ready for the driver before the write transaction,
and the statements the transaction sends them with.

On SQLite one write transaction runs at a time: every millisecond of Python
spent inside one is a millisecond every other worker's batch waits. So all that
does not depend on what the transaction finds (the values of each sale's order,
line and payment rows, already through each column's bind processor, and the
stock each sale moves) is computed here, before it opens; inside, a row only
gains the ids and the invoice number the transaction decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..database import bind_processor, placeholder
from ..models import Order, OrderLine, Payment
from .sales import Sale, content_hash

orders_t = Order.__table__
lines_t = OrderLine.__table__
payments_t = Payment.__table__

# The columns a stored sale's rows are written with (database.insert_values: no per-row dicts). The
# last three of an order are those the transaction decides; every other value is bound beforehand.
ORDER_KNOWN_COLUMNS = (
    "offline_id",
    "receipt_number",
    "device_id",
    "store_id",
    "created_at",
    "received_at",
    "cashier",
    "total",
    "status",
    "fingerprint",
    "content_hash",
)
ORDER_DECIDED_COLUMNS = ("invoice_number", "receipt_number_collision", "sync_id")
ORDER_COLUMNS = ORDER_KNOWN_COLUMNS + ORDER_DECIDED_COLUMNS
LINE_COLUMNS = ("order_id", "line_no", "product_id", "sku", "quantity", "unit_price", "status")
PAYMENT_COLUMNS = ("order_id", "method", "amount")


@dataclass(frozen=True)
class SaleRows:
    """One new sale's rows, bound for the driver, less the order id (and the order's decided values)."""

    order: tuple  # the values of ORDER_KNOWN_COLUMNS
    lines: list[tuple]  # LINE_COLUMNS without order_id
    payments: list[tuple]  # PAYMENT_COLUMNS without order_id
    stock: list[tuple[int, Decimal]]  # (product id, quantity sold) per line


def sale_rows(
    sales: dict[int, Sale], *, device_id: int, store_id: int, received_at: datetime, product_ids: dict[str, int]
) -> dict[int, SaleRows]:
    """The rows of each sale (by its index in the request), every sku of which is in product_ids.

    Values go through their column's bind processor one by one (database.bind_processor): a
    timestamp or amount of a row, never a copy of the whole row, and the time received once.
    """
    time, money = bind_processor(orders_t, "created_at"), bind_processor(orders_t, "total")
    quantity, price = bind_processor(lines_t, "quantity"), bind_processor(lines_t, "unit_price")
    amount = bind_processor(payments_t, "amount")
    received = bind_processor(orders_t, "received_at")(received_at)
    rows: dict[int, SaleRows] = {}
    for index, sale in sales.items():
        rows[index] = SaleRows(
            order=(
                sale.offline_id,
                sale.receipt_number,
                device_id,
                store_id,
                time(sale.created_at),
                received,
                sale.cashier,
                money(sale.total),
                "completed",
                sale.fingerprint,
                content_hash(device_id, sale.lines, sale.total),
            ),
            lines=[
                (line_no, product_ids[line.sku], line.sku, quantity(line.quantity), price(line.unit_price), "completed")
                for line_no, line in enumerate(sale.lines, start=1)
            ],
            payments=[(p.method, amount(p.amount)) for p in sale.payments],
            stock=[(product_ids[line.sku], line.quantity) for line in sale.lines],
        )
    return rows


@dataclass(frozen=True)
class BatchStatements:
    """The SQL the write transaction sends straight to the driver, in the driver's marks (? or %s).

    Only table and column names and marks are written in: every value is a bound parameter.
    """

    mark: str

    @classmethod
    def of(cls, dialect) -> BatchStatements:
        return cls(placeholder(dialect))

    @property
    def insert_sync_log(self) -> str:
        m = self.mark
        return (
            "INSERT INTO sync_logs (device_id, batch_id, started_at, http_status, received, duration_ms, created, "  # noqa: S608
            f"duplicates, conflicts, rejected, plain_replays) VALUES ({m}, {m}, {m}, {m}, {m}, 0, 0, 0, 0, 0, 0) "
            "RETURNING id"
        )

    @property
    def count_sync_log(self) -> str:
        m = self.mark
        return (
            f"UPDATE sync_logs SET created = {m}, duplicates = {m}, plain_replays = {m}, conflicts = {m}, "  # noqa: S608
            f"rejected = {m}, duration_ms = {m} WHERE id = {m}"
        )

    @property
    def device_seen(self) -> str:
        return f"UPDATE devices SET last_seen_at = {self.mark} WHERE id = {self.mark}"  # noqa: S608

    @property
    def set_invoice_number(self) -> str:
        return f"UPDATE orders SET invoice_number = {self.mark} WHERE id = {self.mark}"  # noqa: S608

    def sale_movements(self, orders: int) -> str:
        """One sale movement per line of these orders, written by the database from the lines just stored."""
        m = self.mark
        return (
            "INSERT INTO stock_movements (product_id, store_id, order_line_id, quantity_delta, kind, created_at) "  # noqa: S608
            f"SELECT product_id, {m}, id, -quantity, 'sale', {m} FROM order_lines "
            f"WHERE order_id IN ({', '.join([m] * orders)})"
        )
