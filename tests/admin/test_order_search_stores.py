"""Searching orders by a store's server invoice number typed without its store's prefix or without its
leading zeros ("000003", "3", "kwi-3" for "KWI-00000003"). On SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from dashboard.domain.devices import add_device
from dashboard.domain.stores import add_store
from tests.domain.test_stores import sync
from tests.support.sales import make_sale


@pytest.fixture
def numbered(app, client, catalog) -> dict[str, int]:
    """Sales numbered by the server: KWI-00000001..3 in Kuwait City, AMM-00000001 in Amman, S-00000001 in
    the default store; invoice number -> order id."""
    app.config["INVOICE_POLICY"] = "server"
    add_store("KWI", name="Kuwait City", time_zone="Asia/Kuwait", currency="KWD")
    add_store("AMM", name="Amman", time_zone="Asia/Amman", currency="JOD")
    tills = {"K01": add_device("K01", store="KWI"), "A01": add_device("A01", store="AMM"), "T01": add_device("T01")}
    invoices = {}
    for n, prefix in enumerate(("K01", "K01", "A01", "K01", "T01")):
        # Receipt numbers of letters, so that no receipt matches a number searched for below.
        [result] = sync(client, tills[prefix], [make_sale(prefix=prefix, receipt_number=f"{prefix}-R{'ABCDE'[n]}")])
        invoices[result["invoice_number"]] = result["order_id"]
    assert sorted(invoices) == ["AMM-00000001", "KWI-00000001", "KWI-00000002", "KWI-00000003", "S-00000001"]
    return invoices


def found(viewer, query: str, **filters) -> set[int]:
    response = viewer.get("/orders", query_string={"q": query, **filters})
    assert response.status_code == 200
    return {int(order_id) for order_id in re.findall(r'href="/orders/(\d+)"', response.get_data(as_text=True))}


def test_a_server_number_is_found_without_its_stores_prefix_or_zeros(signed_in, numbered):
    viewer = signed_in("viewer")
    kwi3 = numbered["KWI-00000003"]
    for query in ("KWI-00000003", "kwi-00000003", "00000003", "000003", "3", "KWI-3", "kwi-003"):
        assert found(viewer, query) == {kwi3}, query
    # A number every store's series has: one order of each store, and the store filter keeps one.
    ones = {numbered["KWI-00000001"], numbered["AMM-00000001"], numbered["S-00000001"]}
    assert found(viewer, "1") == found(viewer, "00000001") == ones
    assert found(viewer, "1", store="AMM") == {numbered["AMM-00000001"]}
    # The start of the number still finds every number it starts, in every store.
    assert found(viewer, "0000000") == set(numbered.values())
    assert found(viewer, "KWI-0000000") == {numbered[n] for n in numbered if n.startswith("KWI-")}
    # A number no store has, or another store's prefix, finds nothing.
    assert found(viewer, "4") == found(viewer, "AMM-2") == found(viewer, "123456789") == set()
