"""The HTML side for people: sign-in, the screens, and the device and user administration."""
from __future__ import annotations

import os

from flask import Blueprint

bp = Blueprint("admin", __name__)


@bp.record_once
def _configure(state) -> None:
    """Dashboard settings with their defaults (a till is 'silent' after TILL_STALE_MINUTES without a sync)."""
    config = state.app.config
    config.setdefault("TILL_STALE_MINUTES", int(os.environ.get("TILL_STALE_MINUTES", "60")))
    config.setdefault("LOGIN_MAX_FAILURES", int(os.environ.get("LOGIN_MAX_FAILURES", "5")))
    config.setdefault("LOGIN_FAILURE_WINDOW_SECONDS", int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", "900")))


from .i18n import register_template_helpers  # noqa: E402

register_template_helpers(bp)

from . import (auth, devices, duplicates, errors, fix_plans, fixes, jobs, orders, profile,  # noqa: E402,F401
               skipped, sync_logs, users, views)  # routes register on bp
