"""Retention: delete records of the past once they are older than the operator's settings.

What goes, and what is kept whatever its age:

- sync_attempts: skipped-sale records, except rejected or conflicting sales no one
  has dealt with (the payload is the only copy of a sale that was never stored);
- sync_logs: requests that stored no sale (empty polls, replays) and have no
  attempt left; a request that stored sales stays, as the order page's
  "stored by" record;
- refused_calls: the per-minute counts of calls refused as a whole;
- duplicate_scans that no duplicate group points at (groups keep their scan);
- fix_plans set aside (stale, failed, discarded) that no fix points at;
- audit_log, by its own, longer setting. The prune itself is audited.

Orders, lines, payments, stock movements, groups and fixes are never deleted.
Deletes go in batches of ids (keyset on the primary key, bounded above by the
first id past the cutoff, found through the time index), one short
transaction each, so a prune never holds locks the tills' syncs wait on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, delete, exists, not_, select, update

from ..database import insert_ignoring_conflicts, run_write
from ..extensions import db
from ..models import (
    AuditEntry,
    DuplicateGroup,
    DuplicateScan,
    Fix,
    FixPlan,
    MaintenanceRun,
    Order,
    RefusedCalls,
    SyncAttempt,
    SyncLog,
)
from ..models.types import utcnow
from ..vocabulary import AuditAction, PlanStatus
from . import audit

BATCH_SIZE = 1000
DAILY_TASK = "prune"
_DURATION = re.compile(r"\s*(\d{1,5})\s*([dh])\s*")


class RetentionError(ValueError):
    """A duration that cannot be a retention period."""


def parse_duration(text: str) -> timedelta:
    """'90d' or '12h' as a timedelta; at least one hour, so a slip of the finger cannot empty the logs."""
    match = _DURATION.fullmatch(text or "")
    if not match:
        raise RetentionError(f"{text!r} is not a duration such as 90d (days) or 12h (hours)")
    number, unit = int(match.group(1)), match.group(2)
    if number < 1:
        raise RetentionError(f"{text!r}: the duration must be at least 1{unit}")
    return timedelta(days=number) if unit == "d" else timedelta(hours=number)


@dataclass
class PruneSummary:
    cutoff: datetime
    audit_cutoff: datetime
    deleted: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "cutoff": self.cutoff.isoformat(),
            "audit_cutoff": self.audit_cutoff.isoformat(),
            "deleted": self.deleted,
        }


def _needs_a_manager():
    return and_(SyncAttempt.status.in_(("rejected", "conflict")), SyncAttempt.resolution.is_(None))


def _targets(cutoff: datetime, audit_cutoff: datetime):
    """(name, model, time column, cutoff, extra conditions), in an order the foreign keys allow."""
    return (
        ("sync_attempts", SyncAttempt, SyncAttempt.received_at, cutoff, (not_(_needs_a_manager()),)),
        (
            "sync_logs",
            SyncLog,
            SyncLog.started_at,
            cutoff,
            (~exists().where(Order.sync_id == SyncLog.id), ~exists().where(SyncAttempt.sync_id == SyncLog.id)),
        ),
        ("refused_calls", RefusedCalls, RefusedCalls.minute, cutoff, ()),
        (
            "duplicate_scans",
            DuplicateScan,
            DuplicateScan.started_at,
            cutoff,
            (DuplicateScan.status != "running", ~exists().where(DuplicateGroup.last_seen_scan_id == DuplicateScan.id)),
        ),
        (
            "fix_plans",
            FixPlan,
            FixPlan.created_at,
            cutoff,
            (
                FixPlan.status.in_((PlanStatus.STALE, PlanStatus.FAILED, PlanStatus.DISCARDED)),
                ~exists().where(Fix.plan_id == FixPlan.id),
            ),
        ),
        ("audit_log", AuditEntry, AuditEntry.at, audit_cutoff, ()),
    )


def prune(
    *,
    older_than: timedelta,
    audit_older_than: timedelta,
    actor: str,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> PruneSummary:
    """Delete what is past retention, batch by batch; audited with the counts."""
    now = now or datetime.now(timezone.utc)
    summary = PruneSummary(cutoff=now - older_than, audit_cutoff=now - audit_older_than)
    for name, model, at, cutoff, conditions in _targets(summary.cutoff, summary.audit_cutoff):
        summary.deleted[name] = _prune_table(model, at, cutoff, conditions, batch_size)
    run_write(lambda: audit.record(actor, AuditAction.RETENTION_PRUNE, None, None, **summary.as_json()))
    return summary


def _prune_table(model, at, cutoff: datetime, conditions, batch_size: int) -> int:
    # Ids grow with time (every row is written with the time of its insert): the first row at or past
    # the cutoff bounds the scan, so the last batch does not walk every recent row to find nothing.
    # A row written by a host whose clock ran behind is left for a later day's prune.
    bound = db.session.scalar(select(model.id).where(at >= cutoff).order_by(at, model.id).limit(1))
    db.session.rollback()
    deleted, last = 0, 0

    def one_batch() -> list[int]:
        query = select(model.id).where(model.id > last, at < cutoff, *conditions)
        if bound is not None:
            query = query.where(model.id < bound)
        ids = list(db.session.scalars(query.order_by(model.id).limit(batch_size)))
        if ids:
            db.session.execute(delete(model).where(model.id.in_(ids), *conditions))
        return ids

    while ids := run_write(one_batch):
        deleted += len(ids)
        last = ids[-1]
    return deleted


def claim_daily_run(day: date, task: str = DAILY_TASK) -> int | None:
    """The run's id if this caller is the first to start `task` on `day`, else None (another worker did)."""

    def unit():
        return db.session.execute(
            insert_ignoring_conflicts(MaintenanceRun)
            .values(task=task, day=day, started_at=utcnow())
            .returning(MaintenanceRun.id)
        ).scalar()

    return run_write(unit)


def finish_daily_run(run_id: int, summary: PruneSummary) -> None:
    run_write(
        lambda: db.session.execute(
            update(MaintenanceRun)
            .where(MaintenanceRun.id == run_id)
            .values(finished_at=utcnow(), summary=json.dumps(summary.as_json()))
        )
    )
