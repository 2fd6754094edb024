"""Imports of sales from older systems."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UtcDateTime, utcnow


class LegacyImport(db.Model):
    """One run of `flask legacy import`: the file, what was imported and what was skipped."""

    __tablename__ = "legacy_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(500))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    lines_read: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    already_there: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    errors: Mapped[str | None] = mapped_column(Text)  # JSON list of "line N: why"
    actor: Mapped[str] = mapped_column(String(254), default="cli")
