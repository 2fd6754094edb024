"""The server's own gap-free invoice number series."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class InvoiceSeries(db.Model):
    """One counter row per series; its row lock serialises numbering, so numbers have no gaps."""

    __tablename__ = "invoice_series"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_value: Mapped[int] = mapped_column(default=1)
