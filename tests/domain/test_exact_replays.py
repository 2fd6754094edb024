"""replays.exact_replay answers a sale without parse_sale only when parse_sale would have given a Sale with
the stored fingerprint: then the answer (duplicate) is the one the full validation gives. Any other sale,
valid or not, is left to parse_sale."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.api.body import decode_body
from dashboard.domain.money import MoneyRule
from dashboard.domain.replays import Replay, StoredOrder, exact_replay
from dashboard.domain.sales import Rejection, Sale, parse_sale

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
EUR = MoneyRule("EUR", 2)
KWD = MoneyRule("KWD", 3)


def sale(**changes) -> dict:
    raw = {
        "offline_id": str(uuid.uuid4()),
        "receipt_number": "T1-0000001",
        "created_at": "2026-11-30T10:15:00.250000+00:00",
        "cashier": "Amal",
        "lines": [
            {"sku": "COFFEE", "quantity": "2", "unit_price": "2.50"},
            {"sku": "BREAD", "quantity": "1.5", "unit_price": "3.20"},
        ],
        "total": "9.80",
        "payments": [{"method": "cash", "amount": "9.80"}],
    }
    raw.update(changes)
    return raw


def stored_as(raw: dict, fingerprint: str) -> dict[str, StoredOrder]:
    return {raw["offline_id"]: StoredOrder(id=7, device_id=1, fingerprint=fingerprint, invoice_number="T1-0000001")}


def check(raw, *, stored_from=None, max_lines=200, money=EUR, now=NOW) -> Replay | None:
    """exact_replay against a stored sale made from stored_from (raw itself by default), asserting the rule:
    a Replay only when parse_sale gives a Sale with that offline_id and fingerprint."""
    first = parse_sale(stored_from if stored_from is not None else raw, max_lines=200, now=NOW, money=money)
    if not isinstance(first, Sale) or not isinstance(raw, dict) or not isinstance(raw.get("offline_id"), str):
        return None
    replay = exact_replay(raw, stored_as(raw, first.fingerprint), max_lines=max_lines, money=money, now=now)
    if replay is not None:
        again = parse_sale(raw, max_lines=max_lines, now=now, money=money)
        assert isinstance(again, Sale)
        assert (replay.offline_id, replay.fingerprint) == (again.offline_id, again.fingerprint)
    return replay


def test_a_sale_sent_again_as_stored_is_a_replay():
    raw = sale()
    assert check(raw) is not None
    # Decoded from JSON the way a request body is, numbers as JSON numbers too.
    body = json.dumps(
        {"orders": [sale(lines=[{"sku": "TEA", "quantity": 2, "unit_price": 1.25}], total=2.5, payments=None)]}
    )
    decoded = decode_body(body.encode())["orders"][0]
    assert check(decoded) is not None


def test_other_spellings_of_the_same_content_are_replays_too():
    raw = sale()
    respelled = sale(offline_id=raw["offline_id"], receipt_number=" T1-0000001 ", total="9.8")
    respelled["lines"][0]["unit_price"] = "2.505"  # another price, and too precise for EUR
    assert check(respelled, stored_from=raw) is None
    respelled["lines"][0]["unit_price"] = "2.500"  # the same price, written otherwise
    assert check(respelled, stored_from=raw) is not None


def test_changed_content_is_not_a_replay():
    raw = sale()
    for changed in (
        sale(offline_id=raw["offline_id"], cashier="Bruno"),
        sale(offline_id=raw["offline_id"], created_at="2026-11-30T10:15:01+00:00"),
        sale(offline_id=raw["offline_id"], payments=[{"method": "card", "amount": "9.80"}]),
    ):
        assert check(changed, stored_from=raw) is None


def test_rules_that_changed_since_the_sale_was_stored_are_checked_again():
    raw = sale()
    assert check(raw, max_lines=1) is None  # the line limit was lowered
    kwd = sale(lines=[{"sku": "TEA", "quantity": "1", "unit_price": "0.125"}], total="0.125", payments=[])
    assert check(kwd, money=KWD) is not None
    first = parse_sale(kwd, max_lines=200, now=NOW, money=KWD)
    assert isinstance(first, Sale)
    # The till's store now counts in a two-decimal currency: parse_sale refuses it, so no replay.
    assert exact_replay(kwd, stored_as(kwd, first.fingerprint), max_lines=200, money=EUR, now=NOW) is None
    # A clock set back a day and more makes the stored sale's time implausible again.
    assert check(raw, now=datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc)) is None


def test_uppercase_offline_ids_and_hidden_characters_go_through_parse_sale():
    raw = sale()
    upper = copy.deepcopy(raw)
    upper["offline_id"] = raw["offline_id"].upper()
    assert check(upper, stored_from=raw) is None
    hidden = sale(cashier="Am\u202eal")
    assert isinstance(parse_sale(hidden, max_lines=200, now=NOW), Rejection)
    assert check(hidden) is None


def mutate(raw: dict, path: list, value) -> dict:
    changed = copy.deepcopy(raw)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return changed


_DELETE = object()
PATHS = [
    ["offline_id"],
    ["receipt_number"],
    ["cashier"],
    ["created_at"],
    ["lines"],
    ["lines", 0],
    ["lines", 0, "sku"],
    ["lines", 0, "quantity"],
    ["lines", 1, "unit_price"],
    ["total"],
    ["payments"],
    ["payments", 0],
    ["payments", 0, "method"],
    ["payments", 0, "amount"],
]
VALUES = st.one_of(
    st.just(_DELETE),
    st.none(),
    st.booleans(),
    st.integers(-3, 20),
    st.decimals(allow_nan=True, allow_infinity=True, places=4),
    st.sampled_from(
        [
            "",
            " ",
            "9.80",
            "9.8",
            "9.800",
            "-1",
            "0",
            "1e2",
            "NaN",
            "٢",
            "2",
            "2.50",
            " 2.50 ",
            "COFFEE",
            "\u200bX",
            "x" * 70,
            "\x00",
            "2026-11-30T10:15:00.250000+00:00",
            "2026-11-30T11:15:00.250+01:00",
            "2026-11-30T10:15:00",
            "2099-01-01T00:00:00+00:00",
        ]
    ),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["sku", "quantity", "unit_price", "method", "amount"]), st.text(max_size=4)),
)


@settings(max_examples=600, deadline=None)
@given(
    mutations=st.lists(st.tuples(st.sampled_from(PATHS), VALUES), max_size=3),
    money=st.sampled_from([EUR, KWD]),
    max_lines=st.sampled_from([1, 2, 200]),
    hours=st.integers(-60, 60),
)
def test_a_replay_is_found_only_where_parse_sale_gives_the_stored_fingerprint(mutations, money, max_lines, hours):
    """Whatever is changed in a stored sale's request, and whichever rules apply now, a Replay always
    carries parse_sale's own offline_id and fingerprint (check() asserts it)."""
    raw = sale()
    sent = raw
    for path, value in mutations:
        try:
            sent = mutate(sent, path, value)
        except (KeyError, IndexError, TypeError, AttributeError):
            continue
    check(sent, stored_from=raw, max_lines=max_lines, money=money, now=NOW + timedelta(hours=hours))


