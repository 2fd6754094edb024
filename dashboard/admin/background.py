"""Starting jobs and reading where they are, without failing a page when Redis is away.

The database says what was done; Redis only says how far a job has got. So a
page still renders when Redis does not answer, and a job that could not be
queued can be started again from the page that needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import flash
from flask_babel import gettext as _

from ..jobs.duplicates import SCAN_JOB_ID, apply_job_id, preview_job_id  # noqa: F401  (used by the views)
from ..jobs.queue import ACTIVE, JobStatus, job_status
from ..redis_conn import REDIS_UNAVAILABLE

log = logging.getLogger(__name__)


def start(enqueue: Callable, *args, recorded: bool = True) -> bool:
    """Enqueue a job; if Redis does not answer, say so (flash) and return False."""
    try:
        enqueue(*args)
    except REDIS_UNAVAILABLE as exc:
        log.warning("job not queued, Redis unavailable: %s", exc)
        if recorded:
            flash(
                _(
                    "The job queue is not answering, so the work has not started yet. Your request is recorded: "
                    "use “Run again” in a moment."
                ),
                "error",
            )
        else:
            flash(_("The job queue is not answering, so nothing was started. Try again in a moment."), "error")
        return False
    return True


def status(job_id: str) -> JobStatus:
    """A job's status; 'unreachable' when Redis does not answer."""
    try:
        return job_status(job_id)
    except REDIS_UNAVAILABLE as exc:
        log.warning("job status unknown, Redis unavailable: %s", exc)
        return JobStatus(job_id, "unreachable", 0.0, "", None)


def is_active(job: JobStatus | None) -> bool:
    return job is not None and job.status in ACTIVE


def label(job: JobStatus) -> str:
    """Where a job is, in words for people."""
    if job.status in ("queued", "deferred", "scheduled"):
        return _("Waiting for a worker")
    if job.status == "started":
        return _("Working")
    if job.status == "finished":
        return _("Done")
    if job.status == "failed":
        return _("The job failed")
    if job.status == "unreachable":
        return _("The job queue is not answering")
    return _("The job is no longer known to the queue")


def progress_json(state: str, job: JobStatus, *, done: bool = False) -> dict:
    """What the progress bar's script polls: a state to compare with the page's, and how far the job is."""
    return {
        "status": state,
        "active": is_active(job),
        "progress": 1.0 if done else job.progress,
        "label": _("Done") if done else label(job),
        "job": job.job_id,
    }
