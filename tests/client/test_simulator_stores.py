"""`flask pos simulate --store A --store B`: one fleet across two stores of a chain, in different time zones
and currencies (one with 3 decimals), through faults, against a real gunicorn, on SQLite and PostgreSQL.

After the run and the fix of the legacy till's duplicates: every sale is stored once, in its till's store
and that store's invoice series, with that store's decimals; every store's stock of every product is its
opening stock minus what its own tills sold; and every till's close of every day is matched.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from dashboard.client.cli import pos_cli
from dashboard.client.outbox import SYNCED, Outbox
from dashboard.domain.duplicates import run_scan
from dashboard.domain.fix_plans import open_certain_selection
from dashboard.domain.fixes import fix_now
from dashboard.domain.stores import add_store, default_store, find_store
from dashboard.extensions import db
from tests.client.conftest import open_site
from tests.client.test_simulator import check_closes_matched
from tests.support.invariants import check_invariants

# Amman is UTC+3 with a 3-decimal dinar; New York is UTC-5/-4 with cents: their days start 7 or 8 hours apart.
STORES = {"AMM": ("Amman", "Asia/Amman", "JOD", 3), "NYC": ("New York", "America/New_York", "USD", 2)}
TILLS, SALES = 4, 24


def run_chain_fleet(site, tmp_path, *, seed: int, faults: str) -> dict:
    with site.app.app_context():
        for code, (name, zone, currency, _places) in STORES.items():
            add_store(code, name=name, time_zone=zone, currency=currency)
        db.session.remove()
    result = site.app.test_cli_runner().invoke(
        pos_cli,
        [
            "simulate",
            "--url",
            site.server.url,
            "--tills",
            str(TILLS),
            "--sales",
            str(SALES),
            "--seed",
            str(seed),
            "--faults",
            faults,
            "--store",
            "amm",
            "--store",
            "NYC",
            "--batch-size",
            "7",
            "--outbox-dir",
            str(tmp_path / f"fleet-{seed}"),
            "--format",
            "json",
            "--timeout",
            "90",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    made = TILLS * SALES
    assert (report["sales_made"], report["acknowledged"], report["pending"], report["flagged"]) == (made, made, 0, 0)
    assert report["drained"] and report["replay_mismatches"] == 0 and report["lost_sales"] == 0
    # The tills are dealt out over the stores in turn, and the report has each store's figures.
    assert [(t["name"], t["store"]) for t in report["per_till"]] == [
        (f"SIM-{seed}-AMM-T01", "AMM"),
        (f"SIM-{seed}-NYC-T01", "NYC"),
        (f"SIM-{seed}-AMM-T02", "AMM"),
        (f"SIM-{seed}-NYC-T02", "NYC"),
    ]
    half = made // 2
    assert [(s["store"], s["tills"], s["sales_made"], s["acknowledged"], s["errors"]) for s in report["per_store"]] == [
        ("AMM", 2, half, half, 0),
        ("NYC", 2, half, half, 0),
    ]
    return report


def query(database_url: str, sql: str, **params) -> list:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def check_chain(site, report: dict) -> None:
    url = site.database_url
    with site.app.app_context():
        stores = {code: find_store(code) for code in STORES}
        db.session.remove()
    sold: dict[tuple[int, str], Decimal] = Counter()
    for till in report["per_till"]:
        store = stores[till["store"]]
        places = STORES[till["store"]][3]
        outbox = Outbox(till["outbox"])
        sales = outbox.sales()
        outbox.close()
        assert len(sales) == SALES and all(sale.state == SYNCED for sale in sales)
        # The till sold in its store's currency decimals ...
        assert all(len(sale.order["total"].partition(".")[2]) == places for sale in sales), till["name"]
        if places == 3:  # amounts to the fils, not cents with a trailing zero
            assert any(Decimal(sale.order["total"]) % Decimal("0.01") for sale in sales), till["name"]
        # ... and closed each day it sold on, in its store's time zone.
        zone = ZoneInfo(store.time_zone)
        local_days = {datetime.fromisoformat(sale.created_at).astimezone(zone).date().isoformat() for sale in sales}
        assert set(till["closed_days"]) == local_days, till["name"]
        # Every sale is stored exactly once (the legacy till's extra copies are voided by the fix), in this
        # till's store, numbered in that store's own invoice series, with the amounts the till sent.
        rows = query(
            url,
            "SELECT o.offline_id, o.id, o.invoice_number, o.store_id, o.total FROM orders o "
            "JOIN devices d ON d.id = o.device_id WHERE d.name = :name AND o.voided_at IS NULL",
            name=till["name"],
        )
        stored = {row[0]: row for row in rows}
        assert len(rows) == SALES, f"{till['name']}: {len(rows)} kept for {SALES} sales"
        # The legacy till's kept copy may be one sent under an id its outbox no longer holds: it is checked
        # by content; every other till's sales by the order id and invoice number the server answered.
        if till["legacy"]:
            kept = Counter(Decimal(str(row[4])) for row in rows)
            assert kept == Counter(Decimal(sale.order["total"]) for sale in sales)
            assert {row[3] for row in rows} == {store.id}
        for sale in sales:
            if not till["legacy"]:
                _offline_id, order_id, invoice, store_id, total = stored[sale.offline_id]
                assert (order_id, invoice) == (sale.order_id, sale.invoice_number)
                assert store_id == store.id and Decimal(str(total)) == Decimal(sale.order["total"])
                # Its receipt number, or a number of its store's series when the receipt was taken.
                assert invoice == sale.receipt_number or invoice.startswith(store.invoice_prefix), invoice
            for line in sale.order["lines"]:
                sold[(store.id, line["sku"])] += Decimal(line["quantity"])
    check_invariants(url)
    # Stock is exact per store: each store's level moved by exactly what its own tills sold, once.
    for code, store in stores.items():
        levels = query(
            url,
            "SELECT p.sku, l.opening_quantity - l.quantity FROM stock_levels l "
            "JOIN products p ON p.id = l.product_id WHERE l.store_id = :store",
            store=store.id,
        )
        moved = {sku: Decimal(str(delta)) for sku, delta in levels if Decimal(str(delta)) != 0}
        expected = {sku: quantity for (store_id, sku), quantity in sold.items() if store_id == store.id}
        assert moved == expected, code
    # The server numbered the sales whose receipt number was taken in their own store's series, gap-free.
    for code, store in stores.items():
        numbers = sorted(
            int(invoice.removeprefix(store.invoice_prefix))
            for (invoice,) in query(url, "SELECT invoice_number FROM orders WHERE store_id = :s", s=store.id)
            if invoice.startswith(store.invoice_prefix)
        )
        assert numbers == list(range(1, len(numbers) + 1)), code
    assert query(url, "SELECT COUNT(*) FROM orders WHERE invoice_number LIKE 'NYC-%'")[0][0] > 0


def fix_duplicates(site, report: dict) -> None:
    [legacy] = [till for till in report["per_till"] if till["legacy"]]
    assert legacy["store"] == "NYC" and report["duplicates_made"] > 0
    with site.app.app_context():
        run_scan(trigger="test", actor="test")
        fix_now(open_certain_selection(), "manager@example.com")
        db.session.remove()


def test_a_fleet_across_two_stores_through_faults(site, tmp_path):
    report = run_chain_fleet(site, tmp_path, seed=31, faults="drop,replay,crash,legacy-ids")
    injected = report["faults_injected"]
    assert injected["drop"] > 0 and injected["replay"] > 0 and injected["crash"] >= TILLS
    fix_duplicates(site, report)
    check_chain(site, report)
    assert check_closes_matched(site, report) >= TILLS


@pytest.fixture
def pg_site(request, tmp_path, redis_server):
    site = open_site("postgres", request, tmp_path, redis_server)
    yield site
    site.close()


@pytest.mark.postgres
def test_a_fleet_across_two_stores_through_faults_on_postgresql(pg_site, tmp_path):
    report = run_chain_fleet(pg_site, tmp_path, seed=32, faults="drop,replay,crash,outage,legacy-ids")
    assert report["faults_injected"]["outage"] >= TILLS * 5
    fix_duplicates(pg_site, report)
    check_chain(pg_site, report)
    assert check_closes_matched(pg_site, report) >= TILLS


def test_an_unknown_second_store_adds_no_tills(site, tmp_path):
    with site.app.app_context():
        known = default_store().code
        db.session.remove()
    result = site.app.test_cli_runner().invoke(
        pos_cli, ["simulate", "--url", site.server.url, "--seed", "33", "--store", known, "--store", "NOPE"]
    )
    assert result.exit_code == 2 and "no store with code 'NOPE'" in result.output
    with site.app.app_context():
        names = [name for (name,) in db.session.execute(text("SELECT name FROM devices WHERE name LIKE 'SIM-33-%'"))]
        db.session.remove()
    assert names == []
