"""One click for every certain group, per-till summary, groups acted on together, discarding a plan, undoing a
dismissal, one preview per selection while it computes; roles and CSRF. On SQLite and PostgreSQL, real RQ worker."""

from __future__ import annotations

import json
import re
import threading
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from dashboard.domain.duplicate_detection import stock_drift
from dashboard.domain.fix_plans import PlanError
from dashboard.domain.fixes import approve_plan, compute_plan, discard_plan, request_plan
from dashboard.extensions import db
from dashboard.jobs.queue import get_queue
from dashboard.models import AuditEntry, DuplicateGroup, FixPlan, Order, Product
from dashboard.models.duplicates import CERTAIN_KINDS
from tests.admin.conftest import post_form
from tests.admin.duplicates_support import plan_id_of, scanned_books
from tests.support.workers import run_worker


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def status_of(group_id: int) -> str:
    db.session.expire_all()
    return db.session.get(DuplicateGroup, group_id).status


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def stock() -> dict[str, Decimal]:
    db.session.expire_all()
    return dict(db.session.execute(select(Product.sku, Product.stock_quantity)).all())


def till_rows(html: str) -> dict[str, list[str]]:
    """The plan summary's per-till table: till name -> its cells."""
    table = html.split('<table class="tills">')[1].split("</table>")[0]
    rows = {}
    for row in re.findall(r"<tr><th scope=\"row\"><bdi>([^<]*)</bdi></th>(.*?)</tr>", table, re.S):
        rows[row[0]] = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row[1])]
    return rows


@pytest.fixture
def books(app, catalog, tmp_path):
    return scanned_books(app, tmp_path)


@pytest.mark.slow  # a real RQ worker process
def test_one_click_from_the_overview_fixes_every_certain_group_with_a_summary_per_till(
    app, signed_in, books, redis_server
):
    redis_server.flush()
    manager = signed_in("manager")
    overview = text_of(manager.get("/"))
    assert 'action="/duplicates/preview-certain"' in overview and "4 open groups of a certain kind" in overview
    before = stock()
    plan_id = plan_id_of(post_form(manager, "/duplicates/preview-certain", token_from="/"))
    assert get_queue().job_ids == [f"fix-preview-{plan_id}"]
    run_worker(app, redis_server.url)
    html = text_of(manager.get(f"/fix-plans/{plan_id}"))
    summary = html.split('id="summary"')[1].split("</section>")[0]
    assert "4 groups fixed:" in summary and "2 orders voided," in summary and "1 extra line voided," in summary
    assert "10.20 of sales taken out of the books and 5 units of stock given back." in summary
    # Per till: what is voided, the money and the stock given back (legacy tills are named OLD-n).
    assert till_rows(html) == {
        "OLD-1": ["2", "€7.00", "3"],
        "OLD-4": ["0 + 1 line", "€3.20", "1"],
        "OLD-5": ["0", "€0.00", "1"],
    }
    # The summary leads, the steps follow as sentences, and the single Approve comes after the list.
    assert html.index('id="summary"') < html.index('<ol class="plan-steps">') < html.index("Approve and apply")
    assert html.count("Approve and apply") == 1
    l2 = books.orders["L2"]
    assert re.search(
        rf'Void order <a href="/orders/{l2}">#{l2}</a> — receipt <bdi>[^<]+</bdi>, €5.00, '
        rf'2 × <bdi>[^<]+</bdi> — keep <a href="/orders/{books.orders["L1"]}">',
        html,
    )
    plan = db.session.get(FixPlan, plan_id)
    post_form(
        manager,
        f"/fix-plans/{plan_id}/approve",
        {"plan_id": plan_id, "plan_hash": plan.plan_hash},
        token_from=f"/fix-plans/{plan_id}",
    )
    run_worker(app, redis_server.url)
    applied = text_of(manager.get(f"/fix-plans/{plan_id}"))
    assert "The fix is applied" in applied
    for kind in CERTAIN_KINDS:
        if kind in books.groups:
            assert status_of(books.groups[kind]) == "fixed", kind
    assert status_of(books.groups["suspected_double_entry"]) == "open"
    assert db.session.scalar(select(func.count(Order.id)).where(Order.status == "void")) == 2
    after = stock()
    assert {sku: after[sku] - before[sku] for sku in before if after[sku] != before[sku]} == {
        "COFFEE": 2,
        "TEA": 2,
        "BREAD": 1,
    }
    assert stock_drift() == []
    assert "0 open groups of a certain kind" in text_of(manager.get("/"))


@pytest.mark.slow  # a real RQ worker process
def test_asking_again_while_the_preview_computes_reuses_the_plan(app, signed_in, books, redis_server):
    redis_server.flush()
    manager = signed_in("manager")
    first = plan_id_of(post_form(manager, "/duplicates/preview-certain", token_from="/duplicates"))
    second = plan_id_of(post_form(manager, "/duplicates/preview-certain", token_from="/duplicates"))
    assert first == second
    assert db.session.scalar(select(func.count(FixPlan.id))) == 1
    assert get_queue().job_ids == [f"fix-preview-{first}"]
    # Once it is computed, asking again is a new preview of the books as they are then.
    run_worker(app, redis_server.url)
    third = plan_id_of(post_form(manager, "/duplicates/preview-certain", token_from="/duplicates"))
    assert third != first and db.session.get(FixPlan, first).status == "ready"
    assert audit_actions().count("preview_fix") == 2


