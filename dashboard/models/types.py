"""Column types and defaults shared by the models."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, Numeric
from sqlalchemy.types import TypeDecorator

# Money has as many decimal places as its store's currency, up to 3 (KWD, JOD, BHD); quantities
# allow 3 (goods sold by weight).
Money = Numeric(14, 3)
Quantity = Numeric(14, 3)


class UtcDateTimeType(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no offset, so every value is converted to UTC on the way in
    and marked UTC on the way out; PostgreSQL stores timestamptz.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


UtcDateTime = UtcDateTimeType


def utcnow() -> datetime:
    """Current time, timezone-aware (used as a callable default, evaluated per row)."""
    return datetime.now(timezone.utc)
