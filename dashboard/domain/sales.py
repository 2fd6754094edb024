"""Validating one sale as a till sent it, and its fingerprint.

A sale is checked on its own first (shape, numbers, sums), with no database:
that work happens before the write transaction opens, so it keeps no lock.
Checks that need the catalogue (unknown sku) happen inside ingestion.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from json.encoder import encode_basestring as _quoted
from json.encoder import encode_basestring_ascii as _ascii_quoted

from .money import (
    MAX_MONEY,
    MAX_MONEY_PLACES,
    MAX_QUANTITY,
    TWO_DECIMALS,
    MoneyRule,
    NumberError,
    canonical,
    parse_decimal,
)
from .text import describe_character, hidden_character, is_storable

# Timestamps outside this window are a till with a broken clock, not a sale.
EARLIEST_SALE = datetime(2000, 1, 1, tzinfo=timezone.utc)
CLOCK_SKEW_ALLOWED = timedelta(days=1)
# A sale is paid in a few parts at most; hundreds of payments are a broken or hostile till.
MAX_PAYMENTS = 50


@dataclass(frozen=True)
class SaleLine:
    sku: str
    quantity: Decimal
    unit_price: Decimal


@dataclass(frozen=True)
class SalePayment:
    method: str
    amount: Decimal


@dataclass(frozen=True)
class Sale:
    """A sale that passed every check that needs no database."""

    offline_id: str
    receipt_number: str | None
    created_at: datetime
    cashier: str | None
    lines: tuple[SaleLine, ...]
    total: Decimal
    payments: tuple[SalePayment, ...]
    fingerprint: str


@dataclass(frozen=True)
class Rejection:
    """Why a sale cannot be stored; retrying the same content will not help.

    offline_id is the canonical id when the sale had a valid one: a stored
    sale with that id makes the attempt a conflict rather than a rejection.
    """

    reason: str
    message: str
    offline_id: str | None = None


class NestedTooDeep(dict):
    """A sale nested too deeply to decode: only its top-level scalar fields (offline_id among them) are kept.

    The request decoder makes these (dashboard/api/body.py) so that such a sale
    is rejected alone instead of failing its whole batch.
    """


class _Invalid(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


def offline_id_of(raw: object) -> str | None:
    """The offline_id as the till sent it, for echoing back in a result."""
    if isinstance(raw, dict) and isinstance(raw.get("offline_id"), str):
        return raw["offline_id"][:100]
    return None


def parse_sale(
    raw: object, *, max_lines: int, now: datetime | None = None, money: MoneyRule = TWO_DECIMALS
) -> Sale | Rejection:
    """Check one order object from a sync request; a Sale, or the Rejection saying why not.

    money is the till's store's currency: its amounts may have as many decimals as it has
    minor units (3 for KWD, 2 for EUR), and totals are rounded to that unit.
    """
    try:
        return _parse(raw, max_lines=max_lines, now=now or datetime.now(timezone.utc), money=money)
    except _Invalid as invalid:
        try:
            offline_id = _offline_id(raw) if isinstance(raw, dict) else None
        except _Invalid:
            offline_id = None
        return Rejection(invalid.reason, invalid.message, offline_id)


def _text(raw: dict, key: str, *, max_len: int, required: bool, where: str = "") -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if type(value) is str and value.isascii() and value.isprintable():
        # Nearly every identifier, decided in C: printable ASCII holds no NUL, surrogate, control or
        # invisible character. Empty or too long, it goes through the checks below for their message.
        stripped = value.strip()
        if stripped and len(value) <= max_len:
            return stripped
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("invalid_order", f"{where}{key} must be a non-empty string")
    if len(value) > max_len:
        raise _Invalid("invalid_order", f"{where}{key} is longer than {max_len} characters")
    if not is_storable(value):
        raise _Invalid("invalid_order", f"{where}{key} contains a NUL or an unpaired surrogate character")
    value = value.strip()
    hidden = hidden_character(value)
    if hidden is not None:
        raise _Invalid(
            "invalid_order",
            f"{where}{key} contains an invisible, control or direction-changing "
            f"character: {describe_character(hidden)}",
        )
    return value


def _number(raw: dict, key: str, *, places: int, limit: Decimal, where: str = "") -> Decimal:
    if key not in raw:
        raise _Invalid("invalid_order", f"{where}{key} is missing")
    try:
        return parse_decimal(raw[key], places=places, limit=limit)
    except NumberError as exc:
        raise _Invalid("invalid_order", f"{where}{key} {exc}") from None


def _amount(raw: dict, key: str, money: MoneyRule, where: str = "") -> Decimal:
    """An amount of the store's currency: a number with no more decimals than the currency has."""
    try:
        return _number(raw, key, places=money.places, limit=MAX_MONEY, where=where)
    except _Invalid as invalid:
        try:  # a number, only too precise for this currency: say so in the store's terms
            value = parse_decimal(raw[key], places=15, limit=MAX_MONEY)
        except NumberError:
            raise invalid from None
        raise _Invalid(
            "too_many_decimals",
            f"{where}{key} {canonical(value)} has more than {money.places} decimal "
            f"places: amounts in {money.currency} have {money.places}",
        ) from None


