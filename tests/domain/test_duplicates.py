"""Legacy import, the duplicate scan, fixes, stale plans and reverts, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.domain.duplicates import dismiss_group, run_scan
from dashboard.domain.fix_plans import PlanError, open_certain_selection
from dashboard.domain.fixes import StalePlan, apply_plan, approve_plan, compute_plan, fix_now, request_plan, revert_fix
from dashboard.extensions import db
from dashboard.models import (
    AuditEntry,
    Device,
    DuplicateGroup,
    DuplicateGroupMember,
    DuplicateScan,
    Fix,
    FixPlan,
    Order,
    OrderLine,
    Product,
    StockMovement,
)
from tests.domain.legacy_data import CASES, RECORDS, sale, write_legacy_file
from tests.support.sales import bearer, make_sale


def run(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result


def run_json(app, *args):
    return json.loads(run(app, *args, "--format", "json").output.strip().splitlines()[-1])


def stock() -> dict[str, Decimal]:
    return dict(db.session.execute(select(Product.sku, Product.stock_quantity)).all())


def orders_by_legacy_id() -> dict[str, Order]:
    return {o.legacy_id: o for o in db.session.scalars(select(Order).where(Order.legacy_id.is_not(None)))}


def groups_by_kind() -> dict[str, list[set[str]]]:
    legacy = {o.id: o.legacy_id for o in orders_by_legacy_id().values()}
    found: dict[str, list[set[str]]] = {}
    for group in db.session.scalars(select(DuplicateGroup).order_by(DuplicateGroup.id)):
        members = db.session.scalars(
            select(DuplicateGroupMember.order_id).where(DuplicateGroupMember.group_id == group.id)
        ).all()
        found.setdefault(group.kind, []).append({legacy.get(m, m) for m in members})
    return found


@pytest.fixture
def legacy(app, catalog, tmp_path):
    path = write_legacy_file(
        tmp_path / "old.jsonl",
        extra_lines=[
            "{not json",
            json.dumps(sale("B1", "X-1", lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "1.00"}])),
            json.dumps(sale("B2", "X-2", lines=[{"sku": "TEA", "quantity": "1", "unit_price": "2.005"}], total="2.00")),
        ],
    )
    return path


def test_legacy_import_reports_bad_lines_and_is_idempotent(app, legacy):
    before = stock()
    summary = run_json(app, "legacy", "import", str(legacy))
    assert summary["imported"] == len(RECORDS) and summary["skipped"] == 3
    errors = summary["errors"]
    assert [e.split(":")[0] for e in errors] == [f"line {len(RECORDS) + n}" for n in (1, 2, 3)]
    assert "NOPE" in errors[1] and "decimal places" in errors[2]
    after_first = stock()
    moved = db.session.scalar(select(func.sum(StockMovement.quantity_delta)).where(StockMovement.kind == "legacy"))
    assert sum(after_first.values()) - sum(before.values()) == moved
    old_device = db.session.scalar(select(Device).where(Device.name == "OLD-1"))
    assert old_device.token_hash is None
    again = run_json(app, "legacy", "import", str(legacy))
    assert again["imported"] == 0 and again["already_there"] == len(RECORDS)
    assert stock() == after_first
    assert db.session.scalar(select(func.count(Order.id))) == len(RECORDS)


def test_scan_finds_each_kind_once_and_leaves_look_alikes(app, legacy):
    run(app, "legacy", "import", str(legacy))
    report = run_json(app, "offline", "cleanup", "--check-duplicates")
    assert set(report["kinds"]) == set(CASES) | {"resent_with_new_id"}
    # No re-send here: legacy sales without an offline id are never taken for one (L5 has L3's till,
    # instant and basket); tests/domain/test_resent_with_new_id.py has the re-sends.
    assert report["kinds"]["resent_with_new_id"] == {"groups": 0, "orders": 0}
    for kind, legacy_ids in CASES.items():
        assert report["kinds"][kind] == {"groups": 1, "orders": len(legacy_ids)}, kind
    groups = groups_by_kind()
    for kind, legacy_ids in CASES.items():
        assert groups[kind] == [set(legacy_ids)], kind
    flagged = set().union(*(members for sets in groups.values() for members in sets))
    assert not flagged & {"L8b", "L9b", "L11"}
    members = db.session.scalar(select(func.count(DuplicateGroupMember.id)))
    # Scanning again finds the same groups, not new ones, and adds no member twice.
    run_json(app, "offline", "cleanup", "--check-duplicates")
    assert db.session.scalar(select(func.count(DuplicateGroup.id))) == len(CASES)
    assert db.session.scalar(select(func.count(DuplicateScan.id))) == 2
    assert db.session.scalar(select(func.count(DuplicateGroupMember.id))) == members


def test_receipt_number_collision_from_sync_is_reported_for_review(app, client, catalog, token, other_token):
    client.post("/api/v1/sync", json={"orders": [make_sale(receipt_number="T9-1")]}, headers=bearer(token))
    client.post("/api/v1/sync", json={"orders": [make_sale(receipt_number="T9-1")]}, headers=bearer(other_token))
    report = run_json(app, "offline", "cleanup", "--check-duplicates")
    assert report["kinds"]["invoice_collision"] == {"groups": 1, "orders": 2}
    group = db.session.scalar(select(DuplicateGroup))
    assert group.confidence == "review" and group.group_key == "receipt:T9-1"


def test_dry_run_plans_and_changes_nothing(app, legacy):
    run(app, "legacy", "import", str(legacy))
    before = (stock(), db.session.scalar(select(func.count(StockMovement.id))))
    report = run_json(app, "offline", "cleanup", "--dry-run")
    totals = report["plan"]["totals"]
    # same_offline_id + same_invoice_same_content void one order each; one extra line; one extra movement.
    assert (totals["orders_voided"], totals["lines_voided"]) == (2, 1)
    assert totals["compensating_movements"] == 4
    assert report["kinds"]["suspected_double_entry"]["groups"] == 1
    assert (stock(), db.session.scalar(select(func.count(StockMovement.id)))) == before
    assert db.session.scalar(select(func.count(DuplicateGroup.id))) == 0
    assert db.session.scalar(select(func.count(Order.id)).where(Order.status == "void")) == 0


def test_force_fixes_certain_kinds_exactly_and_is_audited(app, legacy):
    run(app, "legacy", "import", str(legacy))
    before = stock()
    report = run_json(app, "offline", "cleanup", "--force")
    for kind in ("same_offline_id", "same_invoice_same_content", "duplicate_lines", "duplicate_movements"):
        assert report["kinds"][kind] == {"groups": 0, "orders": 0}, kind
    assert report["kinds"]["suspected_double_entry"]["groups"] == 1  # review kinds wait for a manager
    orders = orders_by_legacy_id()
    assert (orders["L1"].status, orders["L2"].status) == ("completed", "void")
    assert orders["L2"].kept_order_id == orders["L1"].id and orders["L2"].invoice_number == "INV-2"
    assert (orders["L3"].status, orders["L4"].status) == ("completed", "void")
    assert orders["L5"].status == orders["L6"].status == "completed"
    lines = db.session.scalars(
        select(OrderLine).where(OrderLine.order_id == orders["L9"].id).order_by(OrderLine.line_no)
    ).all()
    assert [ln.status for ln in lines] == ["completed", "void"]
    after = stock()
    # Stock comes back exactly: L2 (2 coffee), L4 (1 tea), L9's extra line (1 bread), L10's extra movement (1 tea).
    assert after["COFFEE"] - before["COFFEE"] == 2
    assert after["TEA"] - before["TEA"] == 2 and after["BREAD"] - before["BREAD"] == 1
    actions = {e.action for e in db.session.scalars(select(AuditEntry).where(AuditEntry.actor == "cli"))}
    assert {"preview_fix", "approve_fix", "apply_fix", "duplicate_scan"} <= actions
    # Nothing more to do: a second --force applies nothing and moves no stock.
    again = run_json(app, "offline", "cleanup", "--force")
    assert again["applied"] is None and stock() == after
    invoice_check = run_json(app, "invoices", "check-duplicates")
    assert [(g["invoice_number"], g["kind"]) for g in invoice_check["groups"]] == [("INV-5", "invoice_collision")]


def test_applying_the_same_plan_twice_changes_nothing(app, legacy):
    run(app, "legacy", "import", str(legacy))
    run_scan(trigger="test", actor="t@example.com")
    result = fix_now(open_certain_selection(), "t@example.com")
    after = (stock(), db.session.scalar(select(func.count(StockMovement.id))))
    plan_id = db.session.scalar(select(Fix.plan_id).where(Fix.id == result.fix_id))
    again = apply_plan(plan_id, "t@example.com")
    assert again.already_done and again.fix_id == result.fix_id
    assert (stock(), db.session.scalar(select(func.count(StockMovement.id)))) == after


def test_approval_of_a_stale_plan_is_refused(app, legacy, tmp_path):
    run(app, "legacy", "import", str(legacy))
    run_scan(trigger="test", actor="m@example.com")
    group_id = db.session.scalar(select(DuplicateGroup.id).where(DuplicateGroup.kind == "duplicate_movements"))
    plan_id = request_plan([(group_id, None)], "m@example.com")
    digest = compute_plan(plan_id)
    with pytest.raises(StalePlan):
        approve_plan(plan_id, "0" * 64, "m@example.com")
    approve_plan(plan_id, digest, "m@example.com")
    # The data changes after the preview: another manager's plan for the same group is applied first.
    line_id = db.session.scalar(
        select(DuplicateGroupMember.order_line_id).where(DuplicateGroupMember.group_id == group_id)
    )
    other = request_plan([(group_id, None)], "x@example.com")
    approve_plan(other, compute_plan(other), "x@example.com")
    apply_plan(other, "x@example.com")
    before = (stock(), db.session.scalar(select(func.count(StockMovement.id))))
    with pytest.raises(StalePlan):
        apply_plan(plan_id, "m@example.com")
    assert db.session.get(FixPlan, plan_id).status == "stale"
    assert (stock(), db.session.scalar(select(func.count(StockMovement.id)))) == before
    assert (
        db.session.scalar(
            select(func.count(StockMovement.id)).where(
                StockMovement.order_line_id == line_id, StockMovement.kind == "compensation"
            )
        )
        == 1
    )


def test_revert_restores_orders_and_stock_and_reopens_groups(app, legacy):
    run(app, "legacy", "import", str(legacy))
    run_scan(trigger="test", actor="m@example.com")
    before = stock()
    result = fix_now(open_certain_selection(), "m@example.com")
    assert stock() != before
    revert_fix(result.fix_id, "boss@example.com")
    assert stock() == before
    assert db.session.scalar(select(func.count(Order.id)).where(Order.status == "void")) == 0
    assert db.session.scalar(select(func.count(OrderLine.id)).where(OrderLine.status == "void")) == 0
    statuses = set(db.session.scalars(select(DuplicateGroup.status).where(DuplicateGroup.confidence == "certain")))
    assert statuses == {"open"}
    assert revert_fix(result.fix_id, "boss@example.com").already_done and stock() == before
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "revert_fix")).actor == "boss@example.com"
    # The groups can be fixed again after a revert.
    fix_now(open_certain_selection(), "m@example.com")
    assert db.session.scalar(select(func.count(Order.id)).where(Order.status == "void")) == 2


def test_collisions_cannot_be_fixed_only_dismissed(app, legacy):
    run(app, "legacy", "import", str(legacy))
    run_scan(trigger="test", actor="m@example.com")
    collision = db.session.scalar(select(DuplicateGroup).where(DuplicateGroup.kind == "invoice_collision"))
    with pytest.raises(PlanError):
        request_plan([(collision.id, None)], "m@example.com")
    with pytest.raises(ValueError):
        dismiss_group(collision.id, "  ", "m@example.com")
    dismiss_group(collision.id, "two customers, same old till number", "m@example.com")
    db.session.expire_all()
    assert db.session.get(DuplicateGroup, collision.id).status == "dismissed"
    run_scan(trigger="test", actor="m@example.com")
    db.session.expire_all()
    assert db.session.get(DuplicateGroup, collision.id).status == "dismissed"


def test_manager_chooses_the_order_to_keep_for_a_review_group(app, legacy):
    run(app, "legacy", "import", str(legacy))
    run_scan(trigger="test", actor="m@example.com")
    group = db.session.scalar(select(DuplicateGroup).where(DuplicateGroup.kind == "suspected_double_entry"))
    orders = orders_by_legacy_id()
    fix_now([(group.id, orders["L8"].id)], "m@example.com")
    db.session.expire_all()
    assert db.session.get(Order, orders["L7"].id).status == "void"
    assert db.session.get(Order, orders["L8"].id).status == "completed"
    with pytest.raises(PlanError):
        request_plan([(group.id, None)], "m@example.com")  # fixed groups cannot be planned again


def test_double_entries_found_among_many_baskets_of_one_till(app, catalog, tmp_path):
    """More distinct baskets than the scan keeps open at once: early and late double entries are both found."""
    from datetime import datetime, timedelta, timezone

    start = datetime(2026, 3, 1, 8, tzinfo=timezone.utc)
    records = [
        sale(
            f"M{n}",
            f"M-{n}",
            device="BUSY",
            at=(start + timedelta(seconds=10 * n)).isoformat(),
            lines=[{"sku": "COFFEE", "quantity": str(n + 1), "unit_price": "2.50"}],
        )
        for n in range(1200)
    ]
    records.append(
        sale(
            "M5b",
            "M-5b",
            device="BUSY",
            at=(start + timedelta(seconds=55)).isoformat(),
            lines=[{"sku": "COFFEE", "quantity": "6", "unit_price": "2.50"}],
        )
    )
    records.append(
        sale(
            "M1150b",
            "M-1150b",
            device="BUSY",
            at=(start + timedelta(seconds=11_530)).isoformat(),
            lines=[{"sku": "COFFEE", "quantity": "1151", "unit_price": "2.50"}],
        )
    )
    run(app, "legacy", "import", str(write_legacy_file(tmp_path / "busy.jsonl", records)))
    run_scan(trigger="test", actor="t@example.com")
    assert groups_by_kind()["suspected_double_entry"] == [{"M5", "M5b"}, {"M1150", "M1150b"}]
