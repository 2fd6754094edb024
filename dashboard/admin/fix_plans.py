"""Fix plans: the preview being worked out, its actions and totals, the CSV, approval and applying."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain.fix_plans import PlanError, plan_csv
from ..domain.fixes import StalePlan, approve_plan, discard_plan, request_plan
from ..domain.reports import duplicates as review
from ..jobs.duplicates import enqueue_apply, enqueue_preview
from . import background, bp
from .access import current_scope, role_required
from .csv_cells import csv_download, safe_csv
from .forms import ApproveForm
from .i18n import currency, isolated_detail
from .params import int_arg

# A plan in one of these states has a job working on it.
WORKING = {"computing": background.preview_job_id, "applying": background.apply_job_id}


def request_preview(selection: list[tuple[int, int | None]], back: str):
    """Record a plan for these (group, order to keep) pairs, queue its preview, and show its page."""
    try:
        plan_id = request_plan(selection, actor=current_user.email, scope=current_scope())
    except PlanError as exc:
        flash(_("No fix was previewed: %(reason)s", reason=isolated_detail(str(exc))), "error")
        return redirect(back)
    background.start(enqueue_preview, plan_id)
    return redirect(url_for("admin.fix_plan", plan_id=plan_id))


def _job(plan_id: int, plan_status: str | None):
    job_id = WORKING.get(plan_status)
    return background.status(job_id(plan_id)) if job_id else None


@bp.get("/fix-plans")
@role_required("viewer")
def fix_plans():
    """Every fix plan, newest first, with its status: where to find a preview again."""
    page = review.plans(before=int_arg("before"), after=int_arg("after"), scope=current_scope())
    return render_template("admin/fix_plans.html", page=page)


@bp.get("/fix-plans/<int:plan_id>")
@role_required("viewer")
def fix_plan(plan_id: int):
    """A plan: its progress while a job works on it, then every action with totals, approval, the result."""
    view = review.plan_view(plan_id, current_scope())
    if view is None:
        abort(404)
    job = _job(plan_id, view.plan.status)
    return render_template(
        "admin/fix_plan.html",
        view=view,
        job=job,
        working=background.is_active(job),
        form=ApproveForm(plan_id=plan_id, plan_hash=view.plan.plan_hash),
    )


@bp.get("/fix-plans/<int:plan_id>/status")
@role_required("viewer")
def fix_plan_status(plan_id: int):
    """The plan's status and its job's progress, polled by the plan page's progress bar."""
    status = review.plan_status(plan_id, current_scope())
    if status is None:
        abort(404)
    job = _job(plan_id, status)
    if job is None:
        return jsonify({"status": status, "active": False, "progress": 1.0, "label": _("Done"), "job": None})
    return jsonify(background.progress_json(status, job))


@bp.get("/fix-plans/<int:plan_id>/plan.csv")
@role_required("viewer")
def fix_plan_csv(plan_id: int):
    """Every action of the plan, its totals and stock effect, as CSV (no cell a spreadsheet would run)."""
    document = review.plan_document(plan_id, current_scope())
    if document is None:
        abort(404)
    return csv_download([safe_csv(plan_csv(document, currency()))], f"fix-plan-{plan_id}.csv")


@bp.post("/fix-plans/<int:plan_id>/approve")
@role_required("manager")
def approve_fix_plan(plan_id: int):
    """Approve the plan as previewed (its hash comes with the form), then queue applying it."""
    form = ApproveForm()
    back = redirect(url_for("admin.fix_plan", plan_id=plan_id))
    if not form.validate_on_submit() or form.plan_id.data != str(plan_id):
        flash(_("The approval did not say which preview it approves. Reload the page and try again."), "error")
        return back
    try:
        approve_plan(plan_id, form.plan_hash.data, actor=current_user.email, scope=current_scope())
    except StalePlan:
        flash(
            _(
                "Not approved: this plan is no longer the one you previewed (the data changed). "
                "Nothing was changed; preview the fix again."
            ),
            "error",
        )
        return back
    except PlanError as exc:
        flash(_("Not approved: %(reason)s", reason=isolated_detail(str(exc))), "error")
        return back
    if background.start(enqueue_apply, plan_id, current_user.email):
        flash(_("Approved. The fix is being applied."), "info")
    return back


@bp.post("/fix-plans/<int:plan_id>/discard")
@role_required("manager")
def discard_fix_plan(plan_id: int):
    """Set aside a plan nobody approved; it stays listed, marked discarded, and can no longer be approved."""
    try:
        discard_plan(plan_id, actor=current_user.email, scope=current_scope())
    except PlanError as exc:
        flash(_("The plan was not discarded: %(reason)s", reason=isolated_detail(str(exc))), "error")
    else:
        flash(_("Plan #%(id)s is discarded. Nothing was changed in the books.", id=plan_id), "info")
    return redirect(url_for("admin.fix_plan", plan_id=plan_id))


@bp.post("/fix-plans/<int:plan_id>/run-again")
@role_required("manager")
def restart_fix_plan_job(plan_id: int):
    """Queue the plan's job again when it was lost or failed (the job is safe to run twice)."""
    status = review.plan_status(plan_id, current_scope())
    if status is None:
        abort(404)
    if status == "computing":
        background.start(enqueue_preview, plan_id)
    elif status == "applying":
        background.start(enqueue_apply, plan_id, current_user.email)
    else:
        flash(_("No job is needed for this plan any more."), "info")
    return redirect(url_for("admin.fix_plan", plan_id=plan_id))


@bp.post("/fix-plans/<int:plan_id>/preview-again")
@role_required("manager")
def preview_fix_again(plan_id: int):
    """A new plan for the same groups and choices, when this one failed or went stale."""
    view = review.plan_view(plan_id, current_scope())
    if view is None:
        abort(404)
    return request_preview(view.requested, back=url_for("admin.fix_plan", plan_id=plan_id))
