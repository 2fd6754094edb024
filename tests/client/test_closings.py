"""The reference till closes its business days: the close is kept in the outbox like a sale, sent with
the next sync, and compared by the server; against a real gunicorn."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from dashboard.client import Till
from dashboard.client.faults import closed_port_url
from dashboard.domain.reports import current_comparison
from dashboard.extensions import db
from dashboard.models import Device
from tests.client.helpers import BASKET, BASKET_TOTAL

DAY = datetime.now(timezone.utc).date() - timedelta(days=1)


def sell(till: Till, count: int, *, day=DAY, hour: int = 9) -> list[str]:
    return [
        till.record_sale(
            BASKET,
            cashier="Amal",
            payments=[{"method": "cash", "amount": BASKET_TOTAL}],
            created_at=datetime.combine(day, time(hour, n), tzinfo=timezone.utc),
        )
        for n in range(count)
    ]


def comparison(site, device_name: str, day=DAY):
    with site.app.app_context():
        device_id = db.session.scalar(select(Device.id).where(Device.name == device_name))
        found = current_comparison(device_id, day)
        db.session.remove()
    return found


def test_a_close_sent_while_sales_are_in_the_outbox_is_pending_then_matched(site, device, tmp_path):
    till = Till(tmp_path / "outbox.db", site.server.url, device.token, device.name, zone="UTC")
    sold = sell(till, 3)
    sell(till, 1, day=DAY - timedelta(days=1))  # another day: not in this close
    close = till.close_day(DAY)
    assert (close["sales_count"], close["sales_total"], close["offline_ids"]) == (3, "24.60", sold)
    assert (close["first_receipt"], close["last_receipt"]) == (f"{device.name}-000001", f"{device.name}-000003")

    report = till.send_closings()  # the sales are all still in the outbox
    assert report.closings_sent == 1 and report.error is None
    [kept] = till.closings()
    answer = json.loads(kept["answer"])
    assert (kept["state"], kept["status"]) == ("sent", "differs")
    assert [(d["kind"], d["count"], d["amount"]) for d in answer["differences"]] == [("pending", 3, "24.60")]
    assert sorted(answer["differences"][0]["offline_ids"]) == sorted(sold)
    assert comparison(site, device.name).status == "differs"

    report = till.sync()  # the sales arrive; the close was answered already and is not sent again
    assert (report.created, report.pending, report.closings_sent, report.closings_pending) == (4, 0, 0, 0)
    now = comparison(site, device.name)
    assert (now.status, now.server_count, now.differences) == ("matched", 3, ())
    till.close()


def test_a_close_survives_a_restart_and_a_later_close_of_the_same_day_replaces_it(site, device, tmp_path):
    path = tmp_path / "outbox.db"
    offline = Till(path, closed_port_url(), device.token, device.name, zone="UTC", max_attempts=1, backoff=0)
    sell(offline, 2)
    offline.close_day(DAY)
    offline.close_day(DAY)  # the same close again: recorded once
    assert offline.sync().closings_pending == 1
    offline.close()

    till = Till(path, site.server.url, device.token, device.name, zone="UTC")
    sell(till, 1, hour=18)  # a sale after the first close: the till closes the day again
    till.close_day(DAY)
    report = till.sync()
    assert (report.pending, report.closings_sent, report.closings_pending) == (0, 2, 0)
    answers = [json.loads(kept["answer"]) for kept in till.closings()]
    assert [(a["record"], a["till"]["count"]) for a in answers] == [("recorded", 2), ("replaced", 3)]
    assert answers[0]["status"] == "differs"  # the 18:00 sale is stored but the first close did not count it
    assert comparison(site, device.name).status == "matched"
    till.close()


def test_a_server_that_takes_fewer_ids_gets_the_close_by_count_and_total(site, device, tmp_path):
    server = site.server_with(CLOSING_MAX_OFFLINE_IDS="1")
    till = Till(tmp_path / "outbox.db", server.url, device.token, device.name, zone="UTC")
    sell(till, 2)
    till.close_day(DAY)
    report = till.sync()
    assert (report.error, report.closings_sent, report.closings_pending) == (None, 1, 0)
    [kept] = till.closings()
    assert kept["status"] == "matched" and "offline_ids" in kept["close"]  # the outbox keeps what it recorded
    with site.app.app_context():
        from dashboard.models import Closing

        device_id = db.session.scalar(select(Device.id).where(Device.name == device.name))
        stored = db.session.scalar(select(Closing).where(Closing.device_id == device_id))
        assert (stored.sales_count, stored.offline_ids) == (2, None)
        db.session.remove()
    till.close()


def test_a_close_in_a_three_decimal_store_far_from_utc_counts_its_own_local_day(site, tmp_path):
    """Irbid, on Amman's time (UTC+3, dinars with 3 decimals): a sale at 23:30 UTC the evening before is already on the
    Amman day; the close counts it and totals to the fils, is pending while the sales wait in the outbox,
    then matched."""
    from zoneinfo import ZoneInfo

    from dashboard.domain.devices import add_device
    from dashboard.domain.stores import add_store

    with site.app.app_context():
        # A store of this test's own: the shared site's other tests count their stores' stock exactly.
        add_store("IRB", name="Irbid", time_zone="Asia/Amman", currency="JOD")
        token = add_device("IRB-C1", store="IRB")
        db.session.remove()
    till = Till(tmp_path / "outbox.db", site.server.url, token, "IRB-C1", zone="Asia/Amman", money_places=3)
    basket = [{"sku": "COFFEE", "quantity": 3, "unit_price": "1.125"}]

    def sell_at(moment: datetime) -> str:
        return till.record_sale(
            basket, cashier="Amal", payments=[{"method": "cash", "amount": "3.375"}], created_at=moment
        )

    early = sell_at(datetime.combine(DAY - timedelta(days=1), time(23, 30), tzinfo=timezone.utc))
    later = [sell_at(datetime.combine(DAY, time(10, n), tzinfo=ZoneInfo("Asia/Amman"))) for n in range(2)]
    close = till.close_day(DAY)
    assert (close["sales_count"], close["sales_total"]) == (3, "10.125")
    assert sorted(close["offline_ids"]) == sorted([early, *later])

    till.send_closings()  # every sale still in the outbox: all three pending
    [kept] = till.closings()
    answer = json.loads(kept["answer"])
    assert kept["status"] == "differs"
    assert [(d["kind"], d["count"], Decimal(d["amount"])) for d in answer["differences"]] == [
        ("pending", 3, Decimal("10.125"))
    ]

    report = till.sync()
    assert (report.created, report.pending, report.closings_pending) == (3, 0, 0)
    now = comparison(site, "IRB-C1")
    assert (now.status, now.server_count, now.differences) == ("matched", 3, ())
    till.close()
