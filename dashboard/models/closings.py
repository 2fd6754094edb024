"""Tills' daily closes (Z-reports): what each till counted for a business day, as it sent it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..vocabulary import ClosingStatus, sql_in
from .types import Money, UtcDateTime, utcnow

CURRENT = "replaced_at IS NULL"


class Closing(db.Model):
    """One close a till sent for one business day. A later, different close for the same till and day
    replaces it (replaced_at set) and both stay: the history is the till's own record of its days."""

    __tablename__ = "closings"
    __table_args__ = (
        # Re-sending the same close is a replay: the database, not a check, keeps it to one row.
        Index("uq_closings_content", "device_id", "business_day", "fingerprint", unique=True),
        # At most one current close per till and day.
        Index(
            "uq_closings_current",
            "device_id",
            "business_day",
            unique=True,
            sqlite_where=text(CURRENT),
            postgresql_where=text(CURRENT),
        ),
        # The grid: the current closes of a range of days.
        Index(
            "ix_closings_current_day",
            "business_day",
            "device_id",
            sqlite_where=text(CURRENT),
            postgresql_where=text(CURRENT),
        ),
        CheckConstraint(
            sql_in("status_at_receipt", (ClosingStatus.MATCHED, ClosingStatus.DIFFERS)), name="status_at_receipt"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    business_day: Mapped[date] = mapped_column(Date)
    # The zone the server read the day in when the close arrived (the store's zone, once there are stores).
    time_zone: Mapped[str] = mapped_column(String(64))
    sales_count: Mapped[int]
    sales_total: Mapped[Decimal] = mapped_column(Money)
    first_receipt: Mapped[str | None] = mapped_column(String(64))
    last_receipt: Mapped[str | None] = mapped_column(String(64))
    # The day's offline_ids as a JSON list (canonical, sorted), when the till sent them.
    offline_ids: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the close's canonical content: tells a replay from a new close.
    fingerprint: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    replaced_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("closings.id"))
    # What the till was answered; the pages recompute the comparison, since sales keep arriving.
    status_at_receipt: Mapped[str] = mapped_column(String(16))
    server_count_at_receipt: Mapped[int]
    server_total_at_receipt: Mapped[Decimal] = mapped_column(Money)
