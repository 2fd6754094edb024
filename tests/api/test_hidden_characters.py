"""Identifiers show what they are, and numbers are ASCII digits (finding 8), on SQLite and PostgreSQL.

A receipt number, sku, cashier or payment method with a control character or a Unicode
format character (bidi overrides and isolates, zero-width characters, BOM, ...) rejects
that sale alone as `invalid_order`, with a message naming the field; so does money or a
quantity written in other digits than ASCII's. Valid input gets the same answers as before.
"""

from __future__ import annotations

import pytest

from dashboard.domain.money import parse_decimal
from dashboard.domain.text import hidden_character
from dashboard.extensions import db
from tests.api.test_bad_input import line, results_of, snapshot, stock_of, stored_offline_ids, sync
from tests.support.invariants import check_invariants
from tests.support.sales import make_sale

HIDDEN = {
    "rlo": "\u202e",
    "lre": "\u202a",
    "pdf": "\u202c",
    "lri": "\u2066",
    "pdi": "\u2069",
    "zwsp": "\u200b",
    "zwnj": "\u200c",
    "zwj": "\u200d",
    "bom": "\ufeff",
    "word-joiner": "\u2060",
    "arabic-letter-mark": "\u061c",
    "tab": "\t",
    "bell": "\x07",
    "del": "\x7f",
    "c1": "\x85",
    "line-separator": "\u2028",
}


def bad_sale(field: str, value: str) -> dict:
    sale = make_sale(lines=[line()])
    if field == "sku":
        sale["lines"][0]["sku"] = value
    elif field == "method":
        sale["payments"][0]["method"] = value
    else:
        sale[field] = value
    return sale


@pytest.mark.parametrize("field", ["receipt_number", "cashier", "sku", "method"])
@pytest.mark.parametrize("character", list(HIDDEN.values()), ids=list(HIDDEN))
def test_hidden_characters_reject_the_sale_not_the_batch(client, token, catalog, field, character):
    bad = bad_sale(field, {"sku": "TE", "method": "ca"}.get(field, "T-") + character + "123")
    good = make_sale()
    before = snapshot()
    results = results_of(sync(client, token, [bad, good]))
    assert results[0]["status"] == "rejected" and results[0]["reason"] == "invalid_order", results[0]
    assert field in results[0]["message"] and f"U+{ord(character):04X}" in results[0]["message"]
    assert results[1]["status"] == "created"
    assert stored_offline_ids() == {good["offline_id"]}
    assert stock_of("TEA") == before["stock"]["TEA"]
    check_invariants(db.engine)


def test_the_reversed_receipt_number_of_the_report_is_refused(client, token, catalog):
    sale = make_sale(receipt_number="T-\u202e123")
    [result] = results_of(sync(client, token, [sale]))
    assert result["status"] == "rejected" and "receipt_number" in result["message"]
    assert "RIGHT-TO-LEFT OVERRIDE" in result["message"]


@pytest.mark.parametrize(
    "where, value",
    [
        ("unit_price", "\u0662.00"),
        ("unit_price", "٢٫٠٠"),
        ("quantity", "\u0661"),
        ("unit_price", "２.00"),
        ("total", "\u0662.00"),
        ("amount", "\u0662.00"),
    ],
)
def test_money_and_quantities_take_ascii_digits_only(client, token, catalog, where, value):
    sale = make_sale(lines=[line()])
    if where in ("unit_price", "quantity"):
        sale["lines"][0][where] = value
    elif where == "amount":
        sale["payments"][0]["amount"] = value
    else:
        sale[where] = value
    good = make_sale()
    results = results_of(sync(client, token, [sale, good]))
    assert results[0]["status"] == "rejected" and results[0]["reason"] == "invalid_order", results[0]
    assert where in results[0]["message"]
    assert results[1]["status"] == "created"
    assert stored_offline_ids() == {good["offline_id"]}


def test_valid_identifiers_in_any_script_are_still_accepted(client, token, catalog):
    """Arabic and accented names, spaces inside, whitespace around (trimmed as before) stay valid."""
    sales = [
        make_sale(cashier="أمل الحسن", receipt_number="  T-0001 "),
        make_sale(cashier="José Müller"),
        make_sale(cashier="Amal\n", receipt_number="R 17"),
    ]
    results = results_of(sync(client, token, sales))
    assert [result["status"] for result in results] == ["created"] * 3


def test_the_fast_path_and_the_full_check_agree():
    for text in ("T-0001", "Amal Hassan", "أمل", "\u00e9"):
        assert hidden_character(text) is None
    for character in HIDDEN.values():
        assert hidden_character("a" + character + "b") == character
    assert str(parse_decimal("12.50", places=2, limit=parse_decimal("100", places=0, limit=1000))) == "12.50"
