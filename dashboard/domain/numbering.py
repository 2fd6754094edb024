"""The server's own invoice number series, one per store.

Each store's numbers come from its own counter row (the default store's is the
series 'server' it always had), advanced by an UPDATE inside the caller's
transaction: the row lock serialises every transaction that numbers sales
until it commits, so a rolled-back transaction gives its numbers back and the
series has no gaps. Only sales that were really inserted ask for a number.
A store numbers only its own sales, so its series is gap-free within the store
and two shops numbering at once do not wait for each other.
"""

from __future__ import annotations

from sqlalchemy import select, update

from ..extensions import db
from ..models import InvoiceSeries, Order
from .stores import StoreInfo

# Digits of a server invoice number after its store's prefix ("KWI-00000123").
SERVER_NUMBER_DIGITS = 8


def format_server_number(value: int, store: StoreInfo) -> str:
    """The printed form of a number of the store's series."""
    return f"{store.invoice_prefix}{value:0{SERVER_NUMBER_DIGITS}d}"


def _advance(count: int, series: str) -> list[int]:
    end = db.session.execute(
        update(InvoiceSeries)
        .where(InvoiceSeries.name == series)
        .values(next_value=InvoiceSeries.next_value + count)
        .returning(InvoiceSeries.next_value)
    ).scalar_one_or_none()
    if end is None:
        raise RuntimeError(f"invoice series '{series}' is missing: run `flask db upgrade`")
    return list(range(end - count, end))


def allocate_server_numbers(count: int, store: StoreInfo) -> list[str]:
    """Take the next `count` numbers of the store's series, inside the current transaction.

    A number a till already used as its own receipt number is skipped (the
    unique index on orders.invoice_number would refuse it anyway), so the
    series stays free of duplicates even when a till mimics its format.
    """
    numbers: list[str] = []
    while len(numbers) < count:
        wanted = count - len(numbers)
        candidates = [format_server_number(value, store) for value in _advance(wanted, store.series)]
        taken = set(db.session.scalars(select(Order.invoice_number).where(Order.invoice_number.in_(candidates))))
        numbers.extend(number for number in candidates if number not in taken)
    return numbers
