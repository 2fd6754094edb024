"""The audit log: who did what, when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UtcDateTime, utcnow


class AuditEntry(db.Model):
    """One audited action (preview, approve, apply, revert, dismiss, device and user changes, imports)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_target", "target_type", "target_id"),
        Index("ix_audit_log_store_at", "store_id", "at"),  # reports/people.audit_entries, limited to stores
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(254))  # a user's email, or "cli"/"scheduler"
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[int | None]
    details: Mapped[str | None] = mapped_column(Text)  # JSON
    # The one store this concerns; NULL when it concerns several or none (then only people not limited to
    # stores see it: dashboard/domain/scope.py).
    store_id: Mapped[int | None]
