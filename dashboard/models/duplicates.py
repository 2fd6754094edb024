"""Duplicate scans and the groups of orders they report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..vocabulary import CERTAIN_KINDS, Confidence, DuplicateKind, GroupStatus, sql_in  # noqa: F401  (re-exported)
from .types import UtcDateTime, utcnow

# The kinds in the scan's order of precedence; CERTAIN_KINDS comes with them from the vocabulary.
KINDS = tuple(DuplicateKind)


class DuplicateScan(db.Model):
    """One run of the duplicate scan: when, who asked, and what it found (JSON)."""

    __tablename__ = "duplicate_scans"
    __table_args__ = (Index("ix_duplicate_scans_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(20))  # schedule, dashboard, cli
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, finished, failed
    findings: Mapped[str | None] = mapped_column(Text)  # JSON: groups by kind, stock drift


class DuplicateGroup(db.Model):
    """Orders (or lines) reported together under one kind; found again by later scans through its key."""

    __tablename__ = "duplicate_groups"
    __table_args__ = (
        UniqueConstraint("kind", "group_key", name="uq_duplicate_groups_kind_key"),
        Index("ix_duplicate_groups_status_kind", "status", "kind", "id"),
        Index("ix_duplicate_groups_status_id", "status", "id"),
        # The prune keeps every scan a group still points at (dashboard/domain/retention.py).
        Index("ix_duplicate_groups_last_seen_scan_id", "last_seen_scan_id"),
        # The review list of a person limited to stores (reports/duplicates.duplicate_groups).
        Index("ix_duplicate_groups_store_status", "store_id", "status", "id"),
        CheckConstraint(sql_in("status", GroupStatus), name="status"),
        CheckConstraint(sql_in("confidence", Confidence), name="confidence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    group_key: Mapped[str] = mapped_column(String(200))
    confidence: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_seen_scan_id: Mapped[int | None] = mapped_column(ForeignKey("duplicate_scans.id"))
    order_count: Mapped[int] = mapped_column(default=0)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dismissed_reason: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(254))
    # The one store this concerns; NULL when it concerns several or none (then only people not limited to
    # stores see it: dashboard/domain/scope.py).
    store_id: Mapped[int | None]


class DuplicateGroupMember(db.Model):
    """An order of a group; for line and movement kinds, also the line concerned."""

    __tablename__ = "duplicate_group_members"
    __table_args__ = (
        UniqueConstraint("group_id", "order_id", "order_line_id", name="uq_duplicate_group_members_entry"),
        # NULLs never conflict: an order-level member (no line) is kept once by this one.
        Index(
            "uq_duplicate_group_members_order",
            "group_id",
            "order_id",
            unique=True,
            sqlite_where=text("order_line_id IS NULL"),
            postgresql_where=text("order_line_id IS NULL"),
        ),
        Index("ix_duplicate_group_members_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("duplicate_groups.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"))
