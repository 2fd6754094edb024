"""What /readyz checks, and the gauges /metrics reads at scrape time from Redis and the database."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from prometheus_client.core import GaugeMetricFamily
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from .schema import schema_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_json(self) -> dict:
        return {"ok": self.ok, "detail": self.detail}


def check_database() -> Check:
    """Reachable, and at the head migration."""
    try:
        state = schema_state()
    except SQLAlchemyError as exc:
        log.warning("readiness: database unreachable: %s", exc)
        return Check("database", False, "unreachable")
    return Check("database", state.ready, state.describe())


def check_redis() -> Check:
    from ..redis_conn import get_redis

    try:
        get_redis().ping()
    except (RedisError, OSError) as exc:
        log.warning("readiness: Redis unreachable: %s", exc)
        return Check("redis", False, "unreachable")
    return Check("redis", True, "reachable")


def live_workers(now: datetime | None = None) -> int:
    """RQ workers of our queue whose heartbeat is recent; raises RedisError when Redis is down."""
    from rq import Worker

    from ..jobs.queue import WORKER_HEARTBEAT_MAX_AGE, get_queue

    now = now or datetime.now(timezone.utc)
    alive = 0
    for worker in Worker.all(queue=get_queue()):
        beat = worker.last_heartbeat
        if beat is None:
            continue
        if beat.tzinfo is None:
            beat = beat.replace(tzinfo=timezone.utc)
        if now - beat <= WORKER_HEARTBEAT_MAX_AGE:
            alive += 1
    return alive


def check_worker() -> Check:
    try:
        alive = live_workers()
    except (RedisError, OSError):
        return Check("worker", False, "unknown: Redis unreachable")
    if not alive:
        return Check("worker", False, "no RQ worker heartbeat seen recently: start `flask worker`")
    return Check("worker", True, f"{alive} alive")


def readiness() -> list[Check]:
    return [check_database(), check_redis(), check_worker()]


def live_gauges() -> list[GaugeMetricFamily]:
    """Values that are the same whichever gunicorn worker is scraped: read from Redis and the database."""
    gauges = []
    redis_up = GaugeMetricFamily("tillsync_redis_up", "1 when Redis answers")
    try:
        gauges += _queue_gauges()
        redis_up.add_metric([], 1)
    except (RedisError, OSError):
        redis_up.add_metric([], 0)
    gauges.append(redis_up)
    database_up = GaugeMetricFamily("tillsync_database_up", "1 when the database answers and is at the head migration")
    try:
        ready = schema_state().ready
        gauges += _scan_gauges() if ready else []
        database_up.add_metric([], 1 if ready else 0)
    except SQLAlchemyError:
        database_up.add_metric([], 0)
    gauges.append(database_up)
    return gauges


def _queue_gauges() -> list[GaugeMetricFamily]:
    from ..jobs.queue import get_queue

    queue = get_queue()
    jobs = GaugeMetricFamily("tillsync_queue_jobs", "Jobs in the RQ queue, by state", labels=["state"])
    jobs.add_metric(["queued"], queue.count)
    jobs.add_metric(["started"], queue.started_job_registry.count)
    jobs.add_metric(["scheduled"], queue.scheduled_job_registry.count)
    jobs.add_metric(["failed"], queue.failed_job_registry.count)
    workers = GaugeMetricFamily("tillsync_workers_alive", "RQ workers with a recent heartbeat")
    workers.add_metric([], live_workers())
    return [jobs, workers]


def _scan_gauges() -> list[GaugeMetricFamily]:
    """The latest finished duplicate scan: open groups by kind, products whose stock drifted, and when."""
    from ..models import DuplicateScan

    scan = db.session.execute(
        select(DuplicateScan.finished_at, DuplicateScan.findings)
        .where(DuplicateScan.status == "finished")
        .order_by(DuplicateScan.started_at.desc(), DuplicateScan.id.desc())
        .limit(1)
    ).first()
    groups = GaugeMetricFamily(
        "tillsync_scan_open_groups", "Open duplicate groups at the latest scan, by kind", labels=["kind"]
    )
    drift = GaugeMetricFamily(
        "tillsync_scan_stock_drift_products", "Products whose stock differs from their movements at the latest scan"
    )
    finished = GaugeMetricFamily("tillsync_scan_finished_timestamp_seconds", "When the latest scan finished")
    if scan is not None:
        findings = json.loads(scan.findings or "{}")
        for kind, counts in sorted(findings.get("kinds", {}).items()):
            groups.add_metric([kind], counts.get("groups", 0))
        drift.add_metric([], len(findings.get("stock_drift", [])))
        finished.add_metric([], scan.finished_at.timestamp())
    return [groups, drift, finished]
