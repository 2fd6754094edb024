"""POST /api/v1/sync and GET /api/v1/sync/status with bad input, on SQLite and PostgreSQL.

Whole requests the contract refuses (400/401/403/413/422/429) answer
{"error": code, "message": text}, leave a row in sync_logs with their status and
error code, and store nothing. A bad sale inside a good request is `rejected`
on its own and never blocks the other sales of its batch. After any rejection
nothing is half-written: no order, line, movement or payment, stock unchanged.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import text

from dashboard.domain import refusals
from dashboard.domain.devices import add_device, revoke_device
from dashboard.extensions import db
from dashboard.redis_conn import get_redis
from tests.conftest import make_app
from tests.support.invariants import check_invariants
from tests.support.sales import bearer, load_catalog, make_sale

TABLES = ("orders", "order_lines", "stock_movements", "payments")


# --------------------------------------------------------------------------- helpers


def post_raw(client, token: str | None, body: bytes | str, headers: dict | None = None):
    """POST a body exactly as given (not re-encoded), as a till with a broken JSON encoder would."""
    all_headers = {"Content-Type": "application/json", **(bearer(token) if token else {}), **(headers or {})}
    return client.post("/api/v1/sync", data=body, headers=all_headers)


def sync(client, token, orders, **extra):
    return client.post("/api/v1/sync", json={"orders": orders, **extra}, headers=bearer(token))


def snapshot() -> dict:
    """Row counts of every table a sale writes to, and every product's stock, read on a fresh connection."""
    with db.engine.connect() as conn:
        counts = {table: conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() for table in TABLES}
        stock = {
            sku: Decimal(str(qty)).quantize(Decimal("0.001"))
            for sku, qty in conn.execute(text("SELECT sku, stock_quantity FROM products"))
        }
    return {**counts, "stock": stock}


def stock_of(sku: str) -> Decimal:
    return snapshot()["stock"][sku]


def stored_offline_ids() -> set[str]:
    with db.engine.connect() as conn:
        return {row[0] for row in conn.execute(text("SELECT offline_id FROM orders"))}


@dataclass(frozen=True)
class Logs:
    rows: list[tuple]  # (id, device_id, http_status, error_code) of every sync_logs row, oldest first
    refused: Counter  # calls refused as a whole, by (device_id, address, http_status, error_code)


def sync_logs() -> Logs:
    """The sync log and the refused-call counts (brought in from Redis first, as the dashboard does)."""
    refusals.flush(get_redis())
    with db.engine.connect() as conn:
        rows = [
            tuple(row)
            for row in conn.execute(text("SELECT id, device_id, http_status, error_code FROM sync_logs ORDER BY id"))
        ]
        refused = Counter()
        for device, address, status, code, count in conn.execute(
            text("SELECT device_id, address, http_status, error_code, count FROM refused_calls")
        ):
            refused[(device, address, status, code)] += count
    return Logs(rows, refused)


def device_id(name: str) -> int:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT id FROM devices WHERE name = :n"), {"n": name}).scalar_one()


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "message"}, body
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"].strip()
    return body


ANY_DEVICE = object()


def assert_refused(
    response, status: int, code: str, *, before: dict, logs_before: Logs, device: int | None | object
) -> dict:
    """A whole request refused: JSON error, counted once as a refused call, no sync_logs row (a flood of
    refusals must not write a row each), nothing else written.

    device: the device_id it is counted for (None for an unauthenticated request, counted by the
    caller's address), or ANY_DEVICE where the contract does not say.
    """
    body = assert_json_error(response, status, code)
    after = sync_logs()
    assert after.rows == logs_before.rows, "a refused request wrote a sync_logs row"
    counted = after.refused - logs_before.refused
    assert sum(counted.values()) == 1, counted
    ((counted_device, address, counted_status, counted_code),) = counted
    assert (counted_status, counted_code) == (status, code), counted
    if device is None:
        assert counted_device is None and address == "127.0.0.1", counted
    elif device is not ANY_DEVICE:
        assert counted_device == device and address is None, counted
    assert snapshot() == before, "a refused request wrote sales, lines, movements, payments or stock"
    return body


def assert_nothing_written(before: dict) -> None:
    assert snapshot() == before, "a rejection left orders, lines, movements, payments or stock behind"


