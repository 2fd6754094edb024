"""The server's own invoice number series.

Numbers come from one counter row, advanced by an UPDATE inside the caller's
transaction: the row lock serialises every transaction that numbers sales
until it commits, so a rolled-back transaction gives its numbers back and the
series has no gaps. Only sales that were really inserted ask for a number.
"""
from __future__ import annotations

from sqlalchemy import select, update

from ..extensions import db
from ..models import InvoiceSeries, Order

SERVER_SERIES = "server"


def format_server_number(value: int, prefix: str) -> str:
    """The printed form of a server series number (prefix: the SERVER_INVOICE_PREFIX setting)."""
    return f"{prefix}{value:08d}"


def _advance(count: int) -> list[int]:
    end = db.session.execute(
        update(InvoiceSeries)
        .where(InvoiceSeries.name == SERVER_SERIES)
        .values(next_value=InvoiceSeries.next_value + count)
        .returning(InvoiceSeries.next_value)
    ).scalar_one_or_none()
    if end is None:
        raise RuntimeError("invoice series 'server' is missing: run `flask db upgrade`")
    return list(range(end - count, end))


def allocate_server_numbers(count: int, *, prefix: str) -> list[str]:
    """Take the next `count` numbers of the server series, inside the current transaction.

    A number a till already used as its own receipt number is skipped (the
    unique index on orders.invoice_number would refuse it anyway), so the
    series stays free of duplicates even when a till mimics its format.
    """
    numbers: list[str] = []
    while len(numbers) < count:
        wanted = count - len(numbers)
        candidates = [format_server_number(value, prefix) for value in _advance(wanted)]
        taken = set(db.session.scalars(select(Order.invoice_number).where(Order.invoice_number.in_(candidates))))
        numbers.extend(number for number in candidates if number not in taken)
    return numbers
