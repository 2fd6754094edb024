"""A till re-sending a sale under a new offline_id, through the real /api/v1/sync, on SQLite and PostgreSQL.

Both forms a buggy till produces (new offline_id with the same receipt number,
which the sync renumbers; new offline_id and new receipt number) are one certain
resent_with_new_id group per sale, fixed by `flask offline cleanup --force` and
by the dashboard's preview/approve jobs; the look-alikes keep their own kinds.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from dashboard.domain.duplicates import run_scan
from dashboard.domain.fix_plans import default_keeper, open_certain_selection
from dashboard.domain.fixes import approve_plan, request_plan
from dashboard.domain.reports.duplicates import group_review
from dashboard.extensions import db
from dashboard.jobs.duplicates import enqueue_apply, enqueue_preview
from dashboard.jobs.queue import job_status
from dashboard.models import DuplicateGroup, DuplicateGroupMember, FixPlan, Order, OrderLine, Product, StockMovement
from tests.support.invariants import check_invariants
from tests.support.sales import CATALOG, bearer, make_sale
from tests.support.workers import run_worker

B1 = [{"sku": "COFFEE", "quantity": "2", "unit_price": "2.50"}, {"sku": "BREAD", "quantity": "1", "unit_price": "3.20"}]
B2 = [{"sku": "TEA", "quantity": "1", "unit_price": "2.00"}]
B3 = [{"sku": "CROISSANT", "quantity": "3", "unit_price": "1.80"}]
B4 = [{"sku": "COFFEE", "quantity": "1", "unit_price": "2.50"}]
B5 = [{"sku": "BREAD", "quantity": "2", "unit_price": "3.20"}]
B6 = [{"sku": "TEA", "quantity": "2", "unit_price": "2.00"}]


@dataclass
class Books:
    """Order ids by name, and the units each product really sold (every real sale once)."""

    ids: dict[str, int]
    sold: Counter


def _resend(sale: dict, receipt_number: str | None = None) -> dict:
    """What the buggy till sends again: the same sale (time, basket, cashier) under a new offline_id."""
    return {**sale, "offline_id": str(uuid.uuid4()), "receipt_number": receipt_number or sale["receipt_number"]}


def _post(client, token: str, sale: dict) -> int:
    """One sync request with one sale (a retry is its own request); the stored order's id."""
    response = client.post("/api/v1/sync", json={"orders": [sale]}, headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    [result] = response.get_json()["results"]
    assert result["status"] == "created", result
    return result["order_id"]


def sync_books(client, token: str, other_token: str) -> Books:
    """Both re-send forms, a sale re-sent twice (once in each form), and the look-alikes."""
    # Microseconds included: the tills stamp sales that finely, and the scan compares the instant exactly.
    t0 = (datetime.now(timezone.utc) - timedelta(hours=3)).replace(microsecond=123456)
    at = [(t0 + timedelta(minutes=10 * n)).isoformat() for n in range(8)]
    ids: dict[str, int] = {}
    sold: Counter = Counter()

    def sell(name, sale, device_token=token, real=True):
        ids[name] = _post(client, device_token, sale)
        if real:
            for line in sale["lines"]:
                sold[line["sku"]] += Decimal(line["quantity"])

    a = make_sale(receipt_number="T01-000100", lines=B1, created_at=at[0])
    sell("a", a)
    sell("a_same_receipt", _resend(a), real=False)  # stored renumbered, receipt_number_collision
    c = make_sale(receipt_number="T01-000200", lines=B2, created_at=at[1])
    sell("c", c)
    sell("c_new_receipt", _resend(c, "T01-000201"), real=False)
    d = make_sale(receipt_number="T01-000300", lines=B3, created_at=at[2])
    sell("d", d)
    sell("d_same_receipt", _resend(d), real=False)
    sell("d_new_receipt", _resend(d, "T01-000301"), real=False)
    # Look-alikes. The same basket 30 s later under another number: perhaps two customers.
    e = make_sale(receipt_number="T01-000400", lines=B4, created_at=at[3])
    sell("e", e)
    sell(
        "e_later",
        make_sale(
            receipt_number="T01-000401",
            lines=B4,
            created_at=(datetime.fromisoformat(at[3]) + timedelta(seconds=30)).isoformat(),
        ),
    )
    # The same basket at the same instant on two tills: two sales, never flagged.
    sell("f_t01", make_sale(receipt_number="T01-000500", lines=B5, created_at=at[4]))
    sell("f_t02", make_sale(receipt_number="T02-000500", lines=B5, created_at=at[4]), other_token)
    # Another basket reusing a receipt number: two real sales (a collision, to review).
    sell("g", make_sale(receipt_number="T01-000600", lines=B6, created_at=at[5]))
    sell("g_other_basket", make_sale(receipt_number="T01-000600", lines=B2, created_at=at[6]))
    # Two baskets at the same instant on one till: two sales.
    sell("h1", make_sale(receipt_number="T01-000700", lines=B2, created_at=at[7]))
    sell("h2", make_sale(receipt_number="T01-000701", lines=B4, created_at=at[7]))
    return Books(ids, sold)


RESENT = [{"a", "a_same_receipt"}, {"c", "c_new_receipt"}, {"d", "d_same_receipt", "d_new_receipt"}]
KEPT = {"a_same_receipt": "a", "c_new_receipt": "c", "d_same_receipt": "d", "d_new_receipt": "d"}


def groups_by_kind(books: Books) -> dict[str, list[set[str]]]:
    names = {order_id: name for name, order_id in books.ids.items()}
    found: dict[str, list[set[str]]] = {}
    for group in db.session.scalars(
        select(DuplicateGroup).where(DuplicateGroup.status == "open").order_by(DuplicateGroup.id)
    ):
        members = db.session.scalars(
            select(DuplicateGroupMember.order_id).where(DuplicateGroupMember.group_id == group.id)
        ).all()
        found.setdefault(group.kind, []).append({names[m] for m in members})
    return found


def counts() -> tuple[int, int, int]:
    return tuple(db.session.scalar(select(func.count(model.id))) for model in (Order, OrderLine, StockMovement))


def cli_json(app, *args) -> dict:
    result = app.test_cli_runner().invoke(args=["offline", "cleanup", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def check_fixed_exactly(books: Books, before: tuple[int, int, int]) -> None:
    """Copies void and pointing at the earliest received copy, stock as if each sale was sold once, nothing deleted."""
    db.session.expire_all()
    orders = {name: db.session.get(Order, order_id) for name, order_id in books.ids.items()}
    for copy, kept in KEPT.items():
        assert (orders[copy].status, orders[copy].kept_order_id) == ("void", orders[kept].id), copy
    assert all(order.status == "completed" for name, order in orders.items() if name not in KEPT)
    stock = dict(db.session.execute(select(Product.sku, Product.stock_quantity)).all())
    assert stock == {sku: Decimal(opening) - books.sold[sku] for sku, (_, _, opening) in CATALOG.items()}
    orders, lines, movements = counts()
    assert (orders, lines) == before[:2] and movements > before[2]  # compensations added, nothing deleted
    check_invariants(db.engine)
    assert groups_by_kind(books) == {
        "suspected_double_entry": [{"e", "e_later"}],
        "invoice_collision": [{"g", "g_other_basket"}],
    }


@pytest.fixture
def books(app, client, catalog, token, other_token) -> Books:
    return sync_books(client, token, other_token)


def test_both_resend_forms_are_certain_and_look_alikes_keep_their_kinds(app, books):
    stored = db.session.get(Order, books.ids["a_same_receipt"])
    assert stored.receipt_number == "T01-000100" and stored.receipt_number_collision
    report = cli_json(app, "--check-duplicates")
    assert report["kinds"]["resent_with_new_id"] == {"groups": 3, "orders": 7}
    assert report["found"]["resent_with_new_id"] == 3
    found = groups_by_kind(books)
    assert sorted(found["resent_with_new_id"], key=len) == RESENT
    # The renumbered re-send is not a collision, nor a double entry; the look-alikes are what they were.
    assert found["invoice_collision"] == [{"g", "g_other_basket"}]
    assert found["suspected_double_entry"] == [{"e", "e_later"}]
    assert set(found) == {"resent_with_new_id", "invoice_collision", "suspected_double_entry"}
    certain = set(
        db.session.scalars(select(DuplicateGroup.confidence).where(DuplicateGroup.kind == "resent_with_new_id"))
    )
    assert certain == {"certain"}
    # The group page offers the first received copy as the one kept by default.
    for group_id in db.session.scalars(select(DuplicateGroup.id).where(DuplicateGroup.kind == "resent_with_new_id")):
        review = group_review(group_id)
        assert review.fixable and review.choose_keep
        assert review.default_keep in {books.ids["a"], books.ids["c"], books.ids["d"]}
    # Scanning again finds the same groups, not new ones.
    cli_json(app, "--check-duplicates")
    assert db.session.scalar(select(func.count(DuplicateGroup.id))) == 5


def test_dry_run_plans_the_resends_and_changes_nothing(app, books):
    before = counts()
    report = cli_json(app, "--dry-run")
    assert report["kinds"]["resent_with_new_id"] == {"groups": 3, "orders": 7}
    voided = {
        a["order_id"]: a["keep_order_id"]
        for g in report["plan"]["groups"]
        if g["kind"] == "resent_with_new_id"
        for a in g["actions"]
        if a["type"] == "void_order"
    }
    assert voided == {books.ids[copy]: books.ids[kept] for copy, kept in KEPT.items()}
    assert report["plan"]["totals"]["orders_voided"] == 4 and not report["changed"]
    assert counts() == before and db.session.scalar(select(func.count(DuplicateGroup.id))) == 0


def test_force_fixes_the_resends_exactly(app, books):
    before = counts()
    report = cli_json(app, "--force")
    assert report["applied"]["orders_voided"] == 4
    assert report["kinds"]["resent_with_new_id"] == {"groups": 0, "orders": 0}
    assert report["kinds"]["suspected_double_entry"]["groups"] == 1  # review kinds wait for a manager
    check_fixed_exactly(books, before)
    # Scanning after the fix finds nothing more to fix and does not reopen the fixed groups.
    again = cli_json(app, "--force")
    assert again["applied"] is None
    check_fixed_exactly(books, before)


@pytest.fixture
def redis_clean(redis_server):
    redis_server.flush()
    return redis_server


@pytest.mark.slow  # a real RQ worker process
def test_one_click_preview_and_approve_fix_the_resends(app, books, redis_clean):
    """The dashboard's "Preview fix for all certain groups", then Approve, as real RQ jobs."""
    before = counts()
    run_scan(trigger="dashboard", actor="m@example.com")
    selection = open_certain_selection()
    resent = set(db.session.scalars(select(DuplicateGroup.id).where(DuplicateGroup.kind == "resent_with_new_id")))
    assert {group_id for group_id, _ in selection} == resent and len(resent) == 3
    plan_id = request_plan(selection, "m@example.com")
    enqueue_preview(plan_id)
    run_worker(app, redis_clean.url)
    plan = db.session.get(FixPlan, plan_id)
    assert plan.status == "ready" and json.loads(plan.plan)["totals"]["orders_voided"] == 4
    approve_plan(plan_id, plan.plan_hash, "boss@example.com")
    apply = enqueue_apply(plan_id, "boss@example.com")
    run_worker(app, redis_clean.url)
    assert job_status(apply.id).status == "finished"
    check_fixed_exactly(books, before)


def _row(order_id, created_minute, received_minute):
    base = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    return SimpleNamespace(
        id=order_id,
        created_at=base + timedelta(minutes=created_minute),
        received_at=base + timedelta(minutes=received_minute),
    )


def test_default_keeper_is_the_first_received_copy_for_resends_only():
    # Ids need not follow arrival (e.g. concurrent inserts on PostgreSQL): received_at decides, then the id.
    copies = [_row(7, 0, 5), _row(8, 0, 1)]
    assert default_keeper("resent_with_new_id", copies) == 8
    assert default_keeper("resent_with_new_id", [_row(9, 0, 1), _row(8, 0, 1)]) == 8
    # Other kinds keep the earliest sale, as before.
    assert default_keeper("suspected_double_entry", [_row(7, 0, 5), _row(8, 1, 0)]) == 7
    assert default_keeper("same_offline_id", [_row(7, 2, 0), _row(8, 1, 5)]) == 8
