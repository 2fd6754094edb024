"""The dashboard of a chain: each store's sales today in its own currency and day, amounts with their
store's decimals (3 for KWD), tills registered into a store; on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from dashboard.domain.devices import add_device
from dashboard.domain.stores import add_store
from dashboard.extensions import db
from dashboard.models import Device, DuplicateGroup, Store
from tests.admin.conftest import post_form
from tests.support.sales import bearer, make_sale

KWD_SALE = [{"sku": "COFFEE", "quantity": "3", "unit_price": "1.125"}]


def sync(client, token, *sales) -> list[dict]:
    response = client.post("/api/v1/sync", json={"orders": list(sales)}, headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"]


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def test_each_store_shows_its_sales_today_and_amounts_in_its_currency(client, signed_in, token, catalog):
    add_store("KWI", name="Kuwait City", time_zone="Asia/Kuwait", currency="KWD")
    kwi = add_device("K01", store="KWI")
    [kuwaiti] = sync(client, kwi, make_sale(prefix="K01", lines=KWD_SALE, total="3.375", payments=False))
    [main] = sync(client, token, make_sale())
    assert kuwaiti["status"] == main["status"] == "created"
    viewer = signed_in("viewer")

    sales = page(viewer, "/").split('id="sales-today"')[1].split("</section>")[0]
    assert "<bdi>Kuwait City</bdi>" in sales and "<bdi>Main store</bdi>" in sales
    assert "KWD3.375" in sales and "€8.20" in sales
    assert "1 sale since midnight (Asia/Kuwait)" in sales and "1 sale since midnight (UTC)" in sales

    order = page(viewer, f"/orders/{kuwaiti['order_id']}")
    assert "KWD3.375" in order and "KWD1.125" in order
    listing = page(viewer, "/orders")
    assert "KWD3.375" in listing and "€8.20" in listing


def test_negative_stock_names_the_store(client, signed_in, catalog):
    add_store("KWI", name="Kuwait City", time_zone="Asia/Kuwait", currency="KWD")
    kwi = add_device("K01", store="KWI")
    sync(client, kwi, make_sale(prefix="K01", lines=KWD_SALE, total="3.375", payments=False))
    html = page(signed_in("viewer"), "/")
    assert "<bdi>KWI</bdi> · <code>COFFEE</code>" in html  # KWI never stocked coffee: -3 there
    assert "<bdi>MAIN</bdi> · <code>COFFEE</code>" not in html


def test_admin_registers_a_till_into_the_chosen_store(app, signed_in):
    add_store("AMM", name="Amman", time_zone="Asia/Amman", currency="JOD")
    admin = signed_in("admin")
    form = page(admin, "/devices")
    assert '<option value="MAIN">MAIN · Main store</option>' in form
    assert '<option value="AMM">AMM · Amman</option>' in form
    response = post_form(admin, "/devices", {"name": "A01", "store": "AMM"}, token_from="/devices")
    assert response.status_code == 200
    amman = db.session.scalar(select(Store.id).where(Store.code == "AMM"))
    assert db.session.scalar(select(Device.store_id).where(Device.name == "A01")) == amman
    assert "<td><bdi>AMM</bdi></td>" in page(admin, "/devices")
    refused = post_form(admin, "/devices", {"name": "A02", "store": "NOPE"}, token_from="/devices")
    assert refused.status_code == 400
    assert db.session.scalar(select(Device.id).where(Device.name == "A02")) is None


def test_skipped_sales_show_and_export_their_stores_currency(client, signed_in, token, catalog):
    import csv
    import io

    single = signed_in("viewer").get("/skipped/sales.csv?state=all").get_data().decode("utf-8-sig")
    assert single.splitlines()[0].split(",")[11] == "total (EUR)"  # one currency: named, as before
    add_store("KWI", name="Kuwait City", time_zone="Asia/Kuwait", currency="KWD")
    kwi = add_device("K01", store="KWI")
    unknown = make_sale(
        prefix="K01", lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "1.125"}], total="1.125", payments=False
    )
    [result] = sync(client, kwi, unknown)
    assert (result["status"], result["reason"]) == ("rejected", "unknown_sku")
    viewer = signed_in("viewer")
    assert "KWD1.125" in page(viewer, "/skipped/sales?state=all")
    export = viewer.get("/skipped/sales.csv?state=all").get_data().decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(export)))
    assert (row["total"], row["store"], row["currency"]) == ("1.125", "KWI", "KWD")


def test_duplicate_queue_and_group_show_the_stores_currency(client, signed_in, catalog):
    import uuid

    from dashboard.domain.duplicates import run_scan

    add_store("KWI", name="Kuwait City", time_zone="Asia/Kuwait", currency="KWD")
    kwi = add_device("K01", store="KWI")
    sale = make_sale(prefix="K01", lines=KWD_SALE, total="3.375", payments=False)
    sync(client, kwi, sale)
    sync(client, kwi, {**sale, "offline_id": str(uuid.uuid4())})  # re-sent under a new id
    run_scan(trigger="test", actor="test")
    viewer = signed_in("viewer")
    queue = page(viewer, "/duplicates")
    assert queue.count("KWD3.375") == 2  # the amount, and what a fix would take out of the books
    group_id = db.session.scalar(select(DuplicateGroup.id).where(DuplicateGroup.kind == "resent_with_new_id"))
    assert "KWD1.125" in page(viewer, f"/duplicates/{group_id}")


def test_orders_list_filters_by_store_when_there_are_several(client, signed_in, token, catalog):
    viewer = signed_in("viewer")
    assert 'name="store"' not in page(viewer, "/orders")  # a single shop has nothing to choose
    add_store("KWI", name="Kuwait City", time_zone="Asia/Kuwait", currency="KWD")
    kwi = add_device("K01", store="KWI")
    [kuwaiti] = sync(client, kwi, make_sale(prefix="K01", lines=KWD_SALE, total="3.375", payments=False))
    [main] = sync(client, token, make_sale())
    everything = page(viewer, "/orders")
    assert f"#{kuwaiti['order_id']}<" in everything and f"#{main['order_id']}<" in everything
    kuwait_only = page(viewer, "/orders?store=kwi")
    assert f"#{kuwaiti['order_id']}<" in kuwait_only and f"#{main['order_id']}<" not in kuwait_only
    assert '<option value="KWI" selected>' in kuwait_only
    assert f"#{main['order_id']}<" in page(viewer, "/orders?store=NOPE")  # an unknown code filters nothing
