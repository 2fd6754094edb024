"""Maintenance the workers run on a schedule (the daily prune), once a day whichever host starts it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UtcDateTime, utcnow


class MaintenanceRun(db.Model):
    """One run of a task on one day; the unique key lets only the first worker to ask run it."""

    __tablename__ = "maintenance_runs"
    __table_args__ = (UniqueConstraint("task", "day", name="uq_maintenance_runs_task_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(40))
    day: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    summary: Mapped[str | None] = mapped_column(Text)  # JSON: rows deleted per table