def results_of(response) -> list[dict]:
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:500])
    return response.get_json()["results"]


def line(sku="TEA", quantity="1", unit_price="2.00"):
    return {"sku": sku, "quantity": quantity, "unit_price": unit_price}


def sale_with_line(**changes) -> dict:
    """A valid one-line sale of one TEA at 2.00, whose line then gets the given (bad) values."""
    sale = make_sale(lines=[line()], payments=False)
    sale["lines"][0].update(changes)
    return sale


def raw_sale(lines_json: str, total_json: str = '"2.00"', offline_id: str | None = None) -> str:
    """A sale as JSON text, so that numbers can be written the way no Python float can."""
    offline_id = offline_id or str(uuid.uuid4())
    return (
        '{"offline_id": "%s", "receipt_number": "T01-%s", "created_at": "2026-01-10T10:00:00+00:00", '
        '"lines": %s, "total": %s}' % (offline_id, offline_id[:8], lines_json, total_json)
    )


# --------------------------------------------------------------------------- 400: the body


@pytest.mark.parametrize(
    "body",
    [
        b'{"orders": [',
        b"not json at all",
        b"",
        b"{'orders': []}",
        b'{"orders": []}}',
        b"\xff\xfe\x00{",
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["truncated", "text", "empty", "single-quotes", "trailing-garbage", "bad-utf8", "deep-nesting"],
)
def test_malformed_json_is_400(client, token, catalog, body):
    before, logs = snapshot(), sync_logs()
    response = post_raw(client, token, body)
    assert_refused(response, 400, "invalid_json", before=before, logs_before=logs, device=device_id("T01"))


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        json.dumps([make_sale()]),
        "{}",
        json.dumps({"batch_id": "b-1", "sales": [make_sale()]}),
        json.dumps({"orders": {"0": make_sale()}}),
        json.dumps({"orders": "[]"}),
        json.dumps({"orders": None}),
        json.dumps({"orders": 3}),
        '"orders"',
        "42",
        "null",
        "true",
    ],
    ids=[
        "list",
        "list-of-sales",
        "empty-object",
        "no-orders",
        "orders-object",
        "orders-string",
        "orders-null",
        "orders-number",
        "json-string",
        "json-number",
        "json-null",
        "json-true",
    ],
)
def test_body_that_is_not_an_object_with_an_orders_list_is_400(client, token, catalog, body):
    before, logs = snapshot(), sync_logs()
    response = post_raw(client, token, body)
    assert_refused(response, 400, "invalid_request", before=before, logs_before=logs, device=device_id("T01"))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("where", ["quantity", "unit_price", "total"])
def test_nan_and_infinity_literals_are_400(client, token, catalog, literal, where):
    good = json.dumps(make_sale())
    if where == "total":
        bad = raw_sale(json.dumps([line()]), total_json=literal)
    else:
        fields = {"sku": '"TEA"', "quantity": '"1"', "unit_price": '"2.00"', where: literal}
        bad = raw_sale("[{%s}]" % ", ".join(f'"{k}": {v}' for k, v in fields.items()))
    before, logs = snapshot(), sync_logs()
    response = post_raw(client, token, '{"orders": [%s, %s]}' % (good, bad))
    assert_refused(response, 400, "invalid_json", before=before, logs_before=logs, device=device_id("T01"))


@pytest.mark.parametrize(
    "batch_id, logged", [({"id": 1}, None), ([1], None), (True, None), ("", None), (42, "42"), ("b" * 150, "b" * 100)]
)
def test_malformed_batch_id_only_labels_the_log(client, token, catalog, batch_id, logged):
    """batch_id is optional and for the logs only: a malformed one never refuses the sales."""
    sale = make_sale()
    response = sync(client, token, [sale], batch_id=batch_id)
    assert results_of(response)[0]["status"] == "created"
    with db.engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT batch_id FROM sync_logs WHERE id = :i"), {"i": response.get_json()["sync_id"]}
            ).scalar()
            == logged
        )
    assert stored_offline_ids() == {sale["offline_id"]}