def _offline_id(raw: dict) -> str:
    value = raw.get("offline_id")
    if not isinstance(value, str):
        raise _Invalid("invalid_order", "offline_id must be a UUID string")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise _Invalid("invalid_order", f"offline_id '{value[:60]}' is not a UUID") from None


def _created_at(raw: dict, now: datetime) -> datetime:
    value = raw.get("created_at")
    if not isinstance(value, str):
        raise _Invalid("invalid_created_at", "created_at must be an ISO 8601 timestamp string")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Invalid("invalid_created_at", f"created_at '{value[:60]}' is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        raise _Invalid("invalid_created_at", "created_at needs a UTC offset, e.g. 2026-11-25T09:58:11+01:00")
    moment = moment.astimezone(timezone.utc)
    if moment < EARLIEST_SALE or moment > now + CLOCK_SKEW_ALLOWED:
        raise _Invalid(
            "invalid_created_at", f"created_at {value[:60]} is not a plausible sale time (check the till's clock)"
        )
    return moment


@dataclass(frozen=True, slots=True)
class CheckedLine:
    """A line that passed parse_sale's checks, with what the sale's sums and fingerprint need of it."""

    line: SaleLine
    amount: Decimal  # quantity x unit_price, exact
    rounded: Decimal  # that, rounded to the currency's minor unit
    item: tuple[str, str, str]  # (quantity, sku, unit_price) as the fingerprint writes them


# Tills sell the same few lines (sku, quantity, price) over and over, and a line's checks, sums and
# canonical texts depend on those three values and the currency's places only: an accepted line's are
# remembered. The key holds each value's type (JSON 2, 2.0, "2" and true are read differently) and
# only str and int values are remembered. A refused line goes through the checks, for their message,
# every time. Bounded: cleared when full, like money's number cache.
_ACCEPTED_LINES: dict[tuple, CheckedLine] = {}
_ACCEPTED_LINES_MAX = 8192
_REMEMBERED_TYPES = (str, int)


def checked_line(line: dict, money: MoneyRule) -> CheckedLine:
    """The line's checks (sku, quantity above zero, a price of the currency not below zero); raises
    _Invalid saying what is wrong (the caller adds which line). One definition for parse_sale and
    replays.exact_replay."""
    sku, quantity, price = line.get("sku"), line.get("quantity"), line.get("unit_price")
    key = None
    if type(sku) is str and type(quantity) in _REMEMBERED_TYPES and type(price) in _REMEMBERED_TYPES:
        key = (sku, type(quantity), quantity, type(price), price, money.places)
        known = _ACCEPTED_LINES.get(key)
        if known is not None:
            return known
    checked_sku = _text(line, "sku", max_len=64, required=True)
    amount_of = _number(line, "quantity", places=3, limit=MAX_QUANTITY)
    unit_price = _amount(line, "unit_price", money)
    if amount_of <= 0:
        raise _Invalid("non_positive_quantity", f"quantity must be above zero, got {canonical(amount_of)}")
    if unit_price < 0:
        raise _Invalid("negative_price", f"unit_price must not be negative, got {canonical(unit_price)}")
    amount = amount_of * unit_price
    checked = CheckedLine(
        SaleLine(checked_sku, amount_of, unit_price),
        amount,
        money.round(amount),
        (canonical(amount_of), checked_sku, canonical(unit_price)),
    )
    if key is not None:
        if len(_ACCEPTED_LINES) >= _ACCEPTED_LINES_MAX:
            _ACCEPTED_LINES.clear()
        _ACCEPTED_LINES[key] = checked
    return checked


def _lines(raw: dict, max_lines: int, money: MoneyRule) -> list[CheckedLine]:
    lines = raw.get("lines")
    if not isinstance(lines, list) or not lines:
        raise _Invalid("invalid_order", "lines must be a non-empty list")
    if len(lines) > max_lines:
        raise _Invalid("too_many_lines", f"{len(lines)} lines, at most {max_lines} allowed")
    parsed = []
    for number, line in enumerate(lines, start=1):
        if not isinstance(line, dict):
            raise _Invalid("invalid_order", f"line {number}: must be an object")
        try:
            parsed.append(checked_line(line, money))
        except _Invalid as invalid:  # the line's number is only written when something is wrong
            raise _Invalid(invalid.reason, f"line {number}: {invalid.message}") from None
    return parsed


def sums_of(lines: list[CheckedLine], money: MoneyRule) -> tuple[Decimal, Decimal]:
    """The totals a till may print: the exact sum rounded to the currency's minor unit (the cent, the
    fils), or the sum of lines each rounded.

    Tills differ in where they round (0.005 + 0.005 is 0.01 one way, 0.02 the
    other); either is accepted rather than refusing a sale over a convention.
    """
    exact = per_line = _ZERO
    for line in lines:  # a plain loop: two sum() over generators cost twice as much
        exact += line.amount
        per_line += line.rounded
    return money.round(exact), per_line


_ZERO = Decimal(0)


def _payments(raw: dict, money: MoneyRule) -> tuple[SalePayment, ...]:
    payments = raw.get("payments")
    if payments is None:
        return ()
    if not isinstance(payments, list):
        raise _Invalid("invalid_order", "payments must be a list")
    if len(payments) > MAX_PAYMENTS:
        raise _Invalid("invalid_order", f"{len(payments)} payments, at most {MAX_PAYMENTS} allowed")
    parsed = []
    for number, payment in enumerate(payments, start=1):
        where = f"payment {number}: "
        if not isinstance(payment, dict):
            raise _Invalid("invalid_order", f"{where}must be an object")
        method = _text(payment, "method", max_len=32, required=True, where=where)
        amount = _amount(payment, "amount", money, where=where)
        if amount < 0:
            raise _Invalid("invalid_order", f"{where}amount must not be negative")
        parsed.append(SalePayment(method, amount))
    return tuple(parsed)


def _parse(raw: object, *, max_lines: int, now: datetime, money: MoneyRule) -> Sale:
    if isinstance(raw, NestedTooDeep):
        raise _Invalid("invalid_order", "the sale is nested too deeply to read; send its fields as the contract shows")
    if not isinstance(raw, dict):
        raise _Invalid("invalid_order", "each order must be a JSON object")
    offline_id = _offline_id(raw)
    receipt_number = _text(raw, "receipt_number", max_len=64, required=False)
    cashier = _text(raw, "cashier", max_len=100, required=False)
    created_at = _created_at(raw, now)
    checked = _lines(raw, max_lines, money)
    total = _amount(raw, "total", money)
    sums = sums_of(checked, money)
    if total not in sums:
        raise _Invalid("total_mismatch", f"total is {canonical(total)} but the lines add up to {canonical(sums[0])}")
    payments = _payments(raw, money)
    if payments:
        paid = sum((payment.amount for payment in payments), Decimal(0))
        if paid != total:
            raise _Invalid("payments_mismatch", f"payments add up to {canonical(paid)}, total is {canonical(total)}")
    # fingerprint() of these fields, from the texts the checked lines already hold.
    print_of = fingerprint_text(
        offline_id,
        receipt_number,
        created_at,
        cashier,
        [line.item for line in checked],
        canonical(total),
        [(canonical(p.amount), p.method) for p in payments],
    )
    return Sale(
        offline_id, receipt_number, created_at, cashier, tuple(line.line for line in checked), total, payments, print_of
    )


def _json_text(value: str | None) -> str:
    return "null" if value is None else _quoted(value)


def fingerprint(*, offline_id, receipt_number, created_at, cashier, lines, total, payments) -> str:
    """SHA-256 of the sale's canonical content: keys sorted, numbers and the time normalised.

    Fields outside the contract are left out, so a till that adds its own
    metadata on a retry is still recognised as replaying the same sale.

    The hashed text is, byte for byte, json.dumps(content, sort_keys=True,
    separators=(",", ":"), ensure_ascii=False) of the content dict below (what
    stored fingerprints were made from, so they must never change), written out
    directly with json's own C string quoting: re-serialising a dict per sale was
    a tenth of a batch's CPU. tests/domain/test_fingerprint_text.py holds the two
    side by side.
    """
    return fingerprint_text(
        offline_id,
        receipt_number,
        created_at,
        cashier,
        [(canonical(ln.quantity), ln.sku, canonical(ln.unit_price)) for ln in lines],
        canonical(total),
        [(canonical(p.amount), p.method) for p in payments],
    )


def fingerprint_text(offline_id, receipt_number, created_at, cashier, items, total_text, paid) -> str:
    """fingerprint() from the canonical texts: items are (quantity, sku, unit_price), paid (amount, method).

    Also used by replays.exact_replay, which has these texts without building a Sale.
    """
    lines = ",".join(
        f'{{"quantity":"{quantity}","sku":{_quoted(sku)},"unit_price":"{price}"}}' for quantity, sku, price in items
    )
    payments = ",".join(f'{{"amount":"{amount}","method":{_quoted(method)}}}' for amount, method in paid)
    text = (
        f'{{"cashier":{_json_text(cashier)},'
        f'"created_at":{_quoted(created_at.astimezone(timezone.utc).isoformat())},'
        f'"lines":[{lines}],"offline_id":{_json_text(offline_id)},"payments":[{payments}],'
        f'"receipt_number":{_json_text(receipt_number)},"total":"{total_text}"}}'
    )
    return hashlib.sha256(text.encode()).hexdigest()


def content_hash(device_id: int, lines, total: Decimal) -> str:
    """SHA-256 of what a basket is: device, lines (sku, quantity, price, in order) and total.

    Two entries of one basket share it whatever their ids, numbers and times;
    the duplicate scan compares sales by it. Migration 0002 holds a frozen copy.
    The text is json.dumps([device_id, total, [[sku, quantity, price], ...]],
    separators=(",", ":")) (ASCII-escaped), written out directly as fingerprint() does.
    """
    items = ",".join(
        f'[{_ascii_quoted(line.sku)},"{canonical(line.quantity)}","{canonical(line.unit_price)}"]' for line in lines
    )
    return hashlib.sha256(f'[{int(device_id)},"{canonical(total)}",[{items}]]'.encode()).hexdigest()


def shown_fields(raw: object, parsed: Sale | Rejection) -> dict:
    """Receipt, cashier, total and sale time of a sale that was not stored, for the skipped-sales page.

    A valid sale gives its parsed values; a rejected one whatever of them it sent
    well-formed, without raising (the rejection says what was wrong).
    """
    if isinstance(parsed, Sale):
        return {
            "receipt_number": parsed.receipt_number,
            "cashier": parsed.cashier,
            "total": parsed.total,
            "sold_at": parsed.created_at,
        }
    raw = raw if isinstance(raw, dict) else {}
    return {
        "receipt_number": _shown_text(raw, "receipt_number", 64),
        "cashier": _shown_text(raw, "cashier", 100),
        "total": _shown_total(raw.get("total")),
        "sold_at": _shown_time(raw.get("created_at")),
    }


def _shown_text(raw: dict, key: str, max_len: int) -> str | None:
    value = raw.get(key)
    return value.strip()[:max_len] or None if isinstance(value, str) and is_storable(value) else None


def _shown_total(value: object) -> Decimal | None:
    try:
        return parse_decimal(value, places=MAX_MONEY_PLACES, limit=MAX_MONEY)
    except NumberError:
        return None


def _shown_time(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
        return moment.astimezone(timezone.utc) if moment and moment.tzinfo else None
    except (ValueError, OverflowError):
        return None
