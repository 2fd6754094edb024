"""The till acts on each answer as the contract says, against a real gunicorn."""

from __future__ import annotations

from decimal import Decimal

import requests

from dashboard.client import FLAGGED, SYNCED, Till
from dashboard.domain.catalog import ProductRow, import_products
from dashboard.domain.devices import revoke_device
from tests.client.conftest import Device
from tests.client.helpers import BASKET, stored_ids, stored_orders
from tests.support.invariants import check_invariants
from tests.support.sales import bearer


def new_till(tmp_path, device, server, **options) -> Till:
    """A till whose back-off pauses are recorded instead of slept."""
    sleeps = []
    till = Till(tmp_path / "outbox.db", server.url, device.token, device.name, sleep=sleeps.append, **options)
    till.sleeps = sleeps
    return till


def post(server, token, orders) -> dict:
    """Upload as another program would, straight to the server."""
    response = requests.post(server.url + "/api/v1/sync", json={"orders": orders}, headers=bearer(token), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_created_sales_are_marked_synced_with_order_id_and_invoice_number(tmp_path, site, device):
    till = new_till(tmp_path, device, site.server)
    sold = [till.record_sale(BASKET, cashier="Amal") for _ in range(3)]
    report = till.sync()
    assert report.ok and (report.created, report.duplicate, report.requests) == (3, 0, 1)
    stored = stored_ids(site.database_url, device.name)
    assert set(stored) == set(sold)
    for sale in till.synced():
        assert sale.state == SYNCED and sale.status == "created"
        assert (sale.order_id, sale.invoice_number) == stored[sale.offline_id]
        assert sale.invoice_number == sale.receipt_number  # invoice policy 'device'
    assert till.pending() == [] and len(till.outbox.sales()) == 3  # acknowledged rows are kept, not deleted
    again = till.sync()
    assert again.ok and again.requests == 0


def test_duplicate_answer_is_marked_synced_with_the_original_order(tmp_path, site, device):
    till = new_till(tmp_path, device, site.server)
    offline_id = till.record_sale(BASKET, cashier="Amal")
    # An earlier upload of this very sale reached the server, but its answer never came back.
    first = post(site.server, device.token, [till.sale(offline_id).order])["results"][0]
    assert first["status"] == "created"
    report = till.sync()
    assert report.ok and (report.created, report.duplicate) == (0, 1)
    sale = till.sale(offline_id)
    assert (sale.state, sale.status, sale.order_id, sale.invoice_number) == (
        SYNCED,
        "duplicate",
        first["order_id"],
        first["invoice_number"],
    )
    assert len(stored_orders(site.database_url, device.name)) == 1


def test_conflict_is_flagged_and_not_retried(tmp_path, site, device):
    till = new_till(tmp_path, device, site.server)
    offline_id = till.record_sale(BASKET, cashier="Amal")
    other = dict(till.sale(offline_id).order, cashier="Mallory")  # same offline_id, other content
    post(site.server, device.token, [other])
    report = till.sync()
    assert (report.conflict, report.created, report.pending, report.flagged) == (1, 0, 0, 1)
    assert report.error is None  # a per-sale refusal is not a failure of the sync
    [sale] = till.flagged()
    assert (sale.offline_id, sale.state, sale.status, sale.reason) == (
        offline_id,
        FLAGGED,
        "conflict",
        "offline_id_reused",
    )
    assert "different content" in sale.message
    for _ in range(3):
        assert till.sync().requests == 0  # never resent automatically
    [stored] = stored_orders(site.database_url, device.name)
    assert (stored["offline_id"], stored["cashier"]) == (offline_id, "Mallory")  # the conflict changed nothing
    assert till.sleeps == []


def test_rejected_is_flagged_with_its_reason_the_rest_of_the_batch_is_stored_and_requeue_sends_it_again(
    tmp_path, site, device
):
    till = new_till(tmp_path, device, site.server)
    good = till.record_sale(BASKET, cashier="Amal")
    bad = till.record_sale([{"sku": "CROISANT", "quantity": 1, "unit_price": "1.80"}], cashier="Amal")
    report = till.sync()
    assert (report.requests, report.created, report.rejected, report.flagged, report.pending) == (1, 1, 1, 1, 0)
    [flagged] = till.flagged()
    assert (flagged.offline_id, flagged.status, flagged.reason) == (bad, "rejected", "unknown_sku")
    assert "CROISANT" in flagged.message
    assert till.sync().requests == 0  # a retry will not help, so there is none
    assert set(stored_ids(site.database_url, device.name)) == {good}

    # Staff add the product; only then is the sale sent again, unchanged.
    with site.app.app_context():
        import_products([ProductRow("CROISANT", "Croissant", Decimal("1.80"), Decimal(10))])
    assert till.requeue(bad) and not till.requeue(good)
    report = till.sync()
    assert report.ok and report.created == 1
    assert till.sale(bad).state == SYNCED and set(stored_ids(site.database_url, device.name)) == {good, bad}
    check_invariants(site.database_url)


def test_unknown_token_stops_at_once_and_keeps_the_sales(tmp_path, site, device):
    till = new_till(tmp_path, Device(device.name, "not-a-token"), site.server)
    sold = till.record_sale(BASKET, cashier="Amal")
    report = till.sync()
    assert report.needs_attention and "401" in report.error and "unknown_token" in report.error
    assert (report.requests, report.retries, report.pending) == (1, 0, 1)
    assert till.sleeps == []
    assert [sale.offline_id for sale in till.pending()] == [sold]
    assert stored_orders(site.database_url, device.name) == []


def test_revoked_till_stops_at_once_and_keeps_the_sales(tmp_path, site, device):
    with site.app.app_context():
        revoke_device(device.name)
    till = new_till(tmp_path, device, site.server)
    till.record_sale(BASKET, cashier="Amal")
    report = till.sync()
    assert report.needs_attention and "403" in report.error and "device_revoked" in report.error
    assert (report.requests, report.retries, report.pending) == (1, 0, 1) and till.sleeps == []
    assert stored_orders(site.database_url, device.name) == []


def test_batch_over_the_order_limit_is_split(tmp_path, site, device):
    server = site.server_with(SYNC_MAX_ORDERS="4")
    till = new_till(tmp_path, device, server, batch_size=10)
    sold = [till.record_sale(BASKET, cashier="Amal") for _ in range(10)]
    report = till.sync()
    assert report.ok and report.created == 10
    # 10 and 5 are refused with 422 (nothing stored), then batches of 2.
    assert report.requests == 2 + 5 and report.sent == 10 + 5 + 10
    assert sorted(stored_ids(site.database_url, device.name)) == sorted(sold)
    assert till.sleeps == []


def test_body_over_the_size_limit_is_split_and_a_sale_too_big_alone_is_flagged(tmp_path, site, device):
    server = site.server_with(SYNC_MAX_BODY_BYTES="2500")
    till = new_till(tmp_path, device, server, batch_size=20)
    sold = [till.record_sale(BASKET, cashier="Amal") for _ in range(12)]
    huge = till.record_sale([{"sku": "COFFEE", "quantity": 1, "unit_price": "2.50"}] * 60, cashier="Amal")
    report = till.sync()
    assert report.created == 12 and report.rejected == 1 and report.pending == 0 and report.error is None
    [flagged] = till.flagged()
    assert (flagged.offline_id, flagged.status, flagged.reason) == (huge, "rejected", "body_too_large")
    assert sorted(stored_ids(site.database_url, device.name)) == sorted(sold)
    check_invariants(site.database_url)
