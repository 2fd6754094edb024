"""Fix plans (previews) and the fixes applied from them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..vocabulary import FixKind, PlanStatus, sql_in
from .types import UtcDateTime, utcnow


class FixPlan(db.Model):
    """A previewed set of actions, stored with the hash an approval must quote."""

    __tablename__ = "fix_plans"
    __table_args__ = (
        Index("ix_fix_plans_created_at", "created_at"),
        Index("ix_fix_plans_store_created", "store_id", "created_at"),  # reports/plans.plans, limited to stores
        CheckConstraint(sql_in("status", PlanStatus), name="status"),
        # One preview computing per selection: asking again while it runs finds this plan instead of
        # queuing another job. The database decides, so two requests at once cannot both insert.
        Index(
            "uq_fix_plans_computing_selection",
            "selection_key",
            unique=True,
            sqlite_where=text("status = 'computing'"),
            postgresql_where=text("status = 'computing'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(254))
    # JSON: [{"group_id": ..., "keep_order_id": ...}, ...] as asked for.
    request: Mapped[str] = mapped_column(Text)
    # SHA-256 of the request, groups sorted: the same groups and choices give the same key.
    selection_key: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="computing")
    plan: Mapped[str | None] = mapped_column(Text)  # JSON actions and totals
    plan_hash: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(String(254))
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The one store this concerns; NULL when it concerns several or none (then only people not limited to
    # stores see it: dashboard/domain/scope.py).
    store_id: Mapped[int | None]


class Fix(db.Model):
    """A plan applied to the books (kind 'apply'), or the revert of one (kind 'revert')."""

    __tablename__ = "fixes"
    __table_args__ = (
        CheckConstraint(sql_in("kind", FixKind), name="kind"),
        Index("ix_fixes_store_id", "store_id", "id"),  # reports/duplicates.fixes, limited to stores
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # Unique: a plan is applied at most once, a fix reverted at most once.
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("fix_plans.id"), unique=True)
    reverts_fix_id: Mapped[int | None] = mapped_column(ForeignKey("fixes.id"), unique=True)
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    applied_by: Mapped[str] = mapped_column(String(254))
    summary: Mapped[str] = mapped_column(Text)  # JSON totals
    # The one store this concerns; NULL when it concerns several or none (then only people not limited to
    # stores see it: dashboard/domain/scope.py).
    store_id: Mapped[int | None]


class FixGroup(db.Model):
    """Which duplicate groups a fix resolved."""

    __tablename__ = "fix_groups"

    fix_id: Mapped[int] = mapped_column(ForeignKey("fixes.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("duplicate_groups.id"), primary_key=True, index=True)
