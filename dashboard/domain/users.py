"""Dashboard users and their roles."""
from __future__ import annotations

import re

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from ..database import run_write
from ..extensions import db
from ..models import User
from ..models.users import ROLES
from . import audit

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10


class UserError(ValueError):
    """A user that cannot be created as asked; the message says why."""


def create_user(email: str, password: str, role: str, *, actor: str = "cli") -> int:
    """Create a dashboard user (audited as done by actor); the password is stored as a salted scrypt hash."""
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
