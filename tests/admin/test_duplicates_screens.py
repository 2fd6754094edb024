"""The duplicate queue and a group's page: counts, filters, pages, the side-by-side view, dismissing,
choosing the order to keep; roles, CSRF and escaping. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from dashboard.domain.fixes import compute_plan, fix_now, request_plan
from dashboard.extensions import db
from dashboard.jobs.queue import get_queue
from dashboard.models import AuditEntry, DuplicateGroup, Fix, FixPlan
from tests.admin.conftest import post_form
from tests.admin.duplicates_support import plan_id_of, scanned_books
from tests.domain.legacy_data import RECORDS, sale

_DIFFERING = re.compile(r'<tr class="differs">\s*<th scope="row">([^<\n]+)')


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def rows_of(html: str) -> str:
    return html.split("<tbody>")[-1].split("</tbody>")[0]


def differing(html: str) -> list[str]:
    return [name.strip() for name in _DIFFERING.findall(html)]


def group_status(group_id: int) -> str:
    return db.session.scalar(select(DuplicateGroup.status).where(DuplicateGroup.id == group_id))


@pytest.fixture
def books(app, catalog, tmp_path):
    return scanned_books(app, tmp_path)


def test_queue_counts_each_kind_and_filters(signed_in, books):
    viewer = signed_in("viewer")
    html = text_of(viewer.get("/duplicates"))
    tiles = html.split('aria-label="Open groups by kind"')[1].split("</section>")[0]
    for kind in books.groups:
        orders = 1 if kind in ("duplicate_lines", "duplicate_movements") else 2
        assert re.search(
            rf'<span class="figure">1</span>\s*<code>{kind}</code>\s*'
            rf"<span>open groups, {orders} order{'s' if orders > 1 else ''}</span>",
            tiles,
        ), kind
    assert rows_of(html).count("<tr>") == 6
    assert "(test), finished." in html and 'href="/duplicates/scans"' in html  # the last scan, and every scan

    review = rows_of(text_of(viewer.get("/duplicates?confidence=review")))
    assert review.count("<tr>") == 2 and "invoice_collision" in review and "suspected_double_entry" in review
    one_kind = rows_of(text_of(viewer.get("/duplicates?kind=duplicate_lines")))
    assert one_kind.count("<tr>") == 1 and f'href="/duplicates/{books.groups["duplicate_lines"]}"' in one_kind

    fix_now([(books.groups["same_offline_id"], None)], "m@example.com")
    assert rows_of(text_of(viewer.get("/duplicates"))).count("<tr>") == 5  # open, unless asked otherwise
    fixed = rows_of(text_of(viewer.get("/duplicates?status=fixed")))
    assert fixed.count("<tr>") == 1 and '<span class="badge group-fixed">fixed</span>' in fixed
    assert rows_of(text_of(viewer.get("/duplicates?status=all"))).count("<tr>") == 6
    assert "same_offline_id</code>\n    <span>open groups, 0 orders" in text_of(viewer.get("/duplicates"))


def test_queue_pages_by_keyset(signed_in, app):
    db.session.add_all(
        [
            DuplicateGroup(kind="suspected_double_entry", group_key=f"k{n}", confidence="review", order_count=2)
            for n in range(55)
        ]
    )
    db.session.commit()
    viewer = signed_in("viewer")
    first = text_of(viewer.get("/duplicates?confidence=review"))
    assert rows_of(first).count("<tr>") == 50 and 'rel="prev"' not in first
    older = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "confidence=review" in older and "status=open" in older
    second = text_of(viewer.get(older))
    assert rows_of(second).count("<tr>") == 5 and 'rel="prev"' in second and 'rel="next"' not in second
    ids = set(re.findall(r'href="/duplicates/(\d+)"', rows_of(first) + rows_of(second)))
    assert len(ids) == 55


def test_group_page_puts_orders_side_by_side_and_highlights_differences(signed_in, books):
    viewer = signed_in("viewer")
    html = text_of(viewer.get(f"/duplicates/{books.groups['same_offline_id']}"))
    assert f'href="/orders/{books.orders["L1"]}"' in html and f'href="/orders/{books.orders["L2"]}"' in html
    # L2 is the same sale sent again five minutes later and numbered INV-2.
    assert differing(html) == ["Invoice", "Receipt", "Sold at"]
    assert html.index(f"/orders/{books.orders['L1']}") < html.index(f"/orders/{books.orders['L2']}")  # earliest first

    lines = text_of(viewer.get(f"/duplicates/{books.groups['duplicate_lines']}"))
    assert lines.count('<li class="flagged">') == 1 and lines.count("<li >") == 1
    assert '<span class="flag-mark">flagged</span>' in lines

    collision = text_of(viewer.get(f"/duplicates/{books.groups['invoice_collision']}"))
    assert {"Till", "Total", "Lines"} <= set(differing(collision)) and "Invoice" not in differing(collision)
    assert signed_in("viewer").get("/duplicates/987654").status_code == 404


def test_manager_sees_the_keep_choice_defaulting_to_the_earliest(signed_in, books):
    html = text_of(signed_in("manager").get(f"/duplicates/{books.groups['suspected_double_entry']}"))
    radios = re.findall(r'<input type="radio" name="keep" value="(\d+)" form="preview-form"\s*(checked)?>', html)
    assert radios == [(str(books.orders["L7"]), "checked"), (str(books.orders["L8"]), "")]
    assert 'id="preview-form"' in html and "Dismiss the group" in html
    # Line kinds keep their one order: no choice to make.
    lines = text_of(signed_in("manager").get(f"/duplicates/{books.groups['duplicate_lines']}"))
    assert 'name="keep"' not in lines and 'id="preview-form"' in lines


def test_the_order_chosen_is_the_order_kept(app, signed_in, books):
    group_id = books.groups["suspected_double_entry"]
    manager = signed_in("manager")
    plan_id = plan_id_of(
        post_form(
            manager,
            f"/duplicates/{group_id}/preview",
            {"keep": books.orders["L8"]},
            token_from=f"/duplicates/{group_id}",
        )
    )
    plan = db.session.get(FixPlan, plan_id)
    assert (plan.status, json.loads(plan.request)) == (
        "computing",
        [{"group_id": group_id, "keep_order_id": books.orders["L8"]}],
    )
    assert get_queue().job_ids == [f"fix-preview-{plan_id}"]
    compute_plan(plan_id)  # what the preview job does
    html = text_of(manager.get(f"/fix-plans/{plan_id}"))
    # The plan says it in a sentence: void the other order, keep the one chosen.
    steps = html.split('<ol class="plan-steps">')[1].split("</ol>")[0]
    void, keep = books.orders["L7"], books.orders["L8"]
    assert re.search(
        rf'Void order <a href="/orders/{void}">#{void}</a> — receipt <bdi>[^<]+</bdi>, [^—]+ — '
        rf'keep <a href="/orders/{keep}">#{keep}</a>',
        steps,
    ), steps


def test_keep_must_be_one_of_the_groups_orders(signed_in, books):
    group_id = books.groups["suspected_double_entry"]
    manager = signed_in("manager")
    for keep in (books.orders["L1"], "abc"):
        response = post_form(
            manager, f"/duplicates/{group_id}/preview", {"keep": keep}, token_from=f"/duplicates/{group_id}"
        )
        assert response.status_code == 400
        assert "Choose one of the group&#39;s orders to keep." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(FixPlan.id))) == 0


def test_dismissing_needs_a_reason(signed_in, books):
    group_id = books.groups["suspected_double_entry"]
    manager = signed_in("manager")
    refused = post_form(
        manager, f"/duplicates/{group_id}/dismiss", {"reason": "   "}, token_from=f"/duplicates/{group_id}"
    )
    assert refused.status_code == 400 and "This field is required." in refused.get_data(as_text=True)
    assert group_status(group_id) == "open"
    done = post_form(
        manager,
        f"/duplicates/{group_id}/dismiss",
        {"reason": "Two customers <b>same</b> basket"},
        token_from=f"/duplicates/{group_id}",
        follow_redirects=True,
    )
    html = text_of(done)
    assert f"Group #{group_id} is dismissed as not a duplicate." in html
    assert "Two customers &lt;b&gt;same&lt;/b&gt; basket" in html and 'id="preview-form"' not in html
    assert group_status(group_id) == "dismissed"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "dismiss_group"))
    assert (entry.actor, entry.target_id) == ("manager@example.com", group_id)
    again = post_form(
        manager,
        f"/duplicates/{group_id}/dismiss",
        {"reason": "again"},
        token_from=f"/duplicates/{group_id}",
        follow_redirects=True,
    )
    assert "The group was not dismissed: group" in again.get_data(as_text=True)


def test_an_invoice_collision_can_only_be_dismissed(signed_in, books):
    group_id = books.groups["invoice_collision"]
    manager = signed_in("manager")
    html = text_of(manager.get(f"/duplicates/{group_id}"))
    assert 'id="preview-form"' not in html and 'name="keep"' not in html
    assert "both are real sales and both stay" in html and "Dismiss the group" in html
    refused = post_form(
        manager, f"/duplicates/{group_id}/preview", token_from=f"/duplicates/{group_id}", follow_redirects=True
    )
    assert "No fix was previewed: group" in refused.get_data(as_text=True)
    assert "invoice collision" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(FixPlan.id))) == 0


def test_bulk_preview_takes_every_open_certain_group(signed_in, books):
    manager = signed_in("manager")
    html = text_of(manager.get("/duplicates"))
    assert "4 open groups of a certain kind" in html
    plan_id = plan_id_of(post_form(manager, "/duplicates/preview-certain", token_from="/duplicates"))
    requested = json.loads(db.session.get(FixPlan, plan_id).request)
    certain = [
        books.groups[kind]
        for kind in ("same_offline_id", "same_invoice_same_content", "duplicate_lines", "duplicate_movements")
    ]
    assert requested == [{"group_id": group_id, "keep_order_id": None} for group_id in certain]


def test_bulk_preview_with_nothing_certain_open(signed_in, app):
    response = post_form(
        signed_in("manager"), "/duplicates/preview-certain", token_from="/duplicates", follow_redirects=True
    )
    assert "No open group is of a certain kind" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(FixPlan.id))) == 0


def _state() -> tuple:
    return (
        db.session.scalar(select(func.count(FixPlan.id))),
        db.session.scalar(select(func.count(Fix.id))),
        tuple(db.session.scalars(select(DuplicateGroup.status).order_by(DuplicateGroup.id))),
        tuple(db.session.scalars(select(FixPlan.status).order_by(FixPlan.id))),
        db.session.scalar(select(func.count(AuditEntry.id))),
        get_queue().count,
    )


@pytest.fixture
def plan_and_fix(books):
    """A previewed plan for one group, and a fix applied to another: something for every action to act on."""
    plan_id = request_plan([(books.groups["suspected_double_entry"], None)], "m@example.com")
    digest = compute_plan(plan_id)
    fix_id = fix_now([(books.groups["duplicate_movements"], None)], "m@example.com").fix_id
    return plan_id, digest, fix_id


def _posts(books, plan_and_fix) -> list[tuple[str, dict]]:
    plan_id, digest, fix_id = plan_and_fix
    group_id = books.groups["same_offline_id"]
    return [
        ("/duplicates/scan", {}),
        ("/duplicates/preview-certain", {}),
        (f"/duplicates/{group_id}/dismiss", {"reason": "not one"}),
        (f"/duplicates/{group_id}/preview", {}),
        (f"/fix-plans/{plan_id}/approve", {"plan_id": plan_id, "plan_hash": digest}),
        (f"/fix-plans/{plan_id}/run-again", {}),
        (f"/fix-plans/{plan_id}/preview-again", {}),
        (f"/fixes/{fix_id}/revert", {}),
        ("/jobs/some-job/requeue", {}),
    ]


def test_a_viewer_can_look_but_every_action_is_refused(signed_in, books, plan_and_fix):
    plan_id, _, fix_id = plan_and_fix
    viewer = signed_in("viewer")
    before = _state()
    for url, data in _posts(books, plan_and_fix):
        assert post_form(viewer, url, data).status_code == 403, url
    for url in (f"/fixes/{fix_id}/revert", "/jobs"):
        assert viewer.get(url).status_code == 403, url
    assert _state() == before
    pages = {
        url: text_of(viewer.get(url))
        for url in ("/duplicates", f"/duplicates/{books.groups['same_offline_id']}", f"/fix-plans/{plan_id}", "/fixes")
    }
    for url, html in pages.items():
        for button in ("Scan now", "Preview fix", "Dismiss the group", "Approve and apply", "Revert…", 'name="keep"'):
            assert button not in html, (url, button)
    assert "Approve and apply" in text_of(signed_in("manager").get(f"/fix-plans/{plan_id}"))


def test_a_manager_cannot_requeue_jobs(signed_in, books, plan_and_fix):
    manager = signed_in("manager")
    assert manager.get("/jobs").status_code == 403
    assert post_form(manager, "/jobs/some-job/requeue").status_code == 403


def test_forms_without_the_csrf_token_change_nothing(signed_in, books, plan_and_fix):
    manager = signed_in("manager")
    before = _state()
    for url, data in _posts(books, plan_and_fix)[:-1]:
        response = manager.post(url, data=data)
        assert response.status_code == 400, url
        assert "The form has expired" in response.get_data(as_text=True)
        forged = manager.post(url, data={**data, "csrf_token": "forged"})
        assert forged.status_code == 400, url
    assert _state() == before


def test_hostile_device_and_cashier_are_shown_as_text(app, signed_in, catalog, tmp_path):
    offline_id = "22222222-2222-4222-8222-222222222222"
    hostile = [
        dict(
            sale(
                f"H{n}",
                f"<b>INV-H{n}</b>",
                offline_id=offline_id,
                device="<script>alert(1)</script>",
                at=f"2026-03-01T10:0{n}:00+00:00",
            ),
            cashier='<img src=x onerror="alert(2)">',
        )
        for n in (1, 2)
    ]
    books = scanned_books(app, tmp_path, RECORDS + hostile)
    group_id = db.session.scalar(select(DuplicateGroup.id).where(DuplicateGroup.group_key.contains(offline_id)))
    assert group_id is not None, books.groups
    html = text_of(signed_in("manager").get(f"/duplicates/{group_id}"))
    for raw in ("<script>alert", "<img src=x", "<b>INV"):
        assert raw not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2
    assert html.count("&lt;img src=x onerror=&#34;alert(2)&#34;&gt;") == 2
    assert "&lt;b&gt;INV-H1&lt;/b&gt;" in html
