"""The job queue: deterministic job ids, progress in job.meta, and a status view of any job.

The database stays the source of truth: a job only carries ids, and what it
changes is recorded in the database, so losing Redis delays work but never
loses or corrupts it.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app, has_app_context
from rq import Queue, Worker, get_current_job
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.results import Result

from ..redis_conn import get_redis

QUEUE_NAME = "tillsync"
ACTIVE = {"queued", "started", "deferred", "scheduled"}


def get_queue() -> Queue:
    return Queue(QUEUE_NAME, connection=get_redis())


# How often a worker confirms it is alive while it runs a job (RQ's default is 30 s).
JOB_MONITORING_INTERVAL = 5
# A running job whose worker has not confirmed for this long is taken as abandoned.
ABANDONED_AFTER = timedelta(seconds=6 * JOB_MONITORING_INTERVAL)
# An idle worker's heartbeat comes every WORKER_TTL - 15 s (RQ's default TTL, 420 s, would leave
# /readyz unsure for 7 minutes); a worker silent for twice the TTL is taken as gone.
WORKER_TTL = 60
WORKER_HEARTBEAT_MAX_AGE = timedelta(seconds=2 * WORKER_TTL)


def enqueue_once(func, *args, job_id: str, timeout: int = 3600) -> Job:
    """Enqueue func unless a job with this id is waiting or running; returns that job.

    A job RQ still calls 'started' whose worker is gone (killed, or its host
    lost) is not running: it is replaced, rather than making the caller wait
    for RQ's own clean-up (minutes). Our jobs are safe to run twice, so
    replacing one that was in fact alive costs time, never correctness.
    """
    connection = get_redis()
    try:
        existing = Job.fetch(job_id, connection=connection)
        status = existing.get_status(refresh=True)
        if status in ACTIVE and not (status == "started" and _is_abandoned(existing)):
            return existing
        _discard(existing)
    except NoSuchJobError:
        pass
    return get_queue().enqueue(
        func, *args, job_id=job_id, job_timeout=timeout, result_ttl=7 * 86400, failure_ttl=30 * 86400
    )


def _is_abandoned(job: Job) -> bool:
    """True when the worker holding this started job is gone."""
    worker = None
    if job.worker_name:
        worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name, connection=job.connection)
    if worker is None:
        return True
    if worker.hostname == socket.gethostname() and worker.pid and not _process_exists(worker.pid):
        return True
    heartbeat = worker.last_heartbeat
    if heartbeat is not None and heartbeat.tzinfo is None:
        heartbeat = heartbeat.replace(tzinfo=timezone.utc)
    return heartbeat is not None and datetime.now(timezone.utc) - heartbeat > ABANDONED_AFTER


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _discard(job: Job) -> None:
    """Remove a finished, failed or abandoned job, even when RQ's own records of it are half expired."""
    try:
        job.delete()
    except (ValueError, InvalidJobOperation):
        # RQ 3 raises when the job's execution record expired before its registry entry;
        # by then the job is out of the registries, and only its own keys are left.
        job.connection.delete(job.key, job.dependents_key, job.dependencies_key, Result.get_key(job.id))


def report_progress(fraction: float, message: str = "") -> None:
    """Publish a running job's progress (0..1) for the progress bar; a no-op outside a job."""
    job = get_current_job()
    if job is not None:
        job.meta.update(progress=round(max(0.0, min(1.0, fraction)), 3), message=message)
        job.save_meta()


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    status: str  # queued, started, finished, failed, missing, ...
    progress: float
    message: str
    error: str | None

    def as_json(self) -> dict:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "progress": self.progress,
            "message": self.message,
            "error": self.error,
        }


def job_status(job_id: str) -> JobStatus:
    """Where a job is; 'missing' when Redis no longer knows it (the database says what it did)."""
    try:
        job = Job.fetch(job_id, connection=get_redis())
    except NoSuchJobError:
        return JobStatus(job_id, "missing", 0.0, "", None)
    status = job.get_status(refresh=True)
    status = getattr(status, "value", status)
    meta = job.get_meta(refresh=True)
    progress = 1.0 if status == "finished" else float(meta.get("progress", 0.0))
    error = None
    if status == "failed":
        error = (job.latest_result().exc_string if job.latest_result() else "failed")[-500:]
    return JobStatus(job_id, status, progress, meta.get("message", ""), error)


@contextmanager
def app_context():
    """The app context a job runs in: the worker's, or a new app for workers started without Flask."""
    if has_app_context():
        from ..extensions import db

        # A forked work-horse must not share the parent's database connections.
        db.engine.dispose(close=False)
        yield current_app
        return
    from .. import create_app

    app = create_app()
    with app.app_context():
        yield app