@pytest.mark.parametrize("batch_id", ["b-\u0000-1", "b-\ud800-1"], ids=["nul", "lone-surrogate"])
def test_batch_id_the_database_cannot_hold_does_not_refuse_the_sales(client, token, catalog, batch_id):
    sale = make_sale()
    response = sync(client, token, [sale], batch_id=batch_id)
    assert results_of(response)[0]["status"] == "created"
    assert stored_offline_ids() == {sale["offline_id"]}
    assert [row[2:] for row in sync_logs().rows] == [(200, None)]


# --------------------------------------------------------------------------- rejected sales in a good batch


def test_wrong_types_inside_a_sale_reject_that_sale_only(client, token, catalog):
    first, last = make_sale(), make_sale()
    bad = {
        "quantity-bool": sale_with_line(quantity=True),
        "quantity-false": sale_with_line(quantity=False),
        "quantity-object": sale_with_line(quantity={"value": "1"}),
        "quantity-list": sale_with_line(quantity=["1"]),
        "quantity-null": sale_with_line(quantity=None),
        "quantity-missing": sale_with_line(quantity=None) | {"lines": [{"sku": "TEA", "unit_price": "2.00"}]},
        "price-bool": sale_with_line(unit_price=True),
        "sku-number": sale_with_line(sku=7),
        "lines-object": make_sale(lines=[line()], total="2.00") | {"lines": {"1": line()}},
        "lines-string": make_sale(lines=[line()], total="2.00") | {"lines": "TEA x1"},
        "lines-null": make_sale(lines=[line()], total="2.00") | {"lines": None},
        "line-a-string": make_sale(lines=[line()], total="2.00") | {"lines": ["TEA"]},
        "total-bool": make_sale(lines=[line()], payments=False) | {"total": True},
        "total-object": make_sale(lines=[line()], payments=False) | {"total": {"amount": "2.00"}},
        "payments-object": make_sale(lines=[line()]) | {"payments": {"method": "cash", "amount": "2.00"}},
        "payment-amount-list": make_sale(lines=[line()]) | {"payments": [{"method": "cash", "amount": ["2.00"]}]},
        "offline_id-number": make_sale() | {"offline_id": 12345},
        "receipt-number-list": make_sale() | {"receipt_number": ["T01-1"]},
        "cashier-object": make_sale() | {"cashier": {"name": "Amal"}},
    }
    not_objects = ["a sale as a string", 42, None, ["COFFEE", 2], True]
    orders = [first, *bad.values(), *not_objects, last]
    before, logs = snapshot(), sync_logs()
    response = sync(client, token, orders)
    results = results_of(response)
    assert len(results) == len(orders)
    assert [r["status"] for r in results] == ["created"] + ["rejected"] * (len(bad) + len(not_objects)) + ["created"]
    for name, sale, result in zip(bad, bad.values(), results[1:]):
        assert result["reason"] == "invalid_order", (name, result)
        assert result["message"], name
        assert "order_id" not in result and "invoice_number" not in result, name
        expected_id = sale["offline_id"] if isinstance(sale["offline_id"], str) else None
        assert result["offline_id"] == expected_id, name
    for result in results[1 + len(bad) : -1]:
        assert (
            result
            == {"offline_id": None, "status": "rejected", "reason": "invalid_order", "message": result["message"]}
            and result["message"]
        )
    body = response.get_json()
    assert (body["received"], body["created"], body["rejected"]) == (len(orders), 2, len(bad) + len(not_objects))
    assert stored_offline_ids() == {first["offline_id"], last["offline_id"]}
    after = snapshot()
    assert after["orders"] == before["orders"] + 2 and after["order_lines"] == before["order_lines"] + 4
    assert after["stock_movements"] == before["stock_movements"] + 4
    assert after["stock"]["COFFEE"] == before["stock"]["COFFEE"] - 4
    assert after["stock"]["BREAD"] == before["stock"]["BREAD"] - 2
    assert after["stock"]["TEA"] == before["stock"]["TEA"]
    assert sync_logs().rows[len(logs.rows) :] == [(body["sync_id"], device_id("T01"), 200, None)]
    check_invariants(db.engine)


