"""The record of every sync request and of every sale it did not create."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..vocabulary import Resolution, sql_in
from .types import Money, UtcDateTime, utcnow

# The skipped-sales filters, as SQL conditions. Each has its partial index below, and the queries use
# the same text, so PostgreSQL and SQLite can match the query to the index whatever the parameters.
ATTEMPT_STATE_CONDITIONS = {
    "action": "status IN ('rejected', 'conflict') AND resolution IS NULL",
    "replays": "status = 'duplicate'",
    "handled": "resolution IS NOT NULL",
}


class SyncLog(db.Model):
    """One POST /api/v1/sync call that was read (HTTP 200); calls refused as a whole are only counted
    (models/refusals.py); migration 0007 moved the refused calls logged before it into those counts."""

    __tablename__ = "sync_logs"
    __table_args__ = (
        Index("ix_sync_logs_started_at", "started_at"),
        Index("ix_sync_logs_device_started", "device_id", "started_at"),
        # The rare calls a manager filters for: with conflicts, with rejections. (Calls refused as a
        # whole are counted in refused_calls, not logged here.)
        *(
            Index(
                f"ix_sync_logs_{name}_started",
                "started_at",
                sqlite_where=text(condition),
                postgresql_where=text(condition),
            )
            for name, condition in (("conflicts", "conflicts > 0"), ("rejected", "rejected > 0"))
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    batch_id: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    duration_ms: Mapped[int] = mapped_column(default=0)
    http_status: Mapped[int]
    error_code: Mapped[str | None] = mapped_column(String(40))
    received: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    conflicts: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    # Replays (duplicates) counted here instead of kept as a sync_attempts row each (migration 0008):
    # they changed nothing and need no one. Calls logged earlier kept rows and count 0 here.
    plain_replays: Mapped[int] = mapped_column(default=0, server_default="0")


class SyncAttempt(db.Model):
    """A sale in a sync that was a conflict, a rejection or a renumbered creation: its status, reason and the
    payload sent. (Replays had a row each before migration 0008; now they are counted on the sync log.)"""

    __tablename__ = "sync_attempts"
    __table_args__ = (
        Index("ix_sync_attempts_sync_id", "sync_id"),
        Index("ix_sync_attempts_reason_device_time", "reason", "device_id", "received_at"),
        Index("ix_sync_attempts_offline_id", "offline_id"),
        Index("ix_sync_attempts_received_at", "received_at", "reason", "device_id"),
        Index("ix_sync_attempts_device_time", "device_id", "received_at"),
        *(
            Index(
                f"ix_sync_attempts_{state}_time",
                "received_at",
                sqlite_where=text(condition),
                postgresql_where=text(condition),
            )
            for state, condition in ATTEMPT_STATE_CONDITIONS.items()
        ),
        # A daily close without ids: the till's refused sales of a day, not settled yet.
        Index(
            "ix_sync_attempts_action_device_sold",
            "device_id",
            "sold_at",
            sqlite_where=text(ATTEMPT_STATE_CONDITIONS["action"]),
            postgresql_where=text(ATTEMPT_STATE_CONDITIONS["action"]),
        ),
        CheckConstraint(sql_in("resolution", Resolution), name="resolution"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sync_id: Mapped[int] = mapped_column(ForeignKey("sync_logs.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    position: Mapped[int]  # index of the sale in the request's orders list
    offline_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # What the till sent, copied out at ingestion so the skipped-sales page never parses payloads.
    receipt_number: Mapped[str | None] = mapped_column(String(64))
    cashier: Mapped[str | None] = mapped_column(String(100))
    total: Mapped[Decimal | None] = mapped_column(Money)
    sold_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Set once, by the one transaction that claims the attempt (UPDATE ... WHERE resolution IS NULL).
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(254))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # The latest re-process that was refused again, and why (the attempt then still needs action).
    retry_reason: Mapped[str | None] = mapped_column(String(40))
    retry_message: Mapped[str | None] = mapped_column(Text)
    retried_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
