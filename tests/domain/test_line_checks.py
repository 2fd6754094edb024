"""parse_sale remembers the lines it accepted (sales.checked_line). A remembered line must give exactly
what checking it again gives: the same Sale, fingerprint included, or the same refusal, word for word,
whatever the values' types and the store's currency."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.domain import sales
from dashboard.domain.money import MoneyRule
from dashboard.domain.sales import Rejection, Sale, fingerprint, parse_sale
from tests.support.line_memory import no_line_memory

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
EUR = MoneyRule("EUR", 2)
KWD = MoneyRule("KWD", 3)
JPY = MoneyRule("JPY", 0)

# Values a till may send for a quantity or a price, few so that lines meet again within a sale: good
# ones in every JSON type, and bad ones equal to good ones in Python (True == 1, 2.0 == 2) or differing
# only by decimals (2.505 is a KWD price, not a EUR one) or sign.
QUANTITIES = st.sampled_from([1, True, 2, 2.0, "2", "2.0", " 3 ", "1e2", "٣", "0", "-1", None, []])
PRICES = st.sampled_from(["2.505", "2.50", 2, 2.0, False, "0", "-1", None])
SKUS = st.sampled_from(["COFFEE", " COFFEE ", "", "A\u200bB", 7, "X" * 65])


def order(lines: list[dict]) -> dict:
    return {
        "offline_id": str(uuid.UUID(int=7)),
        "receipt_number": "T1-0000001",
        "created_at": "2026-11-30T10:15:00+00:00",
        "cashier": "Amal",
        "lines": lines,
        "total": "0",
        "payments": [],
    }


def with_total(raw: dict, money: MoneyRule) -> dict:
    """The sale with the total its lines add up to, when they are valid; left alone otherwise."""
    first = parse_sale(raw, max_lines=200, now=NOW, money=money)
    if isinstance(first, Rejection) and first.reason == "total_mismatch":
        expected = first.message.rsplit(" ", 1)[-1]
        return {**raw, "total": expected}
    return raw


def checked_every_time(raw: dict, money: MoneyRule) -> Sale | Rejection:
    with no_line_memory():
        return parse_sale(raw, max_lines=200, now=NOW, money=money)


@settings(max_examples=500, deadline=None)
@given(
    lines=st.lists(
        st.fixed_dictionaries({"sku": SKUS, "quantity": QUANTITIES, "unit_price": PRICES}), min_size=1, max_size=6
    ),
    money=st.sampled_from([EUR, KWD, JPY]),
    other=st.sampled_from([EUR, KWD, JPY]),
)
def test_a_remembered_line_answers_as_checking_it_again(lines, money, other):
    raw = with_total(order(lines), money)
    expected = checked_every_time(raw, money)
    sales._ACCEPTED_LINES.clear()
    assert parse_sale(raw, max_lines=200, now=NOW, money=money) == expected  # lines remembered as they pass
    assert parse_sale(raw, max_lines=200, now=NOW, money=money) == expected  # every line remembered
    # Lines remembered under another currency do not vouch for this one.
    sales._ACCEPTED_LINES.clear()
    parse_sale(raw, max_lines=200, now=NOW, money=other)
    assert parse_sale(raw, max_lines=200, now=NOW, money=money) == expected
    if isinstance(expected, Sale):
        fields = {name: getattr(expected, name) for name in ("offline_id", "receipt_number", "created_at", "cashier")}
        assert expected.fingerprint == fingerprint(
            **fields, lines=expected.lines, total=expected.total, payments=expected.payments
        )


def test_the_line_number_is_in_the_message_whether_or_not_the_line_is_remembered():
    good = {"sku": "COFFEE", "quantity": "2", "unit_price": "2.50"}
    bad = {"sku": "COFFEE", "quantity": True, "unit_price": "2.50"}
    parse_sale(order([good]), max_lines=200, now=NOW, money=EUR)  # (COFFEE, "2", "2.50") is remembered
    refused = parse_sale(order([good, bad]), max_lines=200, now=NOW, money=EUR)
    assert isinstance(refused, Rejection)
    assert refused.message == "line 2: quantity must be a decimal number"
    mismatch = parse_sale({**order([good, good]), "total": "5.00"}, max_lines=200, now=NOW, money=EUR)
    assert isinstance(mismatch, Rejection) and mismatch.message == "total is 5 but the lines add up to 10"
    assert parse_sale({**order([good, good]), "total": "10.00"}, max_lines=200, now=NOW, money=EUR).total == Decimal(
        "10.00"
    )


def test_a_line_remembered_in_one_type_or_currency_does_not_vouch_for_another():
    line = {"sku": "COFFEE", "quantity": 1, "unit_price": "2.505"}
    assert isinstance(parse_sale({**order([line]), "total": "2.505"}, max_lines=200, now=NOW, money=KWD), Sale)
    as_bool = {**line, "quantity": True}  # True == 1 and hashes alike; a till's true is not a quantity
    refused = parse_sale({**order([as_bool]), "total": "2.505"}, max_lines=200, now=NOW, money=KWD)
    assert isinstance(refused, Rejection) and refused.message == "line 1: quantity must be a decimal number"
    in_eur = parse_sale({**order([line]), "total": "2.51"}, max_lines=200, now=NOW, money=EUR)
    assert isinstance(in_eur, Rejection) and in_eur.reason == "too_many_decimals"


# Values that equal one another in Python, or differ only by type, decimals or currency.
_CLASHING_QUANTITIES = [1, True, 2, 2.0, "2", "2.0", 0, False]
_CLASHING_PRICES = ["2.505", "2.50", 2, 2.0, False, True]


def test_no_line_remembered_first_changes_the_answer_for_a_line_that_equals_it():
    """Every pair of (quantity, price, currency): the first line checked, then the second answers as if
    nothing were remembered. Exhaustive over values that clash in Python's == and hash."""
    pairs = list(itertools.product(_CLASHING_QUANTITIES, _CLASHING_PRICES, [EUR, KWD, JPY]))
    for second in pairs:
        quantity, price, money = second
        raw = order([{"sku": "COFFEE", "quantity": quantity, "unit_price": price}])
        expected = checked_every_time(raw, money)
        for first_quantity, first_price, first_money in pairs:
            sales._ACCEPTED_LINES.clear()
            first = order([{"sku": "COFFEE", "quantity": first_quantity, "unit_price": first_price}])
            parse_sale(first, max_lines=200, now=NOW, money=first_money)
            assert parse_sale(raw, max_lines=200, now=NOW, money=money) == expected, (
                (first_quantity, first_price, first_money),
                second,
            )