HUGE = {
    "quantity 1e400 (JSON number)": lambda: raw_sale('[{"sku": "TEA", "quantity": 1e400, "unit_price": "2.00"}]'),
    "unit_price 1e400 (JSON number)": lambda: raw_sale('[{"sku": "TEA", "quantity": "1", "unit_price": 1e400}]'),
    "total 1e400 (JSON number)": lambda: raw_sale(json.dumps([line()]), total_json="1e400"),
    "quantity 1E+7 (JSON number, over the limit)": lambda: raw_sale(
        '[{"sku": "TEA", "quantity": 1E+7, "unit_price": "0.01"}]', total_json='"100000.00"'
    ),
    "quantity 5000-digit string": lambda: raw_sale(json.dumps([line(quantity="9" * 5000)])),
    "unit_price 5000-digit string": lambda: raw_sale(json.dumps([line(unit_price="9" * 5000)])),
    "quantity 5000-decimal string": lambda: raw_sale(json.dumps([line(quantity="1." + "0" * 4999)])),
    "quantity 10**30 (JSON integer)": lambda: raw_sale(json.dumps([line(quantity=10**30)])),
    "quantity 4000-digit JSON integer": lambda: raw_sale(json.dumps([line(quantity=int("9" * 4000))])),
    "total 10**30 (JSON integer)": lambda: raw_sale(json.dumps([line()]), total_json=str(10**30)),
    "payment 10**30": lambda: (
        raw_sale(json.dumps([line()]))[:-1] + ', "payments": [{"method": "cash", "amount": %d}]}' % 10**30
    ),
    "quantity 1e-400 (JSON number)": lambda: raw_sale(
        '[{"sku": "TEA", "quantity": 1e-400, "unit_price": "2.00"}]', total_json='"0.00"'
    ),
}


@pytest.mark.parametrize("case", list(HUGE))
def test_huge_numbers_reject_the_sale_and_store_nothing(client, token, catalog, case):
    good = make_sale()
    bad = HUGE[case]()
    before = snapshot()
    response = post_raw(client, token, '{"orders": [%s, %s]}' % (bad, json.dumps(good)))
    results = results_of(response)
    assert results[0]["status"] == "rejected" and results[0]["reason"] == "invalid_order", results[0]
    assert results[0]["offline_id"] == json.loads(bad)["offline_id"]
    assert len(results[0]["message"]) < 1000, "the message should not echo a huge number back"
    assert results[1]["status"] == "created"
    assert stored_offline_ids() == {good["offline_id"]}
    assert stock_of("TEA") == before["stock"]["TEA"]
    check_invariants(db.engine)


@pytest.mark.parametrize("exponent", ["1e1000000", "1e999999999", "-1e1000000"])
@pytest.mark.parametrize("where", ["quantity", "unit_price", "total"])
def test_numbers_beyond_decimal_range_reject_the_sale(client, token, catalog, exponent, where):
    """JSON allows any exponent; one absurd number must reject its sale, not fail the whole batch."""
    good = make_sale()
    if where == "total":
        bad = raw_sale(json.dumps([line()]), total_json=exponent)
    else:
        fields = {"sku": '"TEA"', "quantity": '"1"', "unit_price": '"2.00"', where: exponent}
        bad = raw_sale("[{%s}]" % ", ".join(f'"{k}": {v}' for k, v in fields.items()))
    before = snapshot()
    response = post_raw(client, token, '{"orders": [%s, %s]}' % (bad, json.dumps(good)))
    results = results_of(response)
    assert (results[0]["status"], results[0]["reason"]) == ("rejected", "invalid_order"), results[0]
    assert results[1]["status"] == "created"
    assert stored_offline_ids() == {good["offline_id"]}
    assert stock_of("TEA") == before["stock"]["TEA"]


TOO_PRECISE = {
    "unit_price 2.505": dict(lines=[line(unit_price="2.505")], total="2.51"),
    "unit_price 2.505 (JSON number)": dict(lines=[line(unit_price=Decimal("2.505"))], total="2.51"),
    "unit_price 0.001": dict(lines=[line(unit_price="0.001")], total="0.00"),
    "quantity 1.0001": dict(lines=[line(quantity="1.0001")], total="2.00"),
    "quantity 0.0005": dict(lines=[line(quantity="0.0005")], total="0.00"),
    "total 2.001": dict(lines=[line()], total="2.001"),
    "payment 2.001": dict(lines=[line()], total="2.00", payments=[{"method": "cash", "amount": "2.001"}]),
}


