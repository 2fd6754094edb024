"""Fix history with reverts, and the admins' view of the job queue (with a real RQ worker)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from dashboard.domain.fixes import fix_now, revert_fix
from dashboard.extensions import db
from dashboard.jobs.duplicates import enqueue_preview
from dashboard.jobs.queue import get_queue, job_status
from dashboard.models import AuditEntry, DuplicateGroup, Fix, Order
from tests.admin.conftest import post_form
from tests.admin.duplicates_support import scanned_books
from tests.support.workers import run_worker


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def row_of(html: str, fix_id: int) -> str:
    return html.split(f'<tr id="fix-{fix_id}">')[1].split("</tr>")[0]


@pytest.fixture
def books(app, catalog, tmp_path):
    return scanned_books(app, tmp_path)


def test_fix_history_and_revert(signed_in, books):
    groups = [books.groups["same_offline_id"], books.groups["duplicate_lines"]]
    fix_id = fix_now([(group_id, None) for group_id in groups], "boss@example.com").fix_id
    manager = signed_in("manager")
    html = text_of(manager.get("/fixes"))
    row = row_of(html, fix_id)
    assert "boss@example.com" in row and "applied" in row
    assert all(f'href="/duplicates/{group_id}">#{group_id}</a>' in row for group_id in groups)
    assert "1 order voided,\n1 line voided,\n2 stock movements booked back,\n€8.20 revenue and 3 units removed" in row
    assert f'href="/fixes/{fix_id}/revert"' in row
    assert f'href="/fixes/{fix_id}/revert"' not in text_of(signed_in("viewer").get("/fixes"))
    group_page = text_of(manager.get(f"/duplicates/{groups[0]}"))
    assert f'href="/fixes/{fix_id}/revert"' in group_page  # the latest fix of the group

    confirm = text_of(manager.get(f"/fixes/{fix_id}/revert"))
    assert f"Revert fix #{fix_id}?" in confirm and "on 2 groups" in confirm
    assert f'action="/fixes/{fix_id}/revert"' in confirm
    done = text_of(
        post_form(manager, f"/fixes/{fix_id}/revert", token_from=f"/fixes/{fix_id}/revert", follow_redirects=True)
    )
    assert f"Fix #{fix_id} is reverted" in done
    revert_id = db.session.scalar(select(Fix.id).where(Fix.reverts_fix_id == fix_id))
    assert f"revert of fix #{fix_id}" in row_of(done, revert_id)
    assert f"reverted by fix #{revert_id}" in row_of(done, fix_id) and "/revert" not in row_of(done, fix_id)
    assert db.session.scalar(select(func.count(Order.id)).where(Order.status == "void")) == 0
    assert set(db.session.scalars(select(DuplicateGroup.status).where(DuplicateGroup.id.in_(groups)))) == {"open"}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "revert_fix"))
    assert (entry.actor, entry.target_id) == ("manager@example.com", fix_id)
    again = text_of(post_form(manager, f"/fixes/{fix_id}/revert", token_from="/fixes", follow_redirects=True))
    assert f"Fix #{fix_id} was already reverted; nothing changed." in again
    refused = text_of(post_form(manager, f"/fixes/{revert_id}/revert", token_from="/fixes", follow_redirects=True))
    assert "The fix was not reverted: no applied fix" in refused
    assert manager.get("/fixes/424242/revert").status_code == 404


def test_only_the_latest_fix_of_a_group_offers_a_revert(signed_in, books):
    group_id = books.groups["same_offline_id"]
    first = fix_now([(group_id, None)], "m@example.com").fix_id
    revert_fix(first, "m@example.com")
    second = fix_now([(group_id, None)], "m@example.com").fix_id
    html = text_of(signed_in("manager").get("/fixes"))
    assert f'href="/fixes/{second}/revert"' in html and f'href="/fixes/{first}/revert"' not in html
    confirm = text_of(signed_in("manager").get(f"/fixes/{first}/revert"))
    assert "This fix cannot be reverted" in confirm and "disabled" in confirm


@pytest.mark.slow  # a real RQ worker process
def test_jobs_page_counts_and_requeues_failed_jobs(app, signed_in, redis_server):
    admin = signed_in("admin")
    empty = text_of(admin.get("/jobs"))
    assert "No job has failed." in empty and "No job is waiting." in empty
    enqueue_preview(424242)  # a plan that does not exist: the job fails
    waiting = text_of(admin.get("/jobs"))
    assert re.search(r'id="count-queued">\s*<span class="figure">1</span>', waiting)
    assert "<code>fix-preview-424242</code>" in waiting and 'href="/fix-plans/424242"' in waiting
    run_worker(app, redis_server.url)
    failed = text_of(admin.get("/jobs"))
    assert re.search(r'id="count-failed">\s*<span class="figure">1</span>', failed)
    assert "PlanError: no fix plan 424242" in failed and 'action="/jobs/fix-preview-424242/requeue"' in failed
    requeued = text_of(post_form(admin, "/jobs/fix-preview-424242/requeue", token_from="/jobs", follow_redirects=True))
    assert "Job fix-preview-424242 is queued again." in requeued
    assert job_status("fix-preview-424242").status == "queued" and get_queue().count == 1
    missing = text_of(post_form(admin, "/jobs/no-such-job/requeue", token_from="/jobs", follow_redirects=True))
    assert "Job no-such-job is not among the failed jobs" in missing
