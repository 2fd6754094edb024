"""Sync calls refused as a whole, counted per minute, source and error code (never a row per call)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UtcDateTime


class RefusedCalls(db.Model):
    """How many sync calls one source had refused with one error code in one minute.

    A refused call must cost the server almost nothing (a flood of them is the
    attack), so it is counted in Redis and added here later in one upsert per
    (minute, source, code); see domain/refusals.py. `source` is "device:<id>"
    when the token named a till, else "address:<ip>" for anonymous callers.
    """

    __tablename__ = "refused_calls"
    __table_args__ = (
        # The upsert's conflict target; also serves the overview's "since today" sums (a range on minute).
        UniqueConstraint("minute", "source", "error_code", name="uq_refused_calls_minute_source_code"),
        # The refused-calls page filtered to one till, newest first.
        Index("ix_refused_calls_device_minute", "device_id", "minute"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    minute: Mapped[datetime] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(60))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    address: Mapped[str | None] = mapped_column(String(45))
    http_status: Mapped[int]
    error_code: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(default=0)
