"""Dashboard users managed by an admin, and each person's language; changes to access are audited."""
from __future__ import annotations

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from ..database import run_write
from ..extensions import db
from ..models import User
from ..models.users import ROLES
from . import audit
from .users import _EMAIL, MIN_PASSWORD_LENGTH, UserError  # one rule for the CLI and the dashboard

LOCALES = ("en", "ar")


def create_user(email: str, password: str, role: str, *, actor: str) -> int:
    """Create a user as create_user() does, with the audit entry in the same transaction."""
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise UserError(f"'{email}' is not an email address")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    password_hash = generate_password_hash(password)

    def unit() -> int:
        if db.session.scalar(select(User.id).where(User.email == email)) is not None:
            raise UserError(f"a user with email {email} exists already")
        user = User(email=email, password_hash=password_hash, role=role)
        db.session.add(user)
        db.session.flush()
        audit.record(actor, "user.create", "user", user.id, email=email, role=role)
        return user.id

    return run_write(unit)


def deactivate_user(user_id: int, *, actor_id: int, actor: str) -> str:
    """Stop a user from signing in (their sessions end on the next request); returns their email.

    Nobody deactivates themselves, and the last active admin stays, so the dashboard is never locked.
    """
    if user_id == actor_id:
        raise UserError("you cannot deactivate your own account")

    def unit() -> str:
        user = db.session.get(User, user_id)
        if user is None:
            raise UserError(f"no user with id {user_id}")
        if user.active and user.role == "admin":
            admins = db.session.scalar(select(func.count()).where(User.role == "admin", User.active.is_(True)))
            if admins <= 1:
                raise UserError("the last active admin cannot be deactivated")
        if user.active:
            user.active = False
            audit.record(actor, "user.deactivate", "user", user.id, email=user.email)
        return user.email

    return run_write(unit)


def set_locale(user_id: int, locale: str | None) -> None:
    """Save a user's language; None follows the browser's."""
    if locale is not None and locale not in LOCALES:
        raise UserError(f"language must be one of {', '.join(LOCALES)}")

    def unit() -> None:
        user = db.session.get(User, user_id)
        if user is None:
            raise UserError(f"no user with id {user_id}")
        user.locale = locale

    run_write(unit)
