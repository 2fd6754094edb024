"""A fix plan's page: progress from a real RQ worker, the actions and totals, the CSV, approval (and its
refusal when stale), applying; the scan button. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.domain.catalog import ProductRow, import_products
from dashboard.domain.fixes import compute_plan, fix_now, request_plan
from dashboard.extensions import db
from dashboard.jobs.queue import job_status
from dashboard.models import AuditEntry, DuplicateScan, Fix, FixPlan, Order
from tests.admin.conftest import post_form
from tests.admin.duplicates_support import plan_id_of, scanned_books
from tests.domain.legacy_data import RECORDS, sale
from tests.support.workers import run_worker


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


@pytest.fixture
def books(app, catalog, tmp_path):
    return scanned_books(app, tmp_path)


@pytest.mark.slow  # a real RQ worker process
def test_preview_approve_and_apply_with_a_real_worker(app, signed_in, books, redis_server):
    group_id = books.groups["same_offline_id"]
    manager = signed_in("manager")
    plan_id = plan_id_of(
        post_form(
            manager,
            f"/duplicates/{group_id}/preview",
            {"keep": books.orders["L2"]},
            token_from=f"/duplicates/{group_id}",
        )
    )
    waiting = text_of(manager.get(f"/fix-plans/{plan_id}"))
    assert f'data-status-url="/fix-plans/{plan_id}/status" data-status="computing"' in waiting
    assert '<progress max="100" value="0"' in waiting and "/static/js/progress.js" in waiting
    assert "<script>" not in waiting.replace('<script src="/static/js/progress.js" defer></script>', "")
    assert manager.get(f"/fix-plans/{plan_id}/status").get_json() == {
        "status": "computing",
        "active": True,
        "progress": 0.0,
        "label": "Waiting for a worker",
        "job": f"fix-preview-{plan_id}",
    }
    assert manager.get(f"/fix-plans/{plan_id}/plan.csv").status_code == 404  # nothing to download yet

    run_worker(app, redis_server.url)
    assert manager.get(f"/fix-plans/{plan_id}/status").get_json() == {
        "status": "ready",
        "active": False,
        "progress": 1.0,
        "label": "Done",
        "job": None,
    }
    ready = text_of(manager.get(f"/fix-plans/{plan_id}"))
    assert "data-status-url" not in ready and '<progress max="100" value="100"' in ready
    assert "<dt>Orders voided</dt><dd>1</dd>" in ready and "<dt>Revenue removed</dt><dd>€5.00</dd>" in ready
    assert "<dt>Units removed</dt><dd>2</dd>" in ready
    assert '<td><code>COFFEE</code></td><td class="num">90</td><td class="num">92</td>' in ready
    assert ready.count("Void order") == 1 and ready.count("Book stock back") == 1
    plan = db.session.get(FixPlan, plan_id)
    assert f'name="plan_hash" type="hidden" value="{plan.plan_hash}"' in ready
    assert f'name="plan_id" type="hidden" value="{plan_id}"' in ready

    approved = post_form(
        manager,
        f"/fix-plans/{plan_id}/approve",
        {"plan_id": plan_id, "plan_hash": plan.plan_hash},
        token_from=f"/fix-plans/{plan_id}",
        follow_redirects=True,
    )
    html = text_of(approved)
    assert "Approved. The fix is being applied." in html and 'data-status="applying"' in html
    assert job_status(f"fix-apply-{plan_id}").status == "queued"
    run_worker(app, redis_server.url)
    applied = text_of(manager.get(f"/fix-plans/{plan_id}"))
    assert "The fix is applied" in applied and '<span class="badge plan-applied">applied</span>' in applied
    assert "Approve and apply" not in applied
    # The order chosen was kept; the other is void and says which order it duplicated.
    assert db.session.get(Order, books.orders["L1"]).status == "void"
    assert db.session.get(Order, books.orders["L2"]).status == "completed"
    order_page = text_of(manager.get(f"/orders/{books.orders['L1']}"))
    assert '<span class="badge void">void</span>' in order_page and "Voided by fix #" in order_page
    assert '<span class="badge group-fixed">fixed</span>' in text_of(manager.get(f"/duplicates/{group_id}"))
    actions = [entry.action for entry in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-3:] == ["preview_fix", "approve_fix", "apply_fix"]
    plans = text_of(signed_in("viewer").get("/fix-plans"))
    assert f'href="/fix-plans/{plan_id}">#{plan_id}</a>' in plans and '<span class="badge plan-applied">' in plans


def test_an_approval_quoting_another_hash_is_refused(signed_in, books):
    plan_id = request_plan([(books.groups["same_offline_id"], None)], "m@example.com")
    digest = compute_plan(plan_id)
    manager = signed_in("manager")
    malformed = post_form(
        manager,
        f"/fix-plans/{plan_id}/approve",
        {"plan_id": plan_id, "plan_hash": "not a hash"},
        token_from=f"/fix-plans/{plan_id}",
        follow_redirects=True,
    )
    assert "did not say which preview it approves" in malformed.get_data(as_text=True)
    stale = post_form(
        manager,
        f"/fix-plans/{plan_id}/approve",
        {"plan_id": plan_id, "plan_hash": "0" * 64},
        token_from=f"/fix-plans/{plan_id}",
        follow_redirects=True,
    )
    assert "Not approved: this plan is no longer the one you previewed" in stale.get_data(as_text=True)
    other_plan = post_form(
        manager,
        f"/fix-plans/{plan_id}/approve",
        {"plan_id": plan_id + 1, "plan_hash": digest},
        token_from=f"/fix-plans/{plan_id}",
        follow_redirects=True,
    )
    assert "did not say which preview it approves" in other_plan.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(FixPlan, plan_id).status == "ready"


@pytest.mark.slow  # a real RQ worker process
def test_an_approved_plan_whose_data_changed_is_not_applied(app, signed_in, books, redis_server):
    group_id = books.groups["duplicate_movements"]
    plan_id = request_plan([(group_id, None)], "m@example.com")
    digest = compute_plan(plan_id)
    fix_now([(group_id, None)], "other@example.com")  # another manager fixed the group meanwhile
    manager = signed_in("manager")
    post_form(
        manager,
        f"/fix-plans/{plan_id}/approve",
        {"plan_id": plan_id, "plan_hash": digest},
        token_from=f"/fix-plans/{plan_id}",
    )
    run_worker(app, redis_server.url)
    html = text_of(manager.get(f"/fix-plans/{plan_id}"))
    assert "Not applied: the data changed" in html and "nothing was applied" in html
    assert '<span class="badge plan-stale">out of date</span>' in html and "Preview again" in html
    assert db.session.scalar(select(func.count(Fix.id))) == 1
    again = post_form(
        manager, f"/fix-plans/{plan_id}/preview-again", token_from=f"/fix-plans/{plan_id}", follow_redirects=True
    )
    assert "No fix was previewed: group" in again.get_data(as_text=True)  # the group is fixed now


def test_plan_csv_lists_every_action_and_runs_no_formula(app, signed_in, tmp_path):
    hostile_sku = '=HYPERLINK("http://evil.example","x")'
    import_products(
        [
            ProductRow(hostile_sku, "@SUM(1+1)", Decimal("1.00"), Decimal("10")),
            ProductRow("TEA", "Tea", Decimal("2.00"), Decimal("100")),
        ]
    )
    lines = [{"sku": hostile_sku, "quantity": "1", "unit_price": "1.00"}]
    records = [
        sale("E1", "-INV-1", offline_id="33333333-3333-4333-8333-333333333333", lines=lines),
        sale(
            "E2",
            "+INV-2",
            offline_id="33333333-3333-4333-8333-333333333333",
            lines=lines,
            at="2026-03-01T10:01:00+00:00",
        ),
    ]
    books = scanned_books(app, tmp_path, records)
    plan_id = request_plan([(books.groups["same_offline_id"], None)], "m@example.com")
    compute_plan(plan_id)
    response = signed_in("viewer").get(f"/fix-plans/{plan_id}/plan.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f'filename="fix-plan-{plan_id}.csv"' in response.headers["Content-Disposition"]
    body = response.get_data().decode("utf-8")
    assert body.startswith("\ufeff")  # UTF-8 with a BOM, so spreadsheets read Arabic right
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert rows[0][:4] == ["group_id", "kind", "action", "order_id"] and rows[0][9] == "amount (EUR)"
    actions = [row for row in rows[1:] if row and row[0].isdigit()]
    assert [row[2] for row in actions] == ["void_order", "compensate"]
    assert actions[0][3:5] == [str(books.orders["E2"]), str(books.orders["E1"])]
    totals = {row[1]: row[2] for row in rows if row and row[0] == "total"}
    # The money removed is to the currency's minor units, one row per currency, naming it.
    assert totals["orders_voided"] == "1" and totals["revenue_removed"] == "1.00"
    assert ["total", "revenue_removed", "1.00", "EUR"] in rows
    stock = [row for row in rows if row and row[0] == "stock"]
    assert stock == [["stock", "'" + hostile_sku, "8", "9"]]  # text is never a live formula
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "@")), cell
            assert not cell.startswith("-") or cell.lstrip("-").replace(".", "").isdigit(), cell
    html = text_of(signed_in("viewer").get(f"/fix-plans/{plan_id}"))
    assert "=HYPERLINK(&#34;http://evil.example&#34;,&#34;x&#34;)" in html


@pytest.mark.slow  # a real RQ worker process
def test_a_lost_preview_job_can_be_run_again(app, signed_in, books, redis_server):
    group_id = books.groups["same_offline_id"]
    manager = signed_in("manager")
    plan_id = plan_id_of(post_form(manager, f"/duplicates/{group_id}/preview", token_from=f"/duplicates/{group_id}"))
    redis_server.flush()  # Redis lost the job; the plan is still in the database
    html = text_of(manager.get(f"/fix-plans/{plan_id}"))
    assert "The job for this plan is not running (missing)" in html and "data-status-url" not in html
    assert manager.get(f"/fix-plans/{plan_id}/status").get_json()["active"] is False
    post_form(manager, f"/fix-plans/{plan_id}/run-again", token_from=f"/fix-plans/{plan_id}")
    assert job_status(f"fix-preview-{plan_id}").status == "queued"
    run_worker(app, redis_server.url)
    assert db.session.get(FixPlan, plan_id).status == "ready"


def test_without_redis_the_request_is_kept_and_the_page_says_so(app, signed_in, books):
    import redis

    # As get_redis() makes it, for a Redis that is not there.
    app.extensions["redis_client"] = redis.Redis.from_url(
        "unix:///nonexistent/redis.sock", socket_timeout=0.5, socket_connect_timeout=0.5
    )
    group_id = books.groups["same_offline_id"]
    manager = signed_in("manager")
    response = post_form(
        manager, f"/duplicates/{group_id}/preview", token_from=f"/duplicates/{group_id}", follow_redirects=True
    )
    html = text_of(response)
    assert "The job queue is not answering" in html and "not running (unreachable)" in html
    assert db.session.scalar(select(FixPlan.status)) == "computing"
    assert "The job queue is not answering, so nothing was started" in text_of(
        post_form(manager, "/duplicates/scan", token_from="/duplicates", follow_redirects=True)
    )
    assert signed_in("admin").get("/jobs").status_code == 503


@pytest.mark.slow  # a real RQ worker process
def test_scan_now_runs_a_scan_in_the_background(app, signed_in, catalog, tmp_path, redis_server):
    from tests.admin.duplicates_support import import_legacy

    import_legacy(app, tmp_path / "old.jsonl", RECORDS)
    manager = signed_in("manager")
    assert "No duplicate scan has run yet." in text_of(manager.get("/duplicates"))
    response = post_form(manager, "/duplicates/scan", token_from="/duplicates", follow_redirects=True)
    html = text_of(response)
    assert "A duplicate scan is queued." in html
    assert 'data-status-url="/duplicates/scan/status" data-status="running"' in html
    assert manager.get("/duplicates/scan/status").get_json()["active"] is True
    run_worker(app, redis_server.url)
    assert manager.get("/duplicates/scan/status").get_json()["status"] == "finished"
    after = text_of(manager.get("/duplicates"))
    assert "data-status-url" not in after and "(dashboard), finished." in after
    assert "Found: <code>same_offline_id</code> 1" in after
    scans = text_of(manager.get("/duplicates/scans"))
    scan_id = db.session.scalar(select(DuplicateScan.id))
    assert f"<td>#{scan_id}</td>" in scans and "<code>invoice_collision</code> 1 group, 2 orders" in scans
    overview = text_of(manager.get("/"))
    assert 'href="/duplicates/scans"' in overview
