"""`flask pos simulate` against a real gunicorn: after every fault, each sale made is stored exactly once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from dashboard.client.cli import pos_cli
from dashboard.client.outbox import SYNCED, Outbox
from dashboard.domain.devices import list_devices
from dashboard.domain.duplicate_detection import find_duplicates
from dashboard.domain.duplicates import run_scan
from dashboard.domain.fix_plans import open_certain_selection
from dashboard.domain.fixes import fix_now
from dashboard.domain.reports import current_comparison
from dashboard.extensions import db
from dashboard.models import Device
from tests.client.conftest import open_site
from tests.client.helpers import stored_orders
from tests.support.invariants import check_invariants, stored_offline_ids

TILLS, SALES = 3, 30


def simulate(site, tmp_path, faults: str, *, seed: int, output: str = "json", tills: int = TILLS, sales: int = SALES):
    return site.app.test_cli_runner().invoke(
        pos_cli,
        [
            "simulate",
            "--url",
            site.server.url,
            "--tills",
            str(tills),
            "--sales",
            str(sales),
            "--seed",
            str(seed),
            "--faults",
            faults,
            "--batch-size",
            "10",
            "--outbox-dir",
            str(tmp_path / f"fleet-{seed}"),
            "--format",
            output,
            "--timeout",
            "60",
        ],
    )


def run_fleet(site, tmp_path, faults: str, *, seed: int) -> dict:
    result = simulate(site, tmp_path, faults, seed=seed)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    made = TILLS * SALES
    assert (report["sales_made"], report["acknowledged"], report["pending"], report["flagged"]) == (made, made, 0, 0)
    assert report["drained"] and report["replay_mismatches"] == 0
    assert report["statuses"]["conflict"] == report["statuses"]["rejected"] == 0
    assert [till["name"] for till in report["per_till"]] == [f"SIM-{seed}-T{n:02d}" for n in range(1, TILLS + 1)]
    return report


def check_stored_exactly_once(database_url: str, report: dict) -> None:
    """Every sale in every outbox is synced, stored once, with the order id and invoice number the till kept."""
    everything = stored_offline_ids(database_url)
    for till in report["per_till"]:
        outbox = Outbox(till["outbox"])
        sales = outbox.sales()
        outbox.close()
        assert len(sales) == till["sales_made"] == SALES
        assert all(sale.state == SYNCED for sale in sales)
        stored = {order["offline_id"]: order for order in stored_orders(database_url, till["name"])}
        for sale in sales:
            assert everything[sale.offline_id] == (sale.order_id, sale.invoice_number)
            assert stored[sale.offline_id]["id"] == sale.order_id  # stored for this till, not another
        if not till["legacy"]:
            assert len(stored) == len(sales), f"{till['name']}: {len(stored)} stored for {len(sales)} sales"
    check_invariants(database_url)


def check_closes_matched(site, report: dict) -> int:
    """Every business day each till closed is matched against what the server stored; the days checked."""
    checked = 0
    with site.app.app_context():
        for till in report["per_till"]:
            assert till["closed_days"] and till["closings_pending"] == 0, till
            device_id = db.session.scalar(select(Device.id).where(Device.name == till["name"]))
            for day in set(till["closed_days"]):
                comparison = current_comparison(device_id, date.fromisoformat(day))
                assert comparison.status == "matched", (till["name"], day, comparison)
                checked += 1
        db.session.remove()
    return checked


def test_drop(site, tmp_path):
    report = run_fleet(site, tmp_path, "drop", seed=11)
    check_stored_exactly_once(site.database_url, report)
    check_closes_matched(site, report)
    assert report["faults_injected"]["drop"] >= TILLS
    # Each lost answer made the till resend its batch; the server recognised every sale of it.
    assert report["statuses"]["duplicate"] >= report["faults_injected"]["drop"]
    assert report["statuses"]["created"] == TILLS * SALES


def test_replay(site, tmp_path):
    report = run_fleet(site, tmp_path, "replay", seed=12)
    check_stored_exactly_once(site.database_url, report)
    check_closes_matched(site, report)
    assert report["faults_injected"]["replay"] >= TILLS
    # Three copies of each replayed batch, two of them at once: one stored sale, the others duplicates.
    assert report["statuses"]["duplicate"] >= 2 * report["faults_injected"]["replay"]
    assert report["statuses"]["created"] == TILLS * SALES


def test_crash(site, tmp_path):
    report = run_fleet(site, tmp_path, "crash", seed=13)
    check_stored_exactly_once(site.database_url, report)
    check_closes_matched(site, report)
    assert report["faults_injected"]["crash"] >= TILLS
    assert report["statuses"]["recovered"] > 0  # found stored by GET /sync/status after a restart
    assert report["statuses"]["created"] == TILLS * SALES


def test_outage(site, tmp_path):
    report = run_fleet(site, tmp_path, "outage", seed=14)
    check_stored_exactly_once(site.database_url, report)
    check_closes_matched(site, report)
    # Every till failed at least one whole sync (5 attempts) while offline, then sent its backlog.
    assert report["faults_injected"]["outage"] >= TILLS * 5
    assert report["statuses"]["created"] == TILLS * SALES


def test_legacy_ids_make_exactly_the_duplicates_reported(site, tmp_path):
    report = run_fleet(site, tmp_path, "legacy-ids", seed=15)
    check_stored_exactly_once(site.database_url, report)
    [legacy] = [till for till in report["per_till"] if till["legacy"]]
    assert [till["legacy"] for till in report["per_till"]] == [False, False, True]
    stored = stored_orders(site.database_url, legacy["name"])
    # The legacy till resent the same sale under new ids: copies share the content and the sale time.
    copies = Counter((order["created_at"], order["cashier"], str(order["total"])) for order in stored)
    assert len(copies) == SALES  # no sale lost
    assert report["duplicates_made"] > 0 and report["lost_sales"] == 0
    assert report["duplicates_made"] == sum(1 for n in copies.values() if n > 1)
    assert report["extra_copies"] == len(stored) - SALES == sum(n - 1 for n in copies.values())
    # No sale of this seeded run lost two answers in a row, so each duplicated sale has one extra copy.
    assert report["duplicates_made"] == report["extra_copies"]
    assert report["faults_injected"]["legacy-ids"] >= report["extra_copies"]
    assert report["statuses"]["created"] == TILLS * SALES + report["extra_copies"]
    # Both forms of the bug: copies that kept the receipt number (stored renumbered) and copies with a new one.
    receipts: dict[tuple, list[str]] = {}
    for order in stored:
        receipts.setdefault((order["created_at"], order["cashier"], str(order["total"])), []).append(
            order["receipt_number"]
        )
    forms = Counter(
        "same receipt" if len(set(numbers)) == 1 else "new receipt" for numbers in receipts.values() if len(numbers) > 1
    )
    assert forms["same receipt"] > 0 and forms["new receipt"] > 0
    assert report["receipt_number_collisions"] >= forms["same receipt"]
    # The duplicate scan finds each duplicated sale as one certain re-send, and nothing else on this till.
    with site.app.app_context():
        ids = {order["id"] for order in stored}
        found = [g for g in find_duplicates(double_entry_window=timedelta(seconds=120)) if set(g.order_ids) & ids]
    assert {g.kind for g in found} == {"resent_with_new_id"} and all(g.confidence == "certain" for g in found)
    assert len(found) == report["duplicates_made"]
    assert sum(len(g.order_ids) - 1 for g in found) == report["extra_copies"]
    # The legacy till's closes count each sale once, so they differ until the copies are fixed.
    with site.app.app_context():
        run_scan(trigger="test", actor="test")
        device_id = db.session.scalar(select(Device.id).where(Device.name == legacy["name"]))
        before = [current_comparison(device_id, date.fromisoformat(day)) for day in set(legacy["closed_days"])]
        assert {d.kind for c in before for d in c.differences} == {"duplicate"}
        assert sum(d.count for c in before for d in c.differences) == report["extra_copies"]
        fix_now(open_certain_selection(), "manager@example.com")
    check_closes_matched(site, report)


@pytest.fixture
def pg_site(request, tmp_path, redis_server):
    site = open_site("postgres", request, tmp_path, redis_server)
    yield site
    site.close()


@pytest.mark.postgres
def test_drop_replay_crash_on_postgresql(pg_site, tmp_path):
    report = run_fleet(pg_site, tmp_path, "drop,replay,crash", seed=16)
    check_stored_exactly_once(pg_site.database_url, report)
    check_closes_matched(pg_site, report)
    injected = report["faults_injected"]
    assert injected["drop"] > 0 and injected["replay"] > 0 and injected["crash"] >= TILLS
    assert report["statuses"]["created"] == TILLS * SALES


def test_text_report_and_a_second_run_reuses_the_tills(site, tmp_path):
    first = simulate(site, tmp_path, "", seed=17, output="text", tills=2, sales=5)
    assert first.exit_code == 0, first.output
    for line in ("sales_made: 10", "acknowledged: 10", "pending: 0", "drained: yes"):
        assert line in first.stdout
    assert "store MAIN: 2 tills, sales_made 10, acknowledged 10, pending 0, flagged 0" in first.stdout
    second = simulate(site, tmp_path, "drop", seed=17, output="json", tills=2, sales=5)
    assert second.exit_code == 0, second.output
    report = json.loads(second.stdout)
    assert report["acknowledged"] == 10 and report["faults_injected"]["drop"] >= 2
    with site.app.app_context():
        assert sorted(d.name for d in list_devices() if d.name.startswith("SIM-17-")) == ["SIM-17-T01", "SIM-17-T02"]
    stored = stored_orders(site.database_url, "SIM-17-T01") + stored_orders(site.database_url, "SIM-17-T02")
    assert len(stored) == 20
    # Same --outbox-dir: the tills carried on from their outboxes, receipt numbers included.
    assert report["receipt_number_collisions"] == 0
    assert sorted(order["receipt_number"] for order in stored if order["device"] == "SIM-17-T01") == [
        f"SIM-17-T01-{n:06d}" for n in range(1, 11)
    ]
    for till in report["per_till"]:
        outbox = Outbox(till["outbox"])
        assert till["sales_made"] == 5 and len(outbox.sales(SYNCED)) == 10
        outbox.close()
    check_invariants(site.database_url)


def test_unknown_fault_is_refused(site, tmp_path):
    result = simulate(site, tmp_path, "drop,meteor", seed=18)
    assert result.exit_code == 2 and "meteor" in result.output
    with site.app.app_context():
        assert not [d for d in list_devices() if d.name.startswith("SIM-18-")]


def test_a_fleet_in_a_three_decimal_store_moves_that_stores_stock(site, tmp_path):
    from dashboard.domain.stores import add_store

    with site.app.app_context():
        add_store("KWI", name="Kuwait City", time_zone="Asia/Kuwait", currency="KWD")
    result = site.app.test_cli_runner().invoke(
        pos_cli,
        [
            "simulate",
            "--url",
            site.server.url,
            "--tills",
            "2",
            "--sales",
            "5",
            "--seed",
            "23",
            "--store",
            "kwi",
            "--batch-size",
            "10",
            "--outbox-dir",
            str(tmp_path / "fleet-23"),
            "--format",
            "json",
            "--timeout",
            "60",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["sales_made"], report["acknowledged"], report["flagged"]) == (10, 10, 0)
    assert [till["name"] for till in report["per_till"]] == ["SIM-23-KWI-T01", "SIM-23-KWI-T02"]
    stored = stored_orders(site.database_url, "SIM-23-KWI-T01") + stored_orders(site.database_url, "SIM-23-KWI-T02")
    assert len(stored) == 10
    check_invariants(site.database_url)
    refused = site.app.test_cli_runner().invoke(pos_cli, ["simulate", "--url", site.server.url, "--store", "NOPE"])
    assert refused.exit_code == 2 and "no store with code 'NOPE'" in refused.output
