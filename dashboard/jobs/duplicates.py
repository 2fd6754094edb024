"""Jobs of the duplicate review: scan, preview a fix plan, apply an approved plan."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import current_app

from ..domain.duplicates import run_scan
from ..domain.fixes import apply_plan, compute_plan
from .queue import app_context, enqueue_once, get_queue, report_progress

SCHEDULED_SCAN_PREFIX = "duplicate-scan-scheduled-"


def scan_job(trigger: str, actor: str) -> dict:
    with app_context():
        return run_scan(trigger=trigger, actor=actor, progress=report_progress).as_json()


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
        return run_scan(trigger="schedule", actor="scheduler", progress=report_progress).as_json()


def enqueue_scan(actor: str, trigger: str = "dashboard"):
    return enqueue_once(scan_job, trigger, actor, job_id="duplicate-scan")


def enqueue_preview(plan_id: int):
    return enqueue_once(preview_job, plan_id, job_id=f"fix-preview-{plan_id}")


def enqueue_apply(plan_id: int, actor: str):
    return enqueue_once(apply_job, plan_id, actor, job_id=f"fix-apply-{plan_id}")


def schedule_next_scan(now: datetime | None = None):
    """Make sure the next scheduled scan is waiting in RQ's scheduler (one per interval, by its job id)."""
    hours = current_app.config["DUPLICATE_SCAN_INTERVAL_HOURS"]
    if hours <= 0:
        return None
    now = now or datetime.now(timezone.utc)
    queue = get_queue()
    waiting = [job_id for job_id in queue.scheduled_job_registry.get_job_ids()
               if job_id.startswith(SCHEDULED_SCAN_PREFIX)]
    if waiting:
        return waiting[0]
    at = now + timedelta(hours=hours)
    job_id = f"{SCHEDULED_SCAN_PREFIX}{at:%Y%m%d%H%M}"
    queue.enqueue_at(at, scheduled_scan_job, job_id=job_id, job_timeout=3600, result_ttl=7 * 86400)
    return job_id