@pytest.mark.parametrize("case", list(TOO_PRECISE))
def test_too_many_decimals_reject_the_sale(client, token, catalog, case):
    fields = dict(TOO_PRECISE[case])
    sale = make_sale(lines=fields.pop("lines"), payments=False)
    sale.update(fields)
    body = json.dumps({"orders": [sale]}, default=str)  # Decimal -> a JSON string; numbers below
    if "JSON number" in case:
        body = body.replace('"2.505"', "2.505")
    before, logs = snapshot(), sync_logs()
    result = results_of(post_raw(client, token, body))[0]
    # Amounts have their own reason since stores have currencies (KWD takes 3 decimals, EUR 2).
    reason = "invalid_order" if case.startswith("quantity") else "too_many_decimals"
    assert (result["status"], result["reason"]) == ("rejected", reason), result
    assert "decimal" in result["message"], result
    assert_nothing_written(before)
    assert sync_logs().rows[len(logs.rows) :][0][2:] == (200, None)


def test_trailing_zeros_are_not_too_many_decimals(client, token, catalog):
    sale = make_sale(lines=[line(quantity="1.500000", unit_price="2.0000")], total="3.000")
    assert results_of(sync(client, token, [sale]))[0]["status"] == "created"
    assert stock_of("TEA") == Decimal("98.5")


def test_empty_lines_reject_the_sale(client, token, catalog):
    sale = make_sale(lines=[line()]) | {"lines": [], "total": "0.00", "payments": []}
    good = make_sale()
    before = snapshot()
    results = results_of(sync(client, token, [sale, good]))
    assert results[0] == {
        "offline_id": sale["offline_id"],
        "status": "rejected",
        "reason": "invalid_order",
        "message": results[0]["message"],
    }
    assert results[1]["status"] == "created"
    assert stored_offline_ids() == {good["offline_id"]}
    assert stock_of("TEA") == before["stock"]["TEA"]


@pytest.mark.parametrize("field", ["cashier", "receipt_number", "sku", "offline_id"])
@pytest.mark.parametrize("value", ["Am\u0000al", "Am\ud800al"], ids=["nul", "lone-surrogate"])
def test_unstorable_text_rejects_the_sale_not_the_batch(client, token, catalog, field, value):
    """Valid JSON text a database may not hold (NUL, a lone UTF-16 surrogate) concerns one sale, not the batch.

    The contract does not say whether such text is stored or refused; it does say that one
    invalid sale never blocks the others, and that a sale is answered either way.
    """
    bad = make_sale(lines=[line()])
    if field == "sku":
        bad["lines"][0]["sku"] = value
    else:
        bad[field] = value
    good = make_sale()
    before = snapshot()
    response = sync(client, token, [bad, good])
    results = results_of(response)
    assert results[1]["status"] == "created"
    if results[0]["status"] == "rejected":
        assert results[0]["reason"] in {"invalid_order", "unknown_sku"}, results[0]
        assert stored_offline_ids() == {good["offline_id"]}
        assert stock_of("TEA") == before["stock"]["TEA"]
    else:
        assert results[0]["status"] == "created" and field in ("cashier", "receipt_number"), results[0]
        assert stored_offline_ids() == {good["offline_id"], bad["offline_id"]}
        assert stock_of("TEA") == before["stock"]["TEA"] - 1
    check_invariants(db.engine)


# --------------------------------------------------------------------------- limits: 413 and 422


def test_501_sales_is_422_and_stores_nothing(client, token, catalog):
    before, logs = snapshot(), sync_logs()
    response = sync(client, token, [make_sale() for _ in range(501)])
    body = assert_refused(response, 422, "batch_too_large", before=before, logs_before=logs, device=device_id("T01"))
    assert "501" in body["message"] and "500" in body["message"]


def test_500_sales_is_the_limit_and_is_accepted(client, token, catalog):
    sales = [make_sale(lines=[line()]) for _ in range(500)]
    body = sync(client, token, sales).get_json()
    assert (body["received"], body["created"]) == (500, 500)
    assert stock_of("TEA") == Decimal(100 - 500)
    check_invariants(db.engine)


