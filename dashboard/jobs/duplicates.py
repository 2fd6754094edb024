"""Jobs of the duplicate review: scan, preview a fix plan, apply an approved plan."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import current_app

from ..domain.duplicates import double_entry_window, run_scan
from ..domain.fixes import apply_plan, compute_plan
from .queue import app_context, enqueue_once, get_queue, report_progress

SCHEDULED_SCAN_PREFIX = "duplicate-scan-scheduled-"


def scan_job(trigger: str, actor: str) -> dict:
    with app_context():
        return run_scan(
            trigger=trigger, actor=actor, progress=report_progress, window=double_entry_window(current_app.config)
        ).as_json()


def preview_job(plan_id: int) -> str:
    with app_context():
        return compute_plan(plan_id, report_progress)


def apply_job(plan_id: int, actor: str) -> dict:
    with app_context():
        result = apply_plan(plan_id, actor, report_progress)
        return {"fix_id": result.fix_id, "already_done": result.already_done, **result.summary}


def scheduled_scan_job() -> dict:
    """The daily scan the old systems' operators ran by hand; schedules the next one first."""
    with app_context():
        schedule_next_scan()
        return run_scan(
            trigger="schedule",
            actor="scheduler",
            progress=report_progress,
            window=double_entry_window(current_app.config),
        ).as_json()


# One job per scan, per plan preview and per plan apply: asking twice never runs two.
SCAN_JOB_ID = "duplicate-scan"


def preview_job_id(plan_id: int) -> str:
    return f"fix-preview-{plan_id}"


def apply_job_id(plan_id: int) -> str:
    return f"fix-apply-{plan_id}"


def enqueue_scan(actor: str, trigger: str = "dashboard"):
    return enqueue_once(scan_job, trigger, actor, job_id=SCAN_JOB_ID)


def enqueue_preview(plan_id: int):
    return enqueue_once(preview_job, plan_id, job_id=preview_job_id(plan_id))


def enqueue_apply(plan_id: int, actor: str):
    return enqueue_once(apply_job, plan_id, actor, job_id=apply_job_id(plan_id))


def resume_unfinished_plans() -> list[int]:
    """Queue again the previews and approved applies the database says are unfinished.

    Redis may have lost their jobs (restarted, flushed, or the enqueue never
    reached it); the database is the source of truth, and running either job
    twice changes nothing, so a worker calls this when it starts.
    """
    from sqlalchemy import select

    from ..extensions import db
    from ..models import FixPlan

    resumed = []
    for plan_id, status, approved_by in db.session.execute(
        select(FixPlan.id, FixPlan.status, FixPlan.approved_by)
        .where(FixPlan.status.in_(("computing", "applying")))
        .order_by(FixPlan.id)
    ):
        if status == "computing":
            enqueue_preview(plan_id)
        else:
            enqueue_apply(plan_id, approved_by or "system")
        resumed.append(plan_id)
    db.session.rollback()
    return resumed


def schedule_next_scan(now: datetime | None = None):
    """Make sure the next scheduled scan is waiting in RQ's scheduler (one per interval, by its job id)."""
    hours = current_app.config["DUPLICATE_SCAN_INTERVAL_HOURS"]
    if hours <= 0:
        return None
    now = now or datetime.now(timezone.utc)
    queue = get_queue()
    waiting = [
        job_id for job_id in queue.scheduled_job_registry.get_job_ids() if job_id.startswith(SCHEDULED_SCAN_PREFIX)
    ]
    if waiting:
        return waiting[0]
    at = now + timedelta(hours=hours)
    job_id = f"{SCHEDULED_SCAN_PREFIX}{at:%Y%m%d%H%M}"
    queue.enqueue_at(at, scheduled_scan_job, job_id=job_id, job_timeout=3600, result_ttl=7 * 86400)
    return job_id
