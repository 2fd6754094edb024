"""PostgreSQL: a shop's sale does not wait for another shop's open transaction on the same product.

Stock is one row per (store, product): while a transaction holds Amman's coffee row, a sale of
coffee in Riyadh (and in the default store, whose products row Amman never touches) goes through.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, text

from dashboard.domain.devices import add_device
from dashboard.domain.stores import add_store, find_store
from dashboard.extensions import db
from tests.support.invariants import check_invariants
from tests.support.sales import bearer, make_sale

COFFEE = [{"sku": "COFFEE", "quantity": "1", "unit_price": "2.50"}]


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_sale_in_one_store_does_not_wait_for_another_stores_stock_row(app, client, database_url, catalog):
    add_store("AMM", name="Amman", time_zone="Asia/Amman", currency="JOD")
    add_store("RUH", name="Riyadh", time_zone="Asia/Riyadh", currency="SAR")
    tills = {"AMM": add_device("A01", store="AMM"), "RUH": add_device("R01", store="RUH"), "MAIN": add_device("T01")}
    for code in ("AMM", "RUH", "MAIN"):  # every store has a coffee row before Amman's is held
        assert (
            client.post(
                "/api/v1/sync", json={"orders": [make_sale(lines=COFFEE)]}, headers=bearer(tills[code])
            ).status_code
            == 200
        )
    amman = find_store("AMM").id
    db.session.remove()
    other = create_engine(database_url)
    holder = other.connect()
    transaction = holder.begin()
    holder.execute(
        text(
            "UPDATE stock_levels SET quantity = quantity WHERE store_id = :s AND product_id = "
            "(SELECT id FROM products WHERE sku = 'COFFEE')"
        ),
        {"s": amman},
    )
    answers: dict[str, int] = {}

    def sell(code: str) -> None:
        with app.app_context():
            response = app.test_client().post(
                "/api/v1/sync", json={"orders": [make_sale(lines=COFFEE)]}, headers=bearer(tills[code])
            )
            answers[code] = response.status_code

    try:
        threads = [threading.Thread(target=sell, args=(code,)) for code in ("RUH", "MAIN")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        # Both answered while Amman's row was still held: neither needed it.
        assert answers == {"RUH": 200, "MAIN": 200}
    finally:
        transaction.rollback()
        holder.close()
        for thread in threads:
            thread.join()
        other.dispose()
    check_invariants(db.engine)
