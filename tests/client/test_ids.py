"""The reference till's offline_ids are time-ordered UUIDs (version 7): valid for the contract, unique,
and increasing with the sale's time, so a till's sales land side by side in the server's index."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

from dashboard.client import Till
from dashboard.client.faults import closed_port_url
from dashboard.client.ids import new_offline_id
from dashboard.domain.sales import Sale, parse_sale
from tests.client.helpers import BASKET, BASKET_TOTAL

MOMENT = datetime(2026, 11, 30, 10, 15, 0, 250000, tzinfo=timezone.utc)


def test_an_offline_id_is_a_canonical_version_7_uuid_of_its_millisecond():
    text = new_offline_id(MOMENT)
    parsed = uuid.UUID(text)
    assert str(parsed) == text  # the form parse_sale keeps unchanged
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == int(MOMENT.timestamp() * 1000)


def test_offline_ids_increase_with_time_and_never_repeat_within_a_millisecond():
    later = [new_offline_id(MOMENT + timedelta(milliseconds=n)) for n in range(1, 200)]
    assert later == sorted(later) and new_offline_id(MOMENT) < later[0]
    same_instant = {new_offline_id(MOMENT) for _ in range(20000)}
    assert len(same_instant) == 20000
    # With a given random source (the benchmark's), two ids of one millisecond share the time part
    # (the first 13 characters) and differ by their random bits.
    fixed = random.Random(7)
    a, b = new_offline_id(MOMENT, fixed.getrandbits), new_offline_id(MOMENT, fixed.getrandbits)
    assert a != b and a[:13] == b[:13]


def test_a_recorded_sale_carries_a_version_7_id_the_server_accepts(tmp_path):
    till = Till(tmp_path / "outbox.db", closed_port_url(), "token", "T03")
    offline_id = till.record_sale(BASKET, cashier="Amal", payments=[{"method": "cash", "amount": BASKET_TOTAL}])
    assert uuid.UUID(offline_id).version == 7
    (sale,) = till.pending()
    checked = parse_sale(sale.order, max_lines=200, now=datetime.now(timezone.utc))
    assert isinstance(checked, Sale) and checked.offline_id == sale.offline_id == offline_id
