"""POST /api/v1/sync, status by status, as the contract says; on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Order, OrderLine, Product, StockMovement, SyncAttempt, SyncLog
from tests.support.invariants import check_invariants
from tests.support.sales import bearer, make_sale


def sync(client, token, orders, **extra):
    return client.post("/api/v1/sync", json={"orders": orders, **extra}, headers=bearer(token))


def stock(sku: str) -> Decimal:
    return db.session.scalar(select(Product.stock_quantity).where(Product.sku == sku))


def test_created_stores_order_lines_movements_and_stock(client, token, catalog):
    sale = make_sale(receipt_number="T01-000042")
    response = sync(client, token, [sale], batch_id="b-1")
    assert response.status_code == 200
    body = response.get_json()
    assert body["received"] == 1 and body["created"] == 1
    assert body["duplicates"] == body["conflicts"] == body["rejected"] == 0
    result = body["results"][0]
    assert result == {
        "offline_id": sale["offline_id"],
        "status": "created",
        "order_id": result["order_id"],
        "invoice_number": "T01-000042",
    }
    order = db.session.get(Order, result["order_id"])
    assert order.offline_id == sale["offline_id"] and order.status == "completed"
    assert order.total == Decimal("8.20") and order.receipt_number == "T01-000042"
    lines = db.session.scalars(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)
    ).all()
    assert [(ln.line_no, ln.sku, ln.quantity) for ln in lines] == [(1, "COFFEE", 2), (2, "BREAD", 1)]
    movements = db.session.scalars(
        select(StockMovement).where(StockMovement.order_line_id.in_([ln.id for ln in lines]))
    ).all()
    assert sorted(m.quantity_delta for m in movements) == [Decimal(-2), Decimal(-1)]
    assert stock("COFFEE") == Decimal(98) and stock("BREAD") == Decimal(99)
    log = db.session.get(SyncLog, body["sync_id"])
    assert (log.batch_id, log.http_status, log.created, log.received) == ("b-1", 200, 1, 1)
    check_invariants(db.engine)


def test_replay_returns_first_answer_and_changes_nothing(client, token, catalog):
    sale = make_sale()
    first = sync(client, token, [sale]).get_json()["results"][0]
    for _ in range(3):
        again = sync(client, token, [sale]).get_json()
        assert again["duplicates"] == 1 and again["created"] == 0
        assert again["results"][0] == {
            "offline_id": sale["offline_id"],
            "status": "duplicate",
            "order_id": first["order_id"],
            "invoice_number": first["invoice_number"],
        }
    assert db.session.scalar(select(func.count(Order.id))) == 1
    assert stock("COFFEE") == Decimal(98)
    check_invariants(db.engine)


def test_replay_with_numbers_written_differently_is_still_a_duplicate(client, token, catalog):
    sale = make_sale()
    sync(client, token, [sale])
    rewritten = dict(
        sale,
        total=float(sale["total"]),
        lines=[
            dict(line, quantity=int(line["quantity"]), unit_price=line["unit_price"] + "0") for line in sale["lines"]
        ],
        offline_id=sale["offline_id"].upper(),
    )
    result = sync(client, token, [rewritten]).get_json()["results"][0]
    assert result["status"] == "duplicate"


def test_reused_offline_id_with_other_content_is_a_conflict(client, token, catalog):
    sale = make_sale()
    sync(client, token, [sale])
    changed = dict(
        sale,
        lines=[{"sku": "TEA", "quantity": "1", "unit_price": "2.00"}],
        total="2.00",
        payments=[{"method": "card", "amount": "2.00"}],
    )
    body = sync(client, token, [changed]).get_json()
    assert body["conflicts"] == 1
    result = body["results"][0]
    assert result["status"] == "conflict" and result["reason"] == "offline_id_reused"
    assert stock("TEA") == Decimal(100) and stock("COFFEE") == Decimal(98)
    attempt = db.session.scalar(select(SyncAttempt).where(SyncAttempt.sync_id == body["sync_id"]))
    assert attempt.status == "conflict" and '"TEA"' in attempt.payload
    check_invariants(db.engine)


def test_changed_replay_that_is_also_invalid_is_a_conflict(client, token, catalog):
    sale = make_sale()
    sync(client, token, [sale])
    result = sync(client, token, [dict(sale, total="99.00")]).get_json()["results"][0]
    assert (result["status"], result["reason"]) == ("conflict", "offline_id_reused")


def test_rejected_sales_do_not_block_the_batch(client, token, catalog):
    good = make_sale()
    unknown = make_sale(lines=[{"sku": "CROISANT", "quantity": "1", "unit_price": "1.80"}])
    unknown["lines"].insert(0, {"sku": "COFFEE", "quantity": "1", "unit_price": "2.50"})
    unknown["total"] = "4.30"
    unknown["payments"] = [{"method": "cash", "amount": "4.30"}]
    body = sync(client, token, [unknown, good]).get_json()
    assert [r["status"] for r in body["results"]] == ["rejected", "created"]
    rejected = body["results"][0]
    assert rejected["reason"] == "unknown_sku" and rejected["message"] == "line 2: no product with sku 'CROISANT'"
    assert db.session.scalar(select(func.count(Order.id))) == 1
    assert stock("COFFEE") == Decimal(98)
    attempt = db.session.scalar(select(SyncAttempt).where(SyncAttempt.offline_id == unknown["offline_id"]))
    assert attempt.reason == "unknown_sku" and "CROISANT" in attempt.payload


def test_each_reason_code(client, token, catalog):
    cases = {
        "total_mismatch": make_sale(total="9.99", payments=False),
        "payments_mismatch": make_sale(payments=False) | {"payments": [{"method": "cash", "amount": "1.00"}]},
        "non_positive_quantity": make_sale(lines=[{"sku": "TEA", "quantity": "0", "unit_price": "2.00"}]),
        "negative_price": make_sale(lines=[{"sku": "TEA", "quantity": "1", "unit_price": "-2.00"}], payments=False),
        "invalid_created_at": make_sale(created_at="yesterday"),
        "too_many_lines": make_sale(lines=[{"sku": "TEA", "quantity": "1", "unit_price": "2.00"}] * 201),
        "invalid_order": make_sale(offline_id="not-a-uuid"),
    }
    body = sync(client, token, list(cases.values())).get_json()
    assert [r["reason"] for r in body["results"]] == list(cases)
    assert all(r["status"] == "rejected" and r["message"] for r in body["results"])
    assert body["rejected"] == len(cases)
    assert db.session.scalar(select(func.count(Order.id))) == 0
    assert db.session.scalar(select(func.count(StockMovement.id))) == 0


def test_results_come_in_request_order(client, token, catalog):
    sales = [make_sale() for _ in range(20)]
    body = sync(client, token, sales).get_json()
    assert [r["offline_id"] for r in body["results"]] == [s["offline_id"] for s in sales]


def test_same_sale_twice_in_one_batch_is_stored_once(client, token, catalog):
    sale = make_sale()
    body = sync(client, token, [sale, sale]).get_json()
    assert [r["status"] for r in body["results"]] == ["created", "duplicate"]
    assert body["results"][0]["order_id"] == body["results"][1]["order_id"]
    check_invariants(db.engine)


def test_receipt_number_collision_is_stored_renumbered_and_marked(client, token, other_token, catalog):
    first = sync(client, token, [make_sale(receipt_number="T03-000042")]).get_json()["results"][0]
    clash = make_sale(receipt_number="T03-000042")
    body = sync(client, other_token, [clash]).get_json()
    result = body["results"][0]
    assert result["status"] == "created" and result["reason"] == "receipt_number_collision"
    assert result["invoice_number"] != "T03-000042" and result["order_id"] != first["order_id"]
    order = db.session.get(Order, result["order_id"])
    assert order.receipt_number == "T03-000042" and order.receipt_number_collision
    replay = sync(client, other_token, [clash]).get_json()["results"][0]
    assert (replay["status"], replay["invoice_number"]) == ("duplicate", result["invoice_number"])
    check_invariants(db.engine)


def test_server_series_number_already_used_by_a_till_is_skipped(client, token, catalog):
    sync(client, token, [make_sale(receipt_number="S-00000001")])
    sync(client, token, [make_sale(receipt_number="X-1")])
    clash = sync(client, token, [make_sale(receipt_number="X-1")]).get_json()["results"][0]
    assert clash["invoice_number"] == "S-00000002"
    check_invariants(db.engine)


def test_server_policy_numbers_without_gaps(app, client, token, catalog):
    app.config["INVOICE_POLICY"] = "server"
    sales = [make_sale() for _ in range(5)]
    bad = make_sale(total="1.00", payments=False)
    first = sync(client, token, sales[:2] + [bad] + sales[2:]).get_json()
    sync(client, token, sales)  # replays take no number
    more = sync(client, token, [make_sale()]).get_json()
    numbers = [r["invoice_number"] for r in first["results"] if r["status"] == "created"]
    numbers.append(more["results"][0]["invoice_number"])
    assert numbers == [f"S-{n:08d}" for n in range(1, 7)]
    kept = db.session.scalars(select(Order.receipt_number).order_by(Order.invoice_number)).all()
    assert kept[:2] == [sales[0]["receipt_number"], sales[1]["receipt_number"]]


def test_sale_is_never_refused_for_stock(client, token, catalog):
    big = make_sale(lines=[{"sku": "TEA", "quantity": "150", "unit_price": "2.00"}])
    assert sync(client, token, [big]).get_json()["results"][0]["status"] == "created"
    assert stock("TEA") == Decimal(-50)
    check_invariants(db.engine)


def test_alias_path_accepts_sync(client, token, catalog):
    response = client.post("/sync", json={"orders": [make_sale()]}, headers=bearer(token))
    assert response.status_code == 200 and response.get_json()["created"] == 1


def test_status_tells_synced_and_unknown_for_own_sales_only(client, token, other_token, catalog):
    mine, theirs = make_sale(), make_sale()
    created = sync(client, token, [mine]).get_json()["results"][0]
    sync(client, other_token, [theirs])
    response = client.get(
        "/api/v1/sync/status",
        query_string=[("offline_id", mine["offline_id"]), ("offline_id", theirs["offline_id"]), ("offline_id", "junk")],
        headers=bearer(token),
    )
    assert response.status_code == 200
    assert response.get_json()["results"] == [
        {
            "offline_id": mine["offline_id"],
            "status": "synced",
            "order_id": created["order_id"],
            "invoice_number": created["invoice_number"],
        },
        {"offline_id": theirs["offline_id"], "status": "unknown", "order_id": None, "invoice_number": None},
        {"offline_id": "junk", "status": "unknown", "order_id": None, "invoice_number": None},
    ]


def test_another_devices_offline_id_is_a_conflict_that_reveals_nothing(client, token, other_token, catalog):
    sale = make_sale()
    sync(client, token, [sale])
    result = sync(client, other_token, [sale]).get_json()["results"][0]
    assert result["status"] == "conflict" and "order_id" not in result and "invoice_number" not in result


def test_products_lists_the_catalogue(client, token, catalog):
    response = client.get("/api/v1/products", headers=bearer(token))
    assert response.status_code == 200
    assert {"sku": "COFFEE", "name": "Coffee", "price": "2.50"} in response.get_json()
    assert client.get("/api/v1/products").status_code == 401


def test_batch_id_is_for_logs_only_and_never_refuses_sales(client, token, catalog):
    body = sync(client, token, [make_sale()], batch_id={"not": "a string"}).get_json()
    assert body["created"] == 1
    assert db.session.get(SyncLog, body["sync_id"]).batch_id is None
    body = sync(client, token, [make_sale()], batch_id=42).get_json()
    assert db.session.get(SyncLog, body["sync_id"]).batch_id == "42"


def test_status_by_post_for_long_lists(client, token, catalog):
    sales = [make_sale() for _ in range(3)]
    created = sync(client, token, sales).get_json()["results"]
    asked = [s["offline_id"] for s in sales] + [f"00000000-0000-4000-8000-{n:012d}" for n in range(497)]
    response = client.post("/api/v1/sync/status", json={"offline_ids": asked}, headers=bearer(token))
    results = response.get_json()["results"]
    assert len(results) == 500
    assert [r["order_id"] for r in results[:3]] == [c["order_id"] for c in created]
    assert {r["status"] for r in results[3:]} == {"unknown"}
    too_many = client.post("/api/v1/sync/status", json={"offline_ids": asked + ["x"]}, headers=bearer(token))
    assert too_many.status_code == 422 and too_many.get_json()["error"] == "too_many_ids"
    bad = client.post("/api/v1/sync/status", json={"ids": []}, headers=bearer(token))
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_request"


def test_total_may_be_rounded_per_line_or_as_a_whole(client, token, catalog):
    lines = [
        {"sku": "TEA", "quantity": "0.005", "unit_price": "1.00"},
        {"sku": "TEA", "quantity": "0.005", "unit_price": "1.00"},
    ]
    per_line = make_sale(lines=lines, total="0.02", payments=False)
    whole = make_sale(lines=lines, total="0.01", payments=False)
    neither = make_sale(lines=lines, total="0.03", payments=False)
    body = sync(client, token, [per_line, whole, neither]).get_json()
    assert [r["status"] for r in body["results"]] == ["created", "created", "rejected"]
    assert body["results"][2]["reason"] == "total_mismatch"
