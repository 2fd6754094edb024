"""Recognising an exact replay before the full per-sale validation.

A till that lost an answer sends the same batch again; every sale of it is
stored, and the answer is the stored sale's ids. Building a whole Sale
(dataclasses, canonical numbers, messages) for each only to find its
fingerprint equal to the stored one was most of a replayed batch's CPU.

So before validating, one indexed read finds which offline_ids of the batch are
stored (stored_with_ids; ingestion answers every sale found there without
looking again). Those stored for this till by a sync are the replay candidates
(replayable; a legacy sale's fingerprint was made from content no till
validated). For those, exact_replay() checks the sale as
the till sent it: it makes every check parse_sale() makes, through the same
functions and under the current rules (line limit, the store's decimals, the
clock), and writes the fingerprint text from the values those functions return,
without building a Sale. When it finds the stored fingerprint, parse_sale()
would have returned a Sale with that fingerprint, so the answer (duplicate) is
the same. A sale failing any check, or sent with an offline_id in another
spelling, goes through parse_sale() as before, which gives the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..database import rows_in
from .money import MAX_MONEY, MoneyRule, canonical, parse_decimal
from .sales import MAX_PAYMENTS, NestedTooDeep, _created_at, _text, checked_line, fingerprint_text, sums_of

# What str(uuid.UUID(...)) writes: the only offline_id form parse_sale() keeps unchanged.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# The sales stored with these offline_ids, through uq_orders_offline_id. Device and legacy are checked
# in Python: as SQL conditions they let the planner pick the index on legacy_id (all NULL for synced
# sales) or on device_id instead, and scan every sale of the till.
# Legacy imports may hold several sales with one offline_id: the synced one answers for it, else the
# first imported (rows come in the reverse order, and the last row of an offline_id is kept).
# Every batch reads it, so it goes to the driver as written (database.rows_in).
_STORED_WITH_IDS = (
    "SELECT offline_id, id, device_id, fingerprint, invoice_number, legacy_id IS NULL FROM orders "
    "WHERE offline_id IN ({marks}) ORDER BY legacy_id IS NOT NULL DESC, id DESC"
)


@dataclass(frozen=True)
class StoredOrder:
    id: int
    device_id: int
    fingerprint: str
    invoice_number: str | None
    synced: bool = True  # False for a legacy import


def stored_orders(offline_ids: list[str]) -> dict[str, StoredOrder]:
    """The sale that answers for each of these offline_ids, when one is stored; one indexed read."""
    return {
        offline_id: StoredOrder(order_id, device_id, fingerprint, invoice_number, bool(synced))
        for offline_id, order_id, device_id, fingerprint, invoice_number, synced in rows_in(
            _STORED_WITH_IDS, offline_ids
        )
    }


@dataclass(frozen=True)
class Replay:
    """A sale sent again exactly as stored: all that answering it needs (ingestion treats it as a Sale)."""

    offline_id: str
    fingerprint: str


def stored_with_ids(raw_orders: list) -> dict[str, StoredOrder]:
    """The stored sales among the batch's offline_ids as the tills sent them, by offline_id."""
    return stored_orders(
        list(
            {
                raw["offline_id"]
                for raw in raw_orders
                if type(raw) is dict and type(raw.get("offline_id")) is str and len(raw["offline_id"]) == 36
            }
        )
    )


def replayable(stored: dict[str, StoredOrder], device_id: int) -> dict[str, StoredOrder]:
    """The sales among `stored` that this till synced: the only ones a sale can be an exact replay of."""
    return {key: order for key, order in stored.items() if order.device_id == device_id and order.synced}


def exact_replay(
    raw: object, stored: dict[str, StoredOrder], *, max_lines: int, money: MoneyRule, now: datetime
) -> Replay | None:
    """The Replay of a sale stored as sent, when parse_sale(raw, ...) would give a Sale with the stored
    sale's offline_id and fingerprint; None leaves the sale to parse_sale."""
    offline_id = raw.get("offline_id") if type(raw) is dict else None
    hit = stored.get(offline_id) if type(offline_id) is str else None
    if hit is None:
        return None
    try:
        same = _fingerprint(raw, max_lines=max_lines, money=money, now=now) == hit.fingerprint
    except Exception:  # noqa: BLE001 - any failure leaves the sale to parse_sale, which answers as before
        return None
    return Replay(offline_id, hit.fingerprint) if same else None


class _NotCanonical(Exception):
    """The sale is not in a shape exact_replay() reads: parse_sale() decides."""


def _number(value: object, *, places: int, limit: Decimal) -> tuple[Decimal, str]:
    """parse_sale's check of a number (the same function, cached), and its canonical text."""
    number = parse_decimal(value, places=places, limit=limit)
    return number, canonical(number)


def _fingerprint(raw: object, *, max_lines: int, money: MoneyRule, now: datetime) -> str:
    """The checks of sales._parse, each through the same function; raises when one fails."""
    if isinstance(raw, NestedTooDeep) or type(raw) is not dict:
        raise _NotCanonical
    offline_id = raw.get("offline_id")
    if type(offline_id) is not str or not _CANONICAL_UUID.fullmatch(offline_id):
        raise _NotCanonical
    receipt_number = _text(raw, "receipt_number", max_len=64, required=False)
    cashier = _text(raw, "cashier", max_len=100, required=False)
    created_at = _created_at(raw, now)
    lines = raw.get("lines")
    if type(lines) is not list or not lines or len(lines) > max_lines:
        raise _NotCanonical
    places = money.places
    if any(type(line) is not dict for line in lines) or "total" not in raw:
        raise _NotCanonical
    checked = [checked_line(line, money) for line in lines]
    total, total_text = _number(raw["total"], places=places, limit=MAX_MONEY)
    if total not in sums_of(checked, money):
        raise _NotCanonical
    payments = raw.get("payments")
    paid_items = []
    if payments is not None:
        if type(payments) is not list or len(payments) > MAX_PAYMENTS:
            raise _NotCanonical
        paid = Decimal(0)
        for payment in payments:
            if type(payment) is not dict or "amount" not in payment:
                raise _NotCanonical
            method = _text(payment, "method", max_len=32, required=True)
            amount, amount_text = _number(payment["amount"], places=places, limit=MAX_MONEY)
            if amount < 0:
                raise _NotCanonical
            paid += amount
            paid_items.append((amount_text, method))
        if paid_items and paid != total:
            raise _NotCanonical
    items = [line.item for line in checked]
    return fingerprint_text(offline_id, receipt_number, created_at, cashier, items, total_text, paid_items)
