"""Retention: `flask logs prune` and the daily prune delete old records in batches, keep what is still
needed (sales' provenance, what a manager must deal with, what a duplicate group points at), and audit it."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from dashboard.domain import refusals
from dashboard.domain.duplicates import run_scan
from dashboard.domain.retention import RetentionError, claim_daily_run, parse_duration, prune
from dashboard.domain.skipped_sales import mark_handled
from dashboard.extensions import db
from dashboard.jobs.queue import get_queue
from dashboard.jobs.retention import next_run_after, schedule_next_prune, scheduled_prune_job
from dashboard.models import (
    AuditEntry,
    DuplicateGroup,
    DuplicateScan,
    MaintenanceRun,
    Order,
    RefusedCalls,
    SyncAttempt,
    SyncLog,
)
from dashboard.redis_conn import get_redis
from tests.support.sales import bearer, make_sale
from tests.support.workers import run_worker

NOW = datetime.now(timezone.utc)
OLD = NOW - timedelta(days=100)


def sync(client, token, orders) -> int:
    answer = client.post("/api/v1/sync", json={"orders": orders}, headers=bearer(token))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["sync_id"]


def age(sync_ids, when=OLD) -> None:
    """Move sync calls (and their attempts) into the past, as if they had come in `when`."""
    db.session.execute(update(SyncLog).where(SyncLog.id.in_(sync_ids)).values(started_at=when))
    db.session.execute(update(SyncAttempt).where(SyncAttempt.sync_id.in_(sync_ids)).values(received_at=when))
    db.session.commit()


def ids(model) -> set[int]:
    db.session.rollback()
    return set(db.session.scalars(select(model.id)))


@pytest.fixture
def history(client, token, catalog):
    """Old and recent sync traffic of every kind, made through the API, then aged."""
    sale = make_sale()
    created = sync(client, token, [sale])
    replayed = sync(client, token, [sale])
    unhandled = sync(client, token, [make_sale(lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "1.00"}])])
    handled = sync(client, token, [make_sale(lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "1.00"}])])
    mark_handled(
        db.session.scalar(select(SyncAttempt.id).where(SyncAttempt.sync_id == handled)),
        "wrong till",
        actor="manager@example.com",
    )
    assert client.post("/api/v1/sync", json={"orders": []}, headers=bearer("nobody")).status_code == 401
    refusals.flush(get_redis())  # a refused call is counted per minute (refused_calls), not logged
    refused = db.session.scalar(select(func.max(RefusedCalls.id)))
    db.session.execute(update(RefusedCalls).where(RefusedCalls.id == refused).values(minute=OLD))
    db.session.commit()
    polls = [sync(client, token, []) for _ in range(5)]
    age([created, replayed, unhandled, handled, *polls])
    recent = sync(client, token, [sale])  # a replay today: young, kept
    return {
        "created": created,
        "replayed": replayed,
        "unhandled": unhandled,
        "handled": handled,
        "refused": refused,
        "polls": polls,
        "recent": recent,
    }


def test_prune_deletes_old_records_in_batches_and_keeps_what_is_still_needed(app, history):
    attempts_before = {row.sync_id: row.id for row in db.session.execute(select(SyncAttempt.sync_id, SyncAttempt.id))}
    summary = prune(older_than=timedelta(days=90), audit_older_than=timedelta(days=365), actor="cli", batch_size=2)

    kept_logs = ids(SyncLog)
    assert history["created"] in kept_logs  # stored a sale: the order page's "stored by"
    assert history["unhandled"] in kept_logs  # its rejected sale still waits for a manager
    assert history["recent"] in kept_logs
    for gone in (history["replayed"], history["handled"], *history["polls"]):
        assert gone not in kept_logs
    assert history["refused"] not in ids(RefusedCalls) and summary.deleted["refused_calls"] == 1
    kept_attempts = ids(SyncAttempt)
    assert attempts_before[history["unhandled"]] in kept_attempts
    assert history["recent"] not in attempts_before  # a replay: counted on its call's row (0008), kept above
    assert history["replayed"] not in attempts_before  # a replay is counted on its call, never stored (0008)
    assert attempts_before[history["handled"]] not in kept_attempts
    assert summary.deleted["sync_logs"] == 7 and summary.deleted["sync_attempts"] == 1
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1  # sales are never pruned

    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "retention_prune")).one()
    assert entry.actor == "cli"
    assert json.loads(entry.details)["deleted"]["sync_logs"] == 7


def test_scans_a_group_points_at_are_kept(app, client, token, catalog):
    at = (NOW - timedelta(hours=1)).isoformat()
    basket = [{"sku": "TEA", "quantity": "1", "unit_price": "2.00"}]
    sync(client, token, [make_sale(created_at=at, lines=basket)])
    sync(client, token, [make_sale(created_at=at, lines=basket)])  # the same sale re-sent under a new id
    first = run_scan(trigger="cli", actor="cli").scan_id
    second = run_scan(trigger="cli", actor="cli").scan_id
    assert db.session.scalar(select(DuplicateGroup.last_seen_scan_id)) == second
    db.session.execute(update(DuplicateScan).values(started_at=OLD))
    db.session.commit()
    summary = prune(older_than=timedelta(days=90), audit_older_than=timedelta(days=365), actor="cli")
    assert ids(DuplicateScan) == {second} and summary.deleted["duplicate_scans"] == 1
    assert first != second


def test_the_audit_log_has_its_own_longer_retention(app, history):
    db.session.execute(update(AuditEntry).values(at=NOW - timedelta(days=200)))
    first = min(ids(AuditEntry))  # the device's registration, the oldest entry
    db.session.execute(update(AuditEntry).where(AuditEntry.id == first).values(at=NOW - timedelta(days=400)))
    db.session.commit()
    before = ids(AuditEntry)
    summary = prune(older_than=timedelta(days=90), audit_older_than=timedelta(days=365), actor="cli")
    after = ids(AuditEntry)
    assert summary.deleted["audit_log"] == 1
    assert len(after) == len(before)  # one 400-day-old entry gone, the prune's own entry added
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.at < NOW - timedelta(days=365)))
        == 0
    )


def test_cli_prune_takes_durations_and_refuses_bad_ones(app, history):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["logs", "prune", "--older-than", "90d", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["deleted"]["sync_logs"] == 7
    for bad in ("90", "0d", "3w", "-1d", "1.5d"):
        result = runner.invoke(args=["logs", "prune", "--older-than", bad])
        assert result.exit_code != 0 and "duration" in result.output, bad
    assert parse_duration("12h") == timedelta(hours=12) and parse_duration("90d") == timedelta(days=90)
    with pytest.raises(RetentionError):
        parse_duration("0h")
    result = runner.invoke(args=["logs", "prune", "--older-than", "12h"])
    assert result.exit_code == 0 and "sync_logs: 0 deleted" in result.output  # the rest is younger


def test_one_daily_run_whichever_worker_asks_first(app, backend):
    """Workers on many hosts all start the daily prune: the unique (task, day) row lets one run it."""
    day = date(2026, 11, 30)
    barrier = threading.Barrier(4)
    claimed = []

    def claim():
        with app.app_context():
            barrier.wait()
            claimed.append(claim_daily_run(day))
            db.session.remove()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([run for run in claimed if run is not None]) == 1
    assert db.session.scalar(select(func.count()).select_from(MaintenanceRun)) == 1


def test_a_real_worker_runs_the_daily_prune_once(app, history, redis_server):
    redis_server.flush()
    queue = get_queue()
    queue.enqueue(scheduled_prune_job)
    run_worker(app, redis_server.url)
    assert history["replayed"] not in ids(SyncLog)
    run = db.session.scalars(select(MaintenanceRun)).one()
    assert run.finished_at is not None and json.loads(run.summary)["deleted"]["sync_logs"] == 7
    assert db.session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "retention_prune")).all() == [
        "scheduler"
    ]
    # The same day again (a second worker, or the job retried): nothing more is pruned or audited.
    queue.enqueue(scheduled_prune_job)
    run_worker(app, redis_server.url)
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "retention_prune"))
        == 1
    )
    # The job scheduled the next one, in the shop's night; asking again keeps that one job.
    waiting = [job_id for job_id in queue.scheduled_job_registry.get_job_ids() if job_id.startswith("retention-")]
    assert len(waiting) == 1 and schedule_next_prune() == waiting[0]


def test_the_next_prune_is_at_three_in_the_shops_night():
    riyadh = next_run_after(datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc), "Asia/Riyadh")  # 04:00 there
    assert riyadh == datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc)
    utc = next_run_after(datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc), "UTC")
    assert utc == datetime(2026, 11, 30, 3, 0, tzinfo=timezone.utc)