def test_concurrent_requests_for_the_same_groups_make_one_plan(app, books):
    """The partial unique index decides, not a check: requests racing each other get the same plan."""
    selection = [(books.groups["same_offline_id"], None), (books.groups["duplicate_lines"], None)]
    start, results, errors = threading.Barrier(4), [], []

    def ask():
        with app.app_context():
            try:
                start.wait()
                results.append(request_plan(list(selection), "m@example.com"))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(results)) == 1
    assert db.session.scalar(select(func.count(FixPlan.id))) == 1
    # The same groups in another order are the same selection; another order to keep is not.
    assert request_plan(list(reversed(selection)), "m@example.com") == results[0]


def test_groups_ticked_on_the_queue_are_dismissed_together(signed_in, books):
    review = [books.groups["invoice_collision"], books.groups["suspected_double_entry"]]
    manager = signed_in("manager")
    queue = text_of(manager.get("/duplicates"))
    for group_id in review:
        assert f'<label for="select-group-{group_id}" class="visually-hidden">Select group #{group_id}</label>' in queue
    no_reason = post_form(
        manager,
        "/duplicates/selected",
        {"group": review, "action": "dismiss"},
        token_from="/duplicates",
        follow_redirects=True,
    )
    assert "No group was dismissed: say why" in text_of(no_reason)
    assert [status_of(g) for g in review] == ["open", "open"]
    done = post_form(
        manager,
        "/duplicates/selected",
        {"group": review, "action": "dismiss", "reason": "Two customers, checked on camera"},
        token_from="/duplicates",
        follow_redirects=True,
    )
    assert "2 groups are dismissed as not duplicates." in text_of(done)
    assert [status_of(g) for g in review] == ["dismissed", "dismissed"]
    assert audit_actions().count("dismiss_group") == 2
    # All or none: one group already dismissed, and nothing else is dismissed either.
    again = post_form(
        manager,
        "/duplicates/selected",
        {"group": [review[0], books.groups["same_offline_id"]], "action": "dismiss", "reason": "again"},
        token_from="/duplicates",
        follow_redirects=True,
    )
    assert "No group was dismissed: group" in text_of(again)
    assert status_of(books.groups["same_offline_id"]) == "open"
    nothing = post_form(
        manager,
        "/duplicates/selected",
        {"action": "dismiss", "reason": "x"},
        token_from="/duplicates",
        follow_redirects=True,
    )
    assert "Tick at least one group" in text_of(nothing)


def test_groups_ticked_are_previewed_together_each_keeping_its_earliest_order(signed_in, books):
    manager = signed_in("manager")
    double, collision = books.groups["suspected_double_entry"], books.groups["invoice_collision"]
    refused = post_form(
        manager,
        "/duplicates/selected",
        {"group": [double, collision], "action": "preview"},
        token_from="/duplicates",
        follow_redirects=True,
    )
    assert "No fix was previewed: group" in text_of(refused) and "invoice collision" in text_of(refused)
    assert db.session.scalar(select(func.count(FixPlan.id))) == 0
    plan_id = plan_id_of(
        post_form(
            manager,
            "/duplicates/selected",
            {"group": [double, books.groups["same_offline_id"]], "action": "preview"},
            token_from="/duplicates",
        )
    )
    compute_plan(plan_id)
    document = json.loads(db.session.get(FixPlan, plan_id).plan)
    voided = [a["order_id"] for g in document["groups"] for a in g["actions"] if a["type"] == "void_order"]
    assert sorted(voided) == sorted([books.orders["L8"], books.orders["L2"]])


def test_a_dismissal_can_be_undone(signed_in, books):
    group_id = books.groups["suspected_double_entry"]
    manager = signed_in("manager")
    post_form(
        manager, f"/duplicates/{group_id}/dismiss", {"reason": "two customers"}, token_from=f"/duplicates/{group_id}"
    )
    page = text_of(manager.get(f"/duplicates/{group_id}"))
    assert f'action="/duplicates/{group_id}/undo-dismissal"' in page
    undone = post_form(
        manager, f"/duplicates/{group_id}/undo-dismissal", token_from=f"/duplicates/{group_id}", follow_redirects=True
    )
    assert f"Group #{group_id} is open again." in text_of(undone)
    group = db.session.get(DuplicateGroup, group_id)
    assert (group.status, group.dismissed_reason, group.resolved_by) == ("open", None, None)
    assert audit_actions()[-2:] == ["dismiss_group", "undo_dismissal"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "undo_dismissal"))
    assert (entry.actor, entry.target_id, "two customers" in entry.details) == ("manager@example.com", group_id, True)
    twice = post_form(
        manager, f"/duplicates/{group_id}/undo-dismissal", token_from=f"/duplicates/{group_id}", follow_redirects=True
    )
    assert "The dismissal was not undone: group" in text_of(twice)
    assert audit_actions().count("undo_dismissal") == 1