def test_6mb_body_is_413_with_json_error(client, token, catalog):
    sales = [make_sale(cashier="x" * 1000) for _ in range(6 * 1024)]
    body = json.dumps({"orders": sales[:1], "padding": "x" * (6 * 1024 * 1024)})
    assert len(body) > 6 * 1024 * 1024
    before, logs = snapshot(), sync_logs()
    response = post_raw(client, token, body)
    assert_refused(response, 413, "body_too_large", before=before, logs_before=logs, device=device_id("T01"))
    # The same where the size comes from many sales: the size limit answers before the order limit.
    before, logs = snapshot(), sync_logs()
    response = post_raw(client, token, json.dumps({"orders": sales}))
    assert_refused(response, 413, "body_too_large", before=before, logs_before=logs, device=device_id("T01"))


def test_body_just_under_the_limit_is_read(app, client, token, catalog):
    sale = make_sale()
    body = json.dumps({"orders": [sale], "padding": ""})
    body = body.replace('"padding": ""', '"padding": "%s"' % ("x" * (app.config["MAX_CONTENT_LENGTH"] - len(body))))
    assert len(body.encode()) == app.config["MAX_CONTENT_LENGTH"]
    assert results_of(post_raw(client, token, body))[0]["status"] == "created"


# --------------------------------------------------------------------------- 401 and 403


@pytest.mark.parametrize(
    "headers, code",
    [
        ({}, "missing_token"),
        ({"Authorization": ""}, "missing_token"),
        ({"Authorization": "Bearer"}, "missing_token"),
        ({"Authorization": "Bearer    "}, "missing_token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing_token"),
        ({"Authorization": "Bearer not-a-known-token"}, "unknown_token"),
        ({"Authorization": "Token whatever"}, "missing_token"),
    ],
    ids=["none", "empty", "bearer-alone", "bearer-blank", "basic", "unknown", "other-scheme"],
)
def test_without_a_known_token_is_401(client, token, catalog, headers, code):
    before, logs = snapshot(), sync_logs()
    response = client.post("/api/v1/sync", json={"orders": [make_sale()]}, headers=headers)
    assert_refused(response, 401, code, before=before, logs_before=logs, device=None)
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_unknown_token_with_a_malformed_body_is_still_401(client, token, catalog):
    """Authentication comes first: a stranger learns nothing about the body's validity."""
    before, logs = snapshot(), sync_logs()
    response = post_raw(client, "guess", b'{"orders": [')
    assert_refused(response, 401, "unknown_token", before=before, logs_before=logs, device=None)


def test_alias_path_refuses_alike(client, token, catalog):
    before, logs = snapshot(), sync_logs()
    response = client.post("/sync", data=b"[]", headers=bearer(token))
    assert_refused(response, 400, "invalid_request", before=before, logs_before=logs, device=device_id("T01"))
    before, logs = snapshot(), sync_logs()
    response = client.post("/sync", json={"orders": []})
    assert_refused(response, 401, "missing_token", before=before, logs_before=logs, device=None)


def test_revoked_device_is_403(client, token, other_token, catalog):
    kept = make_sale()
    assert results_of(sync(client, token, [kept]))[0]["status"] == "created"
    revoke_device("T01")
    before, logs = snapshot(), sync_logs()
    response = sync(client, token, [make_sale(), kept])
    # The log row's device_id is not asserted: the server refuses before it takes the device as known.
    body = assert_refused(response, 403, "device_revoked", before=before, logs_before=logs, device=ANY_DEVICE)
    assert "T01" in body["message"]
    assert_json_error(
        client.get("/api/v1/sync/status", query_string={"offline_id": kept["offline_id"]}, headers=bearer(token)),
        403,
        "device_revoked",
    )
    assert_json_error(client.get("/api/v1/products", headers=bearer(token)), 403, "device_revoked")
    # Its sales stay, and other tills are not affected.
    assert stored_offline_ids() == {kept["offline_id"]}
    assert results_of(sync(client, other_token, [make_sale(prefix="T02")]))[0]["status"] == "created"


# --------------------------------------------------------------------------- GET /api/v1/sync/status


