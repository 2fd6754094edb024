"""Fix history: every fix applied or reverted, and reverting the latest fix of its groups."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain.fix_plans import PlanError
from ..domain.fixes import revert_fix
from ..domain.reports import duplicates as review
from . import bp
from .access import current_scope, role_required
from .i18n import isolated_detail
from .params import int_arg


@bp.get("/fixes")
@role_required("viewer")
def fixes():
    """Fixes and reverts, newest first: who, when, which groups, what they changed."""
    page = review.fixes(before=int_arg("before"), after=int_arg("after"), scope=current_scope())
    return render_template("admin/fixes.html", page=page)


@bp.get("/fixes/<int:fix_id>/revert")
@role_required("manager")
def confirm_revert(fix_id: int):
    """What reverting this fix would undo, and the button that does it."""
    fix = review.fix_row(fix_id, current_scope())
    if fix is None:
        abort(404)
    return render_template("admin/fix_revert.html", fix=fix)


@bp.post("/fixes/<int:fix_id>/revert")
@role_required("manager")
def revert(fix_id: int):
    """Undo a fix: its orders and lines completed again, its stock movements reversed, its groups open."""
    try:
        result = revert_fix(fix_id, actor=current_user.email, scope=current_scope())
    except PlanError as exc:
        flash(_("The fix was not reverted: %(reason)s", reason=isolated_detail(str(exc))), "error")
        return redirect(url_for("admin.fixes"))
    if result.already_done:
        flash(_("Fix #%(id)s was already reverted; nothing changed.", id=fix_id), "info")
    else:
        flash(
            _(
                "Fix #%(id)s is reverted: its orders and lines count again, stock is restored, and its groups "
                "are open for review.",
                id=fix_id,
            ),
            "info",
        )
    return redirect(url_for("admin.fixes"))
