"""Tills (devices) and their credentials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UtcDateTime, utcnow


class Device(db.Model):
    """A till. Its bearer token is stored only as a SHA-256 hash."""

    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_store_id", "store_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # The shop the till sells in: its sales and stock movements are that store's.
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    # Null for devices known only from imported data: they cannot sign in.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