def test_status_does_not_show_another_devices_sales(client, token, other_token, catalog):
    mine, theirs = make_sale(), make_sale(prefix="T02")
    assert results_of(sync(client, token, [mine]))[0]["status"] == "created"
    assert results_of(sync(client, other_token, [theirs]))[0]["status"] == "created"
    for asked in (theirs["offline_id"], theirs["offline_id"].upper(), " " + theirs["offline_id"] + " "):
        response = client.get("/api/v1/sync/status", query_string={"offline_id": asked}, headers=bearer(token))
        assert response.status_code == 200
        assert response.get_json()["results"] == [
            {"offline_id": asked, "status": "unknown", "order_id": None, "invoice_number": None}
        ]
    # Each device sees its own.
    response = client.get(
        "/api/v1/sync/status", query_string={"offline_id": theirs["offline_id"]}, headers=bearer(other_token)
    )
    assert response.get_json()["results"][0]["status"] == "synced"


def test_status_without_token_is_401(client, token, catalog):
    assert_json_error(
        client.get("/api/v1/sync/status", query_string={"offline_id": str(uuid.uuid4())}), 401, "missing_token"
    )
    assert_json_error(client.get("/api/v1/sync/status", headers=bearer("nope")), 401, "unknown_token")


def test_status_with_more_than_500_ids_is_422(client, token, catalog):
    sale = make_sale()
    sync(client, token, [sale])
    ids = [sale["offline_id"]] + [str(uuid.uuid4()) for _ in range(500)]
    response = client.get("/api/v1/sync/status", query_string=[("offline_id", i) for i in ids], headers=bearer(token))
    assert_json_error(response, 422, "too_many_ids")
    response = client.get(
        "/api/v1/sync/status", query_string=[("offline_id", i) for i in ids[:500]], headers=bearer(token)
    )
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert len(results) == 500 and results[0]["status"] == "synced"
    assert {r["status"] for r in results[1:]} == {"unknown"}


# --------------------------------------------------------------------------- 429 with a real Redis


@pytest.fixture
def limited(database_url, redis_server, tmp_path):
    """An app allowing 3 requests a minute per device, counted in the session's real Redis."""
    redis_server.flush()  # device ids repeat across test databases; the counters must not
    app = make_app(database_url, redis_server.url, tmp_path, SYNC_RATE_LIMIT_PER_MINUTE=3)
    with app.app_context():
        load_catalog()
        tokens = add_device("T01"), add_device("T02")
        yield app, tokens
        db.session.remove()
        db.engine.dispose()
    redis_server.flush()


def _wait_for_a_fresh_window(needed: float = 10.0) -> None:
    """The limit counts per calendar minute: start early enough in one that the test stays inside it."""
    if 60 - time.time() % 60 < needed:
        time.sleep(60 - time.time() % 60 + 0.05)


def test_fourth_request_in_a_minute_is_429_and_stores_nothing(limited):
    app, (token, other_token) = limited
    client = app.test_client()
    _wait_for_a_fresh_window()
    sales = [make_sale() for _ in range(4)]
    for sale in sales[:3]:
        assert results_of(sync(client, token, [sale]))[0]["status"] == "created"
    before, logs = snapshot(), sync_logs()
    response = sync(client, token, [sales[3]])
    body = assert_refused(response, 429, "rate_limited", before=before, logs_before=logs, device=device_id("T01"))
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert str(retry_after) in body["message"]
    assert stored_offline_ids() == {s["offline_id"] for s in sales[:3]}
    # Replays are refused alike (and change nothing); the limit is per device.
    before, logs = snapshot(), sync_logs()
    assert_refused(
        sync(client, token, sales[:3]), 429, "rate_limited", before=before, logs_before=logs, device=device_id("T01")
    )
    other = make_sale(prefix="T02")
    assert results_of(sync(client, other_token, [other]))[0]["status"] == "created"
    assert stored_offline_ids() == {s["offline_id"] for s in sales[:3]} | {other["offline_id"]}
    check_invariants(db.engine)


def test_rate_limit_comes_after_authentication(limited):
    """An unknown token is 401 however often it is tried, and does not use up a device's allowance."""
    app, (token, _) = limited
    client = app.test_client()
    _wait_for_a_fresh_window()
    for _ in range(5):
        assert_json_error(
            client.post("/api/v1/sync", json={"orders": []}, headers=bearer("nope")), 401, "unknown_token"
        )
    for _ in range(3):
        assert client.post("/api/v1/sync", json={"orders": []}, headers=bearer(token)).status_code == 200
    before, logs = snapshot(), sync_logs()
    assert_refused(
        post_raw(client, token, b"[]"), 429, "rate_limited", before=before, logs_before=logs, device=device_id("T01")
    )
