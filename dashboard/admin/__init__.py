"""The HTML side for people: sign-in, the screens, and the device and user administration."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__)

from .i18n import register_template_helpers  # noqa: E402
from .labels import register_label_filters  # noqa: E402

register_template_helpers(bp)
register_label_filters(bp)

from . import (  # noqa: E402,F401
    auth,
    closings,
    devices,
    duplicates,
    errors,
    fix_plans,
    fixes,
    jobs,
    orders,
    profile,
    skipped,  # routes register on bp
    sync_logs,
    users,
    views,
)