def test_a_line_accepted_once_does_not_vouch_for_an_equal_value_of_another_type_or_currency():
    """exact_replay remembers accepted lines: True equals 1 and hashes alike, but a till's true is not a
    quantity, and a price fine in KWD is not in EUR."""
    as_int = sale(lines=[{"sku": "COFFEE", "quantity": 1, "unit_price": "2.50"}], total="2.50", payments=[])
    assert check(as_int) is not None  # the line (COFFEE, 1, "2.50") is now remembered
    as_bool = copy.deepcopy(as_int)
    as_bool["lines"][0]["quantity"] = True
    assert check(as_bool, stored_from=as_int) is None
    assert isinstance(parse_sale(as_bool, max_lines=200, now=NOW, money=EUR), Rejection)
    kwd = sale(lines=[{"sku": "COFFEE", "quantity": "1", "unit_price": "2.505"}], total="2.505", payments=[])
    assert check(kwd, money=KWD) is not None  # remembered with KWD's 3 places
    stored_in_kwd = parse_sale(kwd, max_lines=200, now=NOW, money=KWD)
    assert isinstance(stored_in_kwd, Sale)
    # The till's store now counts in EUR: the same line is checked again, and 2.505 is refused.
    assert exact_replay(kwd, stored_as(kwd, stored_in_kwd.fingerprint), max_lines=200, money=EUR, now=NOW) is None
