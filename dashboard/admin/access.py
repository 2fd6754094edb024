"""Who may see what: roles ranked admin > manager > viewer, checked on every view."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, g
from flask_login import current_user

from ..domain.scope import StoreScope, scope_of
from ..extensions import login_manager
from ..vocabulary import ROLE_RANK, Role


def has_role(role: str) -> bool:
    """Whether the signed-in person holds `role` or a higher one."""
    return bool(current_user.is_authenticated) and ROLE_RANK.get(current_user.role, 0) >= ROLE_RANK[Role(role)]


def role_required(role: str) -> Callable:
    """Let a view run only for people signed in with `role` or above: others are sent to sign in, or get 403."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not has_role(role):
                abort(403)
            return view(*args, **kwargs)

        guarded.required_role = role  # type: ignore[attr-defined]  # read by tests/admin/test_roles.py
        return guarded

    return decorator


def public(view: Callable) -> Callable:
    """Mark a view as open to everyone (sign-in, language choice, health check), on purpose."""
    view.public = True  # type: ignore[attr-defined]
    return view


def current_scope() -> StoreScope:
    """The stores the signed-in person may see and change (every store for admins and people not limited
    to stores), read once per request. Every view passes it to the reports and actions it calls."""
    if "store_scope" not in g:
        g.store_scope = scope_of(current_user)
    return g.store_scope
