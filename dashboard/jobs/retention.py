"""The daily prune: scheduled by every worker, run once a day by whichever worker gets there first."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app

from ..domain.retention import claim_daily_run, finish_daily_run, prune
from .queue import app_context, get_queue

SCHEDULED_PRUNE_PREFIX = "retention-prune-"
# In the shop's night, when tills are quiet.
RUN_AT = time(3, 0)


def scheduled_prune_job() -> dict:
    """Prune once for the shop's day: a second worker (or a job run twice) finds the day's row and skips."""
    with app_context():
        schedule_next_prune()
        return prune_today(actor="scheduler")


def prune_today(actor: str, now: datetime | None = None) -> dict:
    config = current_app.config
    now = now or datetime.now(timezone.utc)
    day = now.astimezone(ZoneInfo(config["BABEL_DEFAULT_TIMEZONE"])).date()
    run_id = claim_daily_run(day)
    if run_id is None:
        return {"skipped": f"already run for {day.isoformat()}"}
    summary = prune(
        older_than=timedelta(days=config["RETENTION_DAYS"]),
        audit_older_than=timedelta(days=config["AUDIT_RETENTION_DAYS"]),
        actor=actor,
        now=now,
    )
    finish_daily_run(run_id, summary)
    return summary.as_json()


def next_run_after(now: datetime, zone_name: str) -> datetime:
    """The next RUN_AT in the shop's time zone, as a UTC instant."""
    zone = ZoneInfo(zone_name)
    local = now.astimezone(zone)
    at = datetime.combine(local.date(), RUN_AT, tzinfo=zone)
    if at <= local:
        at = datetime.combine(local.date() + timedelta(days=1), RUN_AT, tzinfo=zone)
    return at.astimezone(timezone.utc)


def schedule_next_prune(now: datetime | None = None) -> str:
    """Make sure the next prune waits in RQ's scheduler; its job id names its day, so workers agree on it."""
    queue = get_queue()
    waiting = [
        job_id for job_id in queue.scheduled_job_registry.get_job_ids() if job_id.startswith(SCHEDULED_PRUNE_PREFIX)
    ]
    if waiting:
        return waiting[0]
    at = next_run_after(now or datetime.now(timezone.utc), current_app.config["BABEL_DEFAULT_TIMEZONE"])
    job_id = f"{SCHEDULED_PRUNE_PREFIX}{at:%Y%m%d}"
    queue.enqueue_at(at, scheduled_prune_job, job_id=job_id, job_timeout=6 * 3600, result_ttl=7 * 86400)
    return job_id
