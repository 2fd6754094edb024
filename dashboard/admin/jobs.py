"""The job queue as admins see it: how many jobs wait, run, finished or failed; failed jobs requeued."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from ..jobs.queue import get_queue
from ..redis_conn import REDIS_UNAVAILABLE
from . import bp
from .access import role_required

log = logging.getLogger(__name__)
SHOWN = 50
# Fix-plan jobs carry their plan's id in their job id, so the page can link to the plan.
_PLAN_JOB = re.compile(r"fix-(?:preview|apply)-(\d+)")


@dataclass(frozen=True)
class JobRow:
    id: str
    function: str
    arguments: str
    enqueued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    progress: float | None
    error: str | None
    error_line: str | None  # the exception's last line, shown before the traceback is opened
    plan_id: int | None
    scheduled_for: datetime | None = None


@dataclass(frozen=True)
class QueueState:
    counts: list[tuple[str, int]]
    started: list[JobRow]
    queued: list[JobRow]
    scheduled: list[JobRow]
    failed: list[JobRow]


def _row(job: Job, with_error: bool = False) -> JobRow:
    error = None
    if with_error:
        result = job.latest_result()
        error = (result.exc_string if result and result.exc_string else "")[-3000:] or None
    plan = _PLAN_JOB.fullmatch(job.id)
    return JobRow(
        job.id,
        job.func_name.rsplit(".", 1)[-1],
        ", ".join(repr(arg) for arg in job.args)[:200],
        job.enqueued_at,
        job.started_at,
        job.ended_at,
        job.meta.get("progress"),
        error,
        error.strip().splitlines()[-1] if error else None,
        int(plan.group(1)) if plan else None,
    )


def _jobs(ids: list[str], connection, **kwargs) -> list[JobRow]:
    return [_row(job, **kwargs) for job in Job.fetch_many(ids, connection=connection) if job is not None]


def queue_state() -> QueueState:
    """Counts of each registry, and the jobs running, waiting and failed (newest failures first)."""
    queue = get_queue()
    connection = queue.connection
    registries = {
        "started": queue.started_job_registry,
        "finished": queue.finished_job_registry,
        "failed": queue.failed_job_registry,
        "deferred": queue.deferred_job_registry,
        "scheduled": queue.scheduled_job_registry,
    }
    counts = [("queued", queue.count)] + [(name, registry.count) for name, registry in registries.items()]
    return QueueState(
        counts=counts,
        started=_jobs(queue.started_job_registry.get_job_ids(0, SHOWN - 1), connection),
        queued=_jobs(queue.get_job_ids(0, SHOWN - 1), connection),
        scheduled=[
            replace(row, scheduled_for=queue.scheduled_job_registry.get_scheduled_time(row.id))
            for row in _jobs(queue.scheduled_job_registry.get_job_ids(0, SHOWN - 1), connection)
        ],
        failed=_jobs(queue.failed_job_registry.get_job_ids(0, SHOWN - 1, desc=True), connection, with_error=True),
    )


@bp.get("/jobs")
@role_required("admin")
def jobs():
    """The queue: counts, running and waiting jobs, and failed jobs with their error."""
    try:
        state = queue_state()
    except REDIS_UNAVAILABLE as exc:
        log.warning("job queue unavailable: %s", exc)
        return render_template("admin/jobs.html", state=None), 503
    return render_template("admin/jobs.html", state=state)


@bp.post("/jobs/<job_id>/requeue")
@role_required("admin")
def requeue_job(job_id: str):
    """Put a failed job back on the queue (jobs are safe to run again: they re-derive their work)."""
    try:
        get_queue().failed_job_registry.requeue(job_id)
    except (InvalidJobOperation, NoSuchJobError):
        flash(_("Job %(id)s is not among the failed jobs; nothing was requeued.", id=job_id), "error")
    except REDIS_UNAVAILABLE:
        flash(_("The job queue is not answering, so nothing was started. Try again in a moment."), "error")
    else:
        flash(_("Job %(id)s is queued again.", id=job_id), "info")
    return redirect(url_for("admin.jobs"))
