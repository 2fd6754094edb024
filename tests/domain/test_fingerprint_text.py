"""The fingerprint and basket hash are written out without json.dumps; their text must stay exactly what
json.dumps made, or every stored sale's replay would turn into a conflict (and the duplicate scan would
stop matching baskets stored before)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.domain.money import MAX_MONEY, MAX_QUANTITY, canonical, parse_decimal
from dashboard.domain.sales import SaleLine, SalePayment, content_hash, fingerprint


def fingerprint_by_json(*, offline_id, receipt_number, created_at, cashier, lines, total, payments) -> str:
    """The definition the stored fingerprints were made with."""
    content = {
        "offline_id": offline_id,
        "receipt_number": receipt_number,
        "created_at": created_at.astimezone(timezone.utc).isoformat(),
        "cashier": cashier,
        "lines": [
            {"sku": ln.sku, "quantity": canonical(ln.quantity), "unit_price": canonical(ln.unit_price)} for ln in lines
        ],
        "total": canonical(total),
        "payments": [{"method": p.method, "amount": canonical(p.amount)} for p in payments],
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def content_hash_by_json(device_id, lines, total) -> str:
    content = [
        device_id,
        canonical(total),
        [[line.sku, canonical(line.quantity), canonical(line.unit_price)] for line in lines],
    ]
    return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()


# Any text both databases can store: quotes, backslashes, controls, Arabic, emoji, bidi marks.
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
money = st.decimals(min_value=Decimal("-1000"), max_value=MAX_MONEY, places=2, allow_nan=False, allow_infinity=False)
quantities = st.decimals(
    min_value=Decimal("0.001"), max_value=MAX_QUANTITY, places=3, allow_nan=False, allow_infinity=False
)
lines = st.lists(st.builds(SaleLine, texts, quantities, money), min_size=1, max_size=5)
payments = st.lists(st.builds(SalePayment, texts, money), max_size=3)
moments = st.datetimes(
    min_value=datetime(2000, 1, 2),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5, minutes=-30))]),
)


@settings(max_examples=400, deadline=None)
@given(
    offline_id=st.uuids().map(str),
    receipt_number=st.none() | texts,
    created_at=moments,
    cashier=st.none() | texts,
    lines=lines,
    total=money,
    payments=payments,
)
def test_fingerprint_text_is_the_json_text(offline_id, receipt_number, created_at, cashier, lines, total, payments):
    sale = dict(
        offline_id=offline_id,
        receipt_number=receipt_number,
        created_at=created_at,
        cashier=cashier,
        lines=tuple(lines),
        total=total,
        payments=tuple(payments),
    )
    assert fingerprint(**sale) == fingerprint_by_json(**sale)


@settings(max_examples=400, deadline=None)
@given(device_id=st.integers(min_value=1, max_value=2**31 - 1), lines=lines, total=money)
def test_basket_hash_text_is_the_json_text(device_id, lines, total):
    assert content_hash(device_id, tuple(lines), total) == content_hash_by_json(device_id, tuple(lines), total)


def test_remembered_numbers_answer_as_the_first_time():
    """parse_decimal and canonical remember accepted values; the same text gives the same value and
    refusals are never remembered."""
    for _ in range(2):
        assert parse_decimal(" 2.50 ", places=2, limit=MAX_MONEY) == Decimal("2.50")
        assert str(parse_decimal("2.5", places=2, limit=MAX_MONEY)) == "2.50"
        assert str(parse_decimal("2", places=3, limit=MAX_QUANTITY)) == "2.000"
        assert canonical(Decimal("2.50")) == canonical(Decimal("2.5")) == "2.5"
        assert canonical(Decimal("-0.00")) == canonical(Decimal("0")) == "0"
        for bad, places in (("2.555", 2), ("١", 2), ("1e3", 2), ("1000000001", 2)):
            try:
                parse_decimal(bad, places=places, limit=MAX_MONEY)
            except ValueError:
                continue
            raise AssertionError(f"{bad!r} was accepted")
