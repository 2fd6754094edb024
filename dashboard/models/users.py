"""People who sign in to the dashboard."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..vocabulary import Role, sql_in
from .types import UtcDateTime, utcnow

ROLES = tuple(Role)


class User(UserMixin, db.Model):
    """A dashboard user with one role; the password is stored only as a hash."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(sql_in("role", Role), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    # "en" or "ar"; None follows the browser's language.
    locale: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(default=True)
    # Sessions are signed cookies kept by the browser, so the server cannot delete one. Each
    # cookie carries the generation it was made in (see get_id); sign-out, a password or role
    # change and deactivation add one, and every cookie made before (copies too) stops working.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the user and the generation it belongs to."""
        return f"{self.id}:{self.session_generation}"


class UserStore(db.Model):
    """A store a person is limited to. A person with no rows here is not limited: they see every store
    (admins always do); one with rows sees and changes only those stores' data."""

    __tablename__ = "user_stores"
    __table_args__ = (Index("ix_user_stores_store_id", "store_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