def test_a_plan_not_approved_can_be_discarded_and_then_cannot_be_approved(signed_in, books):
    plan_id = request_plan([(books.groups["same_offline_id"], None)], "m@example.com")
    digest = compute_plan(plan_id)
    manager = signed_in("manager")
    assert "Discard this plan" in text_of(manager.get(f"/fix-plans/{plan_id}"))
    done = post_form(
        manager, f"/fix-plans/{plan_id}/discard", token_from=f"/fix-plans/{plan_id}", follow_redirects=True
    )
    html = text_of(done)
    assert f"Plan #{plan_id} is discarded." in html and "This plan is discarded" in html
    assert "Approve and apply" not in html and "Discard this plan" not in html
    db.session.expire_all()
    assert db.session.get(FixPlan, plan_id).status == "discarded"
    assert audit_actions()[-1] == "discard_plan"
    refused = post_form(
        manager,
        f"/fix-plans/{plan_id}/approve",
        {"plan_id": plan_id, "plan_hash": digest},
        token_from=f"/fix-plans/{plan_id}",
        follow_redirects=True,
    )
    assert "Not approved: plan" in text_of(refused) and "discarded" in text_of(refused)
    with pytest.raises(PlanError):
        approve_plan(plan_id, digest, "boss@example.com")
    assert db.session.get(FixPlan, plan_id).status == "discarded"
    # A preview job that finishes after the discard leaves it discarded.
    compute_plan(plan_id)
    db.session.expire_all()
    assert db.session.get(FixPlan, plan_id).status == "discarded"
    # An approved plan is not discarded.
    other = request_plan([(books.groups["duplicate_lines"], None)], "m@example.com")
    approve_plan(other, compute_plan(other), "boss@example.com")
    with pytest.raises(PlanError):
        discard_plan(other, "m@example.com")
    assert status_of(books.groups["same_offline_id"]) == "open"


def test_a_discarded_computing_plan_frees_its_selection(books):
    selection = [(books.groups["same_offline_id"], None)]
    plan_id = request_plan(selection, "m@example.com")
    discard_plan(plan_id, "m@example.com")
    assert request_plan(selection, "m@example.com") != plan_id


def test_queue_rows_show_till_receipts_amount_gap_and_money_at_stake(app, signed_in, books):
    html = text_of(signed_in("viewer").get("/duplicates"))
    rows = {
        int(m.group(1)): m.group(0) for m in re.finditer(r'<tr>\s*<td><a href="/duplicates/(\d+)">.*?</tr>', html, re.S)
    }
    double = rows[books.groups["suspected_double_entry"]]
    assert "<bdi>OLD-3</bdi>" in double and "<td>90 seconds</td>" in double and '<td class="num">€5.00</td>' in double
    assert double.count('<td class="num">€5.00</td>') == 2  # the amount, and the money a fix would remove
    lines = rows[books.groups["duplicate_lines"]]
    assert "<bdi>OLD-4</bdi>" in lines and '<td class="num">€3.20</td>' in lines
    collision = rows[books.groups["invoice_collision"]]
    assert "<bdi>OLD-1</bdi>, <bdi>OLD-2</bdi>" in collision and '<td class="num">—</td>' in collision
    assert 'type="checkbox"' not in html  # a viewer cannot act on groups

    # The details of a page are read set-wise: as many statements for one group as for all of them.
    def statements(url: str) -> int:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            text_of(signed_in("viewer").get(url))
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    assert statements("/duplicates?status=all") == statements("/duplicates?kind=duplicate_lines&status=all")


@pytest.mark.parametrize("url", ["/duplicates/selected", "/duplicates/1/undo-dismissal", "/fix-plans/1/discard"])
def test_viewers_cannot_act_and_every_form_needs_its_token(signed_in, books, url):
    plan_id = request_plan([(books.groups["same_offline_id"], None)], "m@example.com")
    assert plan_id == 1
    data = {"group": [books.groups["suspected_double_entry"]], "action": "dismiss", "reason": "x"}
    assert post_form(signed_in("viewer"), url, data).status_code == 403
    assert signed_in("manager").post(url, data=data).status_code == 400  # no CSRF token
    assert db.session.get(FixPlan, plan_id).status == "computing"
    assert status_of(books.groups["suspected_double_entry"]) == "open"
    assert "discard_plan" not in audit_actions() and "dismiss_group" not in audit_actions()


def test_every_certain_kind_is_fixed_by_the_one_click_preview():
    """A certain kind added to the vocabulary (e.g. resent_with_new_id) is fixable with no list to update."""
    from dashboard.domain.fix_plans import FIXABLE_KINDS, LINE_KINDS, ORDER_KINDS

    assert set(CERTAIN_KINDS) <= set(FIXABLE_KINDS)
    assert {kind for kind in CERTAIN_KINDS if kind not in LINE_KINDS} <= set(ORDER_KINDS)
    assert "invoice_collision" not in FIXABLE_KINDS
