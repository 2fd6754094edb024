"""One hostile sale is rejected alone: its batch's other sales are stored (issue 8, finding 4).

Sales nested deeper than the JSON decoder's recursion limit and integers
longer than Python's int-from-text limit reach the server from buggy tills;
none may fail the batch. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Order, SyncAttempt
from tests.support.invariants import check_invariants
from tests.support.sales import bearer, make_sale


def post(client, token, body: str):
    return client.post("/api/v1/sync", data=body, headers={**bearer(token), "Content-Type": "application/json"})


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def body_with(sales: list[dict], raw_extra: dict[int, tuple[str, str]]) -> str:
    """A batch whose sale i carries the raw JSON text raw_extra[i] = (key, text) as one more member."""
    parts = []
    for index, sale in enumerate(sales):
        text = json.dumps(sale)
        if index in raw_extra:
            key, raw = raw_extra[index]
            text = text[:-1] + f', "{key}": {raw}}}'
        parts.append(text)
    return '{"batch_id": "hostile", "orders": [' + ", ".join(parts) + "]}"


@pytest.mark.parametrize("depth", [2_000, 50_000])
def test_a_sale_nested_too_deep_is_rejected_alone(client, token, catalog, depth):
    sales = [make_sale(), make_sale(), make_sale()]
    response = post(client, token, body_with(sales, {1: ("extra", nested(depth))}))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["created", "rejected", "created"]
    assert results[1]["offline_id"] == sales[1]["offline_id"] and results[1]["reason"] == "invalid_order"
    assert "nested too deeply" in results[1]["message"]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 2
    kept = db.session.scalar(select(SyncAttempt.payload).where(SyncAttempt.offline_id == sales[1]["offline_id"]))
    assert json.loads(kept)["offline_id"] == sales[1]["offline_id"]
    check_invariants(db.engine)


@pytest.mark.parametrize("depth", range(880, 1000, 20))
def test_sales_nested_near_the_recursion_limit_never_fail_their_batch(client, token, catalog, depth):
    """Near the limit a sale may decode in C and yet not write back out: it is judged or rejected alone."""
    deep_good = make_sale()
    deep_bad = make_sale(lines=[{"sku": "CROISANT", "quantity": "1", "unit_price": "1.80"}])
    sales = [make_sale(), deep_good, deep_bad, make_sale()]
    response = post(client, token, body_with(sales, {1: ("extra", nested(depth)), 2: ("extra", nested(depth))}))
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert results[0]["status"] == results[3]["status"] == "created"
    assert results[1]["status"] == "created" or "nested too deeply" in results[1]["message"]
    assert results[2]["status"] == "rejected"
    kept = db.session.scalar(select(SyncAttempt.payload).where(SyncAttempt.offline_id == deep_bad["offline_id"]))
    assert json.loads(kept)["offline_id"] == deep_bad["offline_id"]
    check_invariants(db.engine)


def test_an_integer_too_long_for_python_sinks_only_its_sale(client, token, catalog):
    huge = "9" * 5_000
    sales = [make_sale(), make_sale(lines=[{"sku": "TEA", "quantity": "1", "unit_price": "2.00"}]), make_sale()]
    body = body_with(sales, {2: ("extra_number", huge)})
    body = body.replace(f'"total": "{sales[1]["total"]}"', f'"total": {huge}', 1)
    response = post(client, token, body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert [r["status"] for r in response.get_json()["results"]] == ["created", "rejected", "created"]
    check_invariants(db.engine)


def test_a_body_nested_too_deep_outside_its_orders_is_invalid_json(client, token, catalog):
    body = '{"batch_id": ' + nested(5_000) + ', "orders": [' + json.dumps(make_sale()) + "]}"
    response = post(client, token, body)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_json"
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
