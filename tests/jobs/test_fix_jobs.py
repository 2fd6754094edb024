"""Scan, preview and apply as RQ jobs, run by a real `flask worker` process on a real Redis."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from dashboard.domain.duplicates import run_scan
from dashboard.domain.fix_plans import open_certain_selection
from dashboard.domain.fixes import approve_plan, request_plan
from dashboard.extensions import db
from dashboard.jobs.duplicates import (
    SCHEDULED_SCAN_PREFIX,
    enqueue_apply,
    enqueue_preview,
    enqueue_scan,
    schedule_next_scan,
)
from dashboard.jobs.queue import get_queue, job_status
from dashboard.models import DuplicateScan, Fix, FixPlan, Order
from tests.domain.legacy_data import write_legacy_file
from tests.support.workers import run_worker


@pytest.fixture
def redis_clean(redis_server):
    redis_server.flush()
    return redis_server


@pytest.fixture
def legacy_books(app, catalog, tmp_path):
    path = write_legacy_file(tmp_path / "old.jsonl")
    assert app.test_cli_runner().invoke(args=["legacy", "import", str(path)]).exit_code == 0


@pytest.mark.slow  # a real RQ worker process
def test_preview_and_apply_run_as_jobs_with_progress(app, legacy_books, redis_clean):
    run_scan(trigger="test", actor="m@example.com")
    plan_id = request_plan(open_certain_selection(), "m@example.com")
    job = enqueue_preview(plan_id)
    assert enqueue_preview(plan_id).id == job.id  # one preview job per plan, however often asked
    assert job_status(job.id).status == "queued"
    run_worker(app, redis_clean.url)
    status = job_status(job.id)
    assert (status.status, status.progress) == ("finished", 1.0)
    plan = db.session.get(FixPlan, plan_id)
    assert plan.status == "ready" and len(plan.plan_hash) == 64
    approve_plan(plan_id, plan.plan_hash, "boss@example.com")
    apply = enqueue_apply(plan_id, "boss@example.com")
    run_worker(app, redis_clean.url)
    assert job_status(apply.id).status == "finished"
    result = apply.latest_result().return_value
    assert result["orders_voided"] == 2 and not result["already_done"]
    assert db.session.scalar(select(func.count(Order.id)).where(Order.status == "void")) == 2
    # The same approval run again (a retried job) applies nothing more.
    again = enqueue_apply(plan_id, "boss@example.com")
    run_worker(app, redis_clean.url)
    assert again.latest_result().return_value["already_done"]
    assert db.session.scalar(select(func.count(Fix.id))) == 1


def test_scan_job_records_the_scan(app, legacy_books, redis_clean):
    job = enqueue_scan("m@example.com")
    run_worker(app, redis_clean.url)
    assert job_status(job.id).status == "finished"
    scan = db.session.scalar(select(DuplicateScan))
    assert (scan.trigger, scan.status) == ("dashboard", "finished")
    assert job.latest_result().return_value["kinds"]["same_offline_id"]["groups"] == 1


@pytest.mark.slow  # a real RQ worker process
def test_scheduled_scan_is_planned_once_and_runs_when_due(app, legacy_books, redis_clean):
    long_ago = datetime.now(timezone.utc) - timedelta(hours=25)
    first = schedule_next_scan(now=long_ago)
    assert first.startswith(SCHEDULED_SCAN_PREFIX)
    assert schedule_next_scan(now=long_ago) == first  # not planned twice
    run_worker(app, redis_clean.url)
    scans = db.session.scalars(select(DuplicateScan)).all()
    assert [(s.trigger, s.status) for s in scans] == [("schedule", "finished")]
    # Having run, it planned the next one, an interval ahead.
    waiting = get_queue().scheduled_job_registry.get_job_ids()
    assert len(waiting) == 1 and waiting[0] != first


def test_unknown_job_is_reported_missing(app, redis_clean):
    assert job_status("no-such-job").status == "missing"


@pytest.mark.slow  # a real RQ worker process
def test_worker_resumes_plans_whose_jobs_redis_lost(app, legacy_books, redis_clean):
    from dashboard.jobs.duplicates import resume_unfinished_plans

    run_scan(trigger="test", actor="m@example.com")
    plan_id = request_plan(open_certain_selection(), "m@example.com")  # its preview job never reached Redis
    run_worker(app, redis_clean.url)  # a starting worker queues it again from the database
    plan = db.session.get(FixPlan, plan_id)
    assert plan.status == "ready"
    approve_plan(plan_id, plan.plan_hash, "boss@example.com")
    redis_clean.restart()  # Redis forgets every job; the database still knows the approval is unapplied
    run_worker(app, redis_clean.url)
    assert db.session.get(FixPlan, plan_id).status == "applied"
    assert db.session.scalar(select(func.count(Fix.id))) == 1
    assert resume_unfinished_plans() == []
