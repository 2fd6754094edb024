"""Dashboard users and their roles."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..database import run_write
from ..extensions import db
from ..models import Store, User, UserStore
from ..models.users import ROLES
from . import audit, passwords

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UserError(ValueError):
    """A user that cannot be created as asked; the message says why."""


class WeakPassword(UserError):
    """A password the rule in passwords.py refuses; `problem` says which part, for a translated message."""

    def __init__(self, problem: passwords.PasswordProblem):
        super().__init__(passwords.ENGLISH[problem])
        self.problem = problem


class WrongPassword(UserError):
    """The current password given to change it is not the right one."""


def check_password_rule(password: str, email: str) -> None:
    """Raise WeakPassword when the password is refused for this email."""
    problem = passwords.problem(password, email)
    if problem is not None:
        raise WeakPassword(problem)


def create_user(email: str, password: str, role: str, *, actor: str = "cli", stores: Sequence[str] = ()) -> int:
    """Create a dashboard user (audited as done by actor); the password is stored as a salted scrypt hash.
    `stores`: codes of the stores they are limited to (none: every store)."""
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise UserError(f"'{email}' is not an email address")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    check_password_rule(password, email)
    password_hash = generate_password_hash(password)

    def unit() -> int:
        if db.session.scalar(select(User.id).where(User.email == email)) is not None:
            raise UserError(f"a user with email {email} exists already")
        user = User(email=email, password_hash=password_hash, role=role)
        db.session.add(user)
        db.session.flush()
        codes = replace_stores(user, stores)
        # Only a limited person's entry names stores: one seeing every store reads as it always did.
        limited: dict[str, object] = {"stores": codes} if codes else {}
        audit.record(actor, "user.create", "user", user.id, store_id=None, email=email, role=role, **limited)
        return user.id

    return run_write(unit)


def replace_stores(user: User, codes: Sequence[str]) -> list[str]:
    """In the caller's unit of work: limit the user to these stores (none: every store); returns the codes,
    sorted. An unknown code refuses the whole change, and so does limiting an admin."""
    if user.role == "admin" and codes:
        raise UserError("an admin sees every store; give the manager or viewer role to limit someone to stores")
    wanted = sorted({code.strip().upper() for code in codes if code.strip()})
    found = dict(db.session.execute(select(Store.code, Store.id).where(Store.code.in_(wanted))).all())
    unknown = [code for code in wanted if code not in found]
    if unknown:
        raise UserError(f"no store with code {', '.join(unknown)[:100]}")
    db.session.execute(delete(UserStore).where(UserStore.user_id == user.id))
    db.session.add_all(UserStore(user_id=user.id, store_id=found[code]) for code in wanted)
    return wanted


def store_codes_of(user_ids: Sequence[int]) -> dict[int, list[str]]:
    """The codes of the stores each of these users is limited to (absent: every store)."""
    codes: dict[int, list[str]] = {}
    for user_id, code in db.session.execute(
        select(UserStore.user_id, Store.code)
        .join(Store, Store.id == UserStore.store_id)
        .where(UserStore.user_id.in_(list(user_ids)))
        .order_by(UserStore.user_id, Store.code)
    ):
        codes.setdefault(user_id, []).append(code)
    return codes


def store_codes_of_email(email: str) -> list[str]:
    """The codes of the stores the user with this email is limited to (empty: every store)."""
    user_id = db.session.scalar(select(User.id).where(User.email == email.strip().lower()))
    return store_codes_of([user_id]).get(user_id, []) if user_id is not None else []


def end_sessions(user_id: int) -> None:
    """End every signed-in session of this user, on every browser (see User.session_generation)."""

    def unit() -> None:
        user = db.session.get(User, user_id)
        if user is not None:
            bump_generation(user)

    run_write(unit)


def bump_generation(user: User) -> None:
    """In the caller's unit of work: every session cookie of this user stops working."""
    user.session_generation = (user.session_generation or 0) + 1


def change_password(user_id: int, current: str, new: str, *, actor: str) -> None:
    """A person changes their own password; every session they had ends (audited, never the password)."""

    def unit() -> None:
        user = db.session.get(User, user_id)
        if user is None or not user.active:
            raise UserError(f"no active user with id {user_id}")
        if not check_password_hash(user.password_hash, current):
            raise WrongPassword("the current password is wrong")
        check_password_rule(new, user.email)
        user.password_hash = generate_password_hash(new)
        bump_generation(user)
        audit.record(actor, "user.password", "user", user.id, email=user.email)

    run_write(unit)
