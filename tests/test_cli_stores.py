"""`flask stores ...`, `flask devices add --store` and `flask products import` with a store column."""

from __future__ import annotations

import json

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import AuditEntry, Device, Store
from tests.support.invariants import check_invariants
from tests.support.sales import bearer, make_sale


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_stores_add_list_and_a_till_in_the_store(app, client, catalog, tmp_path):
    result = run(app, "stores", "add", "kwi", "--name", "Kuwait City", "--timezone", "Asia/Kuwait", "--currency", "kwd")
    assert result.exit_code == 0, result.output
    assert "KWD (3 decimals)" in result.output and "KWI-00000001" in result.output
    store = db.session.scalar(select(Store).where(Store.code == "KWI"))
    assert (store.currency, store.time_zone, store.invoice_prefix) == ("KWD", "Asia/Kuwait", "KWI-")
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "store.add"))
    assert audit.actor == "cli" and json.loads(audit.details)["currency"] == "KWD"
    listing = run(app, "stores", "list").output.splitlines()
    assert listing[0].startswith("MAIN\tMain store\tEUR/2\tUTC\tS-\tdefault")
    assert listing[1] == "KWI\tKuwait City\tKWD/3\tAsia/Kuwait\tKWI-"

    added = run(app, "devices", "add", "K01", "--store", "KWI")
    assert added.exit_code == 0, added.output
    token = added.output.strip().splitlines()[-1]
    assert db.session.scalar(select(Device.store_id).where(Device.name == "K01")) == store.id
    assert "K01\tactive\tlast seen never\tstore KWI" in run(app, "devices", "list").output
    sale = make_sale(
        prefix="K01", lines=[{"sku": "TEA", "quantity": "1", "unit_price": "2.125"}], total="2.125", payments=False
    )
    response = client.post("/api/v1/sync", json={"orders": [sale]}, headers=bearer(token))
    assert response.get_json()["results"][0]["status"] == "created"

    csv_file = tmp_path / "kwi.csv"
    csv_file.write_text("sku,name,price,stock_quantity,store\nTEA,Tea,2.00,12,KWI\n")
    assert run(app, "products", "import", str(csv_file)).exit_code == 0
    assert "KWI\tTEA\tTea\t12" in run(app, "stores", "stock", "kwi").output
    check_invariants(db.engine)


def test_bad_store_commands_fail_and_change_nothing(app):
    assert (
        run(app, "stores", "add", "X", "--name", "X", "--timezone", "Nowhere/Land", "--currency", "EUR").exit_code == 1
    )
    assert run(app, "stores", "add", "X", "--name", "X", "--timezone", "UTC", "--currency", "EURO").exit_code == 1
    failed = run(app, "devices", "add", "T09", "--store", "NOPE")
    assert failed.exit_code == 1 and "no store with code 'NOPE'" in failed.output
    assert db.session.scalar(select(Store.id).where(Store.code == "X")) is None
    assert db.session.scalar(select(Device.id).where(Device.name == "T09")) is None
