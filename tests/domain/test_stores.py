"""Stores: each till sells in its store, which records the sale, moves its own stock, numbers its own
invoices and takes amounts in its own currency; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from dashboard.domain.catalog import import_products, read_products_csv
from dashboard.domain.devices import DeviceError, add_device
from dashboard.domain.stores import StoreError, add_store, default_store, find_store
from dashboard.extensions import db
from dashboard.models import Device, Order, OrderLine, Product, StockLevel, StockMovement
from tests.support.invariants import check_invariants
from tests.support.sales import bearer, make_sale


def sync(client, token, orders):
    response = client.post("/api/v1/sync", json={"orders": orders}, headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"]


def level(store_code: str, sku: str) -> Decimal | None:
    store = find_store(store_code)
    return db.session.scalar(
        select(StockLevel.quantity)
        .join(Product, Product.id == StockLevel.product_id)
        .where(StockLevel.store_id == store.id, Product.sku == sku)
    )


def mirror(sku: str) -> Decimal:
    return db.session.scalar(select(Product.stock_quantity).where(Product.sku == sku))


@pytest.fixture
def chain(app, catalog):
    """The default store (EUR, from the settings), Amman (JOD, 3 decimals) and Riyadh (SAR), a till in each."""
    add_store("AMM", name="Amman", time_zone="Asia/Amman", currency="JOD")
    add_store("ruh", name="Riyadh", time_zone="Asia/Riyadh", currency="SAR", invoice_prefix="RUH/")
    import_products(
        read_products_csv(
            "sku,name,price,stock_quantity,store\n"
            "COFFEE,Coffee,2.50,40,AMM\nBREAD,Bread,3.20,30,AMM\nCOFFEE,Coffee,2.50,20,RUH\n"
        )
    )
    return {"main": add_device("T01"), "amm": add_device("A01", store="AMM"), "ruh": add_device("R01", store="ruh")}


def test_default_store_follows_the_settings_and_existing_tills_are_in_it(app, token):
    store = default_store()
    assert (store.code, store.currency, store.time_zone, store.invoice_prefix) == ("MAIN", "EUR", "UTC", "S-")
    assert db.session.scalar(select(Device.store_id).where(Device.name == "T01")) == store.id
    app.config["DASHBOARD_CURRENCY"] = "KWD"
    assert (default_store().currency, default_store().money.places) == ("KWD", 3)


def test_each_sale_records_its_tills_store_and_moves_only_that_stores_stock(client, chain):
    coffee = [{"sku": "COFFEE", "quantity": "2", "unit_price": "2.50"}]
    [amm] = sync(client, chain["amm"], [make_sale(prefix="A01", lines=coffee)])
    [main] = sync(client, chain["main"], [make_sale(lines=coffee)])
    [ruh] = sync(client, chain["ruh"], [make_sale(prefix="R01", lines=coffee)])
    assert {amm["status"], main["status"], ruh["status"]} == {"created"}
    stores = {code: find_store(code).id for code in ("MAIN", "AMM", "RUH")}
    assert db.session.get(Order, amm["order_id"]).store_id == stores["AMM"]
    assert db.session.get(Order, main["order_id"]).store_id == stores["MAIN"]
    assert db.session.get(Order, ruh["order_id"]).store_id == stores["RUH"]
    assert (level("AMM", "COFFEE"), level("RUH", "COFFEE"), level("MAIN", "COFFEE")) == (38, 18, 98)
    # products.stock_quantity stays the default store's (the contract's readers see their shop).
    assert mirror("COFFEE") == 98
    moved = (
        db.session.execute(
            select(StockMovement.store_id)
            .join(OrderLine, OrderLine.id == StockMovement.order_line_id)
            .where(OrderLine.order_id == amm["order_id"])
        )
        .scalars()
        .all()
    )
    assert moved == [stores["AMM"]]
    check_invariants(db.engine)


def test_a_store_sells_a_product_it_never_stocked_into_negative(client, chain):
    [result] = sync(
        client, chain["ruh"], [make_sale(prefix="R01", lines=[{"sku": "TEA", "quantity": "3", "unit_price": "2.00"}])]
    )
    assert result["status"] == "created"
    assert level("RUH", "TEA") == -3 and mirror("TEA") == 100
    check_invariants(db.engine)


def test_three_decimal_currency_end_to_end_and_refused_where_the_currency_has_two(client, chain):
    lines = [
        {"sku": "COFFEE", "quantity": "3", "unit_price": "1.125"},
        {"sku": "BREAD", "quantity": "1", "unit_price": "0.750"},
    ]
    sale = make_sale(prefix="A01", lines=lines, total="4.125", payments=False)
    sale["payments"] = [{"method": "cash", "amount": "4.125"}]
    [result] = sync(client, chain["amm"], [sale])
    assert result["status"] == "created", result
    order = db.session.get(Order, result["order_id"])
    db.session.refresh(order)
    assert order.total == Decimal("4.125")
    prices = db.session.scalars(
        select(OrderLine.unit_price).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)
    ).all()
    assert prices == [Decimal("1.125"), Decimal("0.750")]
    # A replay is recognised whatever the number of zeros.
    again = {**sale, "total": "4.1250"}
    assert sync(client, chain["amm"], [again])[0]["status"] == "duplicate"
    # The same sale from a till in a two-decimal store is refused, saying why.
    refused = sync(client, chain["ruh"], [{**sale, "offline_id": str(uuid.uuid4())}])[0]
    assert (refused["status"], refused["reason"]) == ("rejected", "too_many_decimals"), refused
    assert "SAR" in refused["message"] and "2 decimal places" in refused["message"], refused
    # A 3-decimal total whose lines round differently at 3 places is a mismatch, as at 2.
    wrong = make_sale(prefix="A01", lines=lines, total="4.13", payments=False)
    assert sync(client, chain["amm"], [wrong])[0]["reason"] == "total_mismatch"
    check_invariants(db.engine)


def test_server_invoice_series_is_per_store_and_gap_free_within_each(app, client, chain):
    app.config["INVOICE_POLICY"] = "server"
    numbers = {}
    for key, prefix in (("amm", "A01"), ("main", "T01"), ("amm", "A01"), ("ruh", "R01"), ("amm", "A01")):
        [result] = sync(client, chain[key], [make_sale(prefix=prefix)])
        numbers.setdefault(key, []).append(result["invoice_number"])
    assert numbers == {
        "amm": ["AMM-00000001", "AMM-00000002", "AMM-00000003"],
        "main": ["S-00000001"],
        "ruh": ["RUH/00000001"],
    }
    check_invariants(db.engine)


def test_a_duplicate_fix_gives_stock_back_to_the_store_the_sale_moved(app, client, chain):
    sale = make_sale(prefix="A01", lines=[{"sku": "COFFEE", "quantity": "4", "unit_price": "2.50"}])
    sync(client, chain["amm"], [sale])
    sync(client, chain["amm"], [{**sale, "offline_id": str(uuid.uuid4())}])  # a buggy till's re-send
    sync(client, chain["main"], [make_sale(lines=[{"sku": "COFFEE", "quantity": "1", "unit_price": "2.50"}])])
    assert level("AMM", "COFFEE") == 32
    result = app.test_cli_runner().invoke(args=["offline", "cleanup", "--force"])
    assert result.exit_code == 0, result.output
    assert level("AMM", "COFFEE") == 36 and level("MAIN", "COFFEE") == 99 and mirror("COFFEE") == 99
    check_invariants(db.engine)


def test_catalogue_import_sets_the_default_store_unless_a_store_is_named(app, chain):
    import_products(read_products_csv("sku,name,price,stock_quantity\nCOFFEE,Coffee,2.60,70\n"))
    assert (level("MAIN", "COFFEE"), mirror("COFFEE"), level("AMM", "COFFEE")) == (70, 70, 40)
    import_products(
        read_products_csv("sku,name,price,stock_quantity,store\nCOFFEE,Coffee,2.60,35,amm\nJAM,Jam,3.100,5,AMM\n")
    )
    assert (level("AMM", "COFFEE"), level("MAIN", "COFFEE")) == (35, 70)
    assert (level("AMM", "JAM"), level("MAIN", "JAM"), mirror("JAM")) == (5, 0, 0)
    check_invariants(db.engine)


@pytest.mark.parametrize(
    "text, error",
    [
        ("sku,name,price,stock_quantity,store\nCOFFEE,Coffee,2.50,1,NOPE\n", "no store with code 'NOPE'"),
        (
            "sku,name,price,stock_quantity,store\nCOFFEE,Coffee,2.50,1,AMM\nCOFFEE,Coffee,2.70,1,RUH\n",
            "another name or price",
        ),
        ("sku,name,price,stock_quantity,store\nCOFFEE,Coffee,2.50,1,AMM\nCOFFEE,Coffee,2.50,2,amm\n", "twice"),
    ],
)
def test_a_bad_store_column_refuses_the_file(app, chain, text, error):
    with pytest.raises(ValueError, match=error):
        import_products(read_products_csv(text))
    assert level("AMM", "COFFEE") == 40


def test_store_and_device_checks_say_what_is_wrong(app, chain):
    with pytest.raises(StoreError, match="exists already"):
        add_store("amm", name="Again", time_zone="Asia/Amman", currency="JOD")
    with pytest.raises(StoreError, match="time zone"):
        add_store("X1", name="X", time_zone="Mars/Olympus", currency="JOD")
    with pytest.raises(StoreError, match="ISO 4217"):
        add_store("X1", name="X", time_zone="UTC", currency="DINAR")
    with pytest.raises(StoreError, match="invoice prefix 'S-'"):
        add_store("X1", name="X", time_zone="UTC", currency="EUR", invoice_prefix="S-")
    with pytest.raises(DeviceError, match="no store with code 'XYZ'"):
        add_device("Z01", store="XYZ")
    assert db.session.scalar(select(Device.id).where(Device.name == "Z01")) is None
