"""Dashboard users managed by an admin, and each person's language; changes to access are audited."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from ..database import run_write
from ..extensions import db
from ..models import User
from ..models.users import ROLES
from . import audit, users
from .users import UserError, bump_generation

LOCALES = ("en", "ar")


def create_user(email: str, password: str, role: str, *, actor: str, stores: Sequence[str] = ()) -> int:
    """Create a user from the dashboard: the same rules as the command line, audited as done by actor."""
    return users.create_user(email, password, role, actor=actor, stores=stores)


def set_stores(email_or_id: str | int, codes: Sequence[str], *, actor: str, actor_id: int | None = None) -> str:
    """Limit a user to these stores (none: every store); returns their email. It applies from their next click
    (the scope is read on every request), and is audited. Nobody changes their own stores."""
    if actor_id is not None and email_or_id == actor_id:
        raise UserError("you cannot change your own stores")

    def unit() -> str:
        if isinstance(email_or_id, int):
            user = db.session.get(User, email_or_id)
        else:
            user = db.session.scalar(select(User).where(User.email == email_or_id.strip().lower()))
        if user is None:
            raise UserError(f"no user {str(email_or_id)[:254]}")
        old = users.store_codes_of([user.id]).get(user.id, [])
        new = users.replace_stores(user, codes)
        if new != old:
            audit.record(actor, "user.stores", "user", user.id, email=user.email, old_stores=old, new_stores=new)
        return user.email

    return run_write(unit)


def _keep_an_admin(user: User, refusal: str) -> None:
    """Refuse to take the admin role from the last active admin, so the dashboard is never locked."""
    if user.active and user.role == "admin":
        admins = db.session.scalar(select(func.count()).where(User.role == "admin", User.active.is_(True)))
        if admins <= 1:
            raise UserError(refusal)


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
        _keep_an_admin(user, "the last active admin cannot be deactivated")
        if user.active:
            user.active = False
            bump_generation(user)
            audit.record(actor, "user.deactivate", "user", user.id, email=user.email)
        return user.email

    return run_write(unit)


def set_role(user_id: int, role: str, *, actor_id: int, actor: str) -> str:
    """Give a user another role; their sessions end, so the new role applies from their next sign-in.

    Returns their email. Nobody changes their own role, and the last active admin stays one.
    """
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if user_id == actor_id:
        raise UserError("you cannot change your own role")

    def unit() -> str:
        user = db.session.get(User, user_id)
        if user is None:
            raise UserError(f"no user with id {user_id}")
        if user.role == role:
            return user.email
        _keep_an_admin(user, "the last active admin must stay an admin")
        audit.record(actor, "user.role", "user", user.id, email=user.email, old_role=user.role, new_role=role)
        user.role = role
        bump_generation(user)
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
