"""The duplicate review: the queue of groups, a group's orders side by side, dismissing, scans."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, jsonify, redirect, render_template, url_for
from flask_babel import format_timedelta, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from ..domain.duplicates import DuplicateError, dismiss_group, dismiss_groups, open_group_counts, undo_dismissal
from ..domain.fix_plans import open_certain_selection
from ..domain.reports import duplicates as review
from ..jobs.duplicates import enqueue_scan
from ..models.duplicates import KINDS
from . import background, bp
from .access import current_scope, role_required
from .fix_plans import request_preview
from .forms import BulkGroupsForm, DismissForm, PreviewForm
from .i18n import isolated_detail
from .params import int_arg, str_arg


@bp.app_template_filter("time_apart")
def time_apart(gap: timedelta | None) -> str:
    """How far apart a group's sales are, in the reader's words ("same instant" under a second)."""
    if gap is None:
        return ""
    if gap < timedelta(seconds=1):
        return _("same instant")
    return format_timedelta(gap, threshold=2, add_direction=False)


def _filters() -> dict:
    """?kind=, ?status= (open unless asked otherwise; 'all' for every status) and ?confidence=."""
    kind, status, confidence = str_arg("kind", 40), str_arg("status", 20) or "open", str_arg("confidence", 20)
    return {
        "kind": kind if kind in KINDS else None,
        "status": status if status in review.GROUP_STATUSES else None,
        "confidence": confidence if confidence in review.CONFIDENCES else None,
    }


@bp.get("/duplicates")
@role_required("viewer")
def duplicates():
    """Open groups counted by kind; the groups, filtered, newest first; the last scan and the scan button."""
    filters = _filters()
    scope = current_scope()
    page = review.duplicate_groups(**filters, before=int_arg("before"), after=int_arg("after"), scope=scope)
    scan_job = background.status(background.SCAN_JOB_ID)
    return render_template(
        "admin/duplicates.html",
        page=page,
        filters=filters,
        args={**filters, "status": filters["status"] or "all"},
        counts=open_group_counts(scope),
        kinds=KINDS,
        statuses=review.GROUP_STATUSES,
        confidences=review.CONFIDENCES,
        last_scan=next(iter(review.scans(per_page=1, scope=scope).items), None),
        scan_job=scan_job,
        scanning=background.is_active(scan_job),
        certain_open=review.open_certain_count(scope),
        bulk_form=BulkGroupsForm(formdata=None),
    )


def group_page(group_id: int, dismiss_form: DismissForm, preview_form: PreviewForm, status: int = 200):
    found = review.group_review(group_id, current_scope())
    if found is None:
        abort(404)
    return render_template(
        "admin/duplicate_group.html", review=found, dismiss_form=dismiss_form, preview_form=preview_form
    ), status


@bp.get("/duplicates/<int:group_id>")
@role_required("viewer")
def duplicate_group(group_id: int):
    """A group's orders side by side, what differs highlighted; keep one and preview, or dismiss."""
    return group_page(group_id, DismissForm(), PreviewForm())


@bp.post("/duplicates/<int:group_id>/dismiss")
@role_required("manager")
def dismiss_duplicate_group(group_id: int):
    """Mark the group 'not a duplicate', with the manager's reason."""
    form = DismissForm()
    if not form.validate_on_submit():
        return group_page(group_id, form, PreviewForm(formdata=None), 400)
    try:
        dismiss_group(group_id, form.reason.data, actor=current_user.email, scope=current_scope())
    except DuplicateError as exc:
        flash(_("The group was not dismissed: %(reason)s", reason=isolated_detail(str(exc))), "error")
    else:
        flash(_("Group #%(id)s is dismissed as not a duplicate.", id=group_id), "info")
    return redirect(url_for("admin.duplicate_group", group_id=group_id))


@bp.post("/duplicates/<int:group_id>/preview")
@role_required("manager")
def preview_group_fix(group_id: int):
    """Ask for a fix plan for this group, keeping the order chosen, and go and watch it being worked out."""
    found = review.group_review(group_id, current_scope())
    if found is None:
        abort(404)
    form = PreviewForm()
    form.keep.choices = (
        [(order.id, f"#{order.id}") for order in found.orders if order.keepable] if found.choose_keep else []
    )
    if not form.validate_on_submit():
        flash(_("Choose one of the group's orders to keep."), "error")
        return group_page(group_id, DismissForm(formdata=None), form, 400)
    keep = form.keep.data if found.choose_keep else None
    return request_preview([(group_id, keep)], back=url_for("admin.duplicate_group", group_id=group_id))


@bp.post("/duplicates/<int:group_id>/undo-dismissal")
@role_required("manager")
def undo_group_dismissal(group_id: int):
    """Put a dismissed group back in the queue (the dismissal stays in the audit log)."""
    try:
        undo_dismissal(group_id, actor=current_user.email, scope=current_scope())
    except DuplicateError as exc:
        flash(_("The dismissal was not undone: %(reason)s", reason=isolated_detail(str(exc))), "error")
    else:
        flash(_("Group #%(id)s is open again.", id=group_id), "info")
    return redirect(url_for("admin.duplicate_group", group_id=group_id))


@bp.post("/duplicates/selected")
@role_required("manager")
def act_on_selected_groups():
    """The groups ticked on the queue: dismiss them all with one reason, or preview one fix for them all."""
    form = BulkGroupsForm()
    back = url_for("admin.duplicates")
    if not form.validate_on_submit():
        flash(_("Tick at least one group, then choose what to do with them."), "error")
        return redirect(back)
    group_ids = list(dict.fromkeys(form.group.data))
    if form.action.data == "preview":
        return request_preview([(group_id, None) for group_id in group_ids], back=back)
    try:
        count = dismiss_groups(group_ids, form.reason.data or "", actor=current_user.email, scope=current_scope())
    except DuplicateError as exc:
        flash(_("No group was dismissed: %(reason)s", reason=isolated_detail(str(exc))), "error")
    else:
        flash(
            ngettext(
                "%(num)s group is dismissed as not a duplicate.",
                "%(num)s groups are dismissed as not duplicates.",
                count,
            ),
            "info",
        )
    return redirect(back)


@bp.post("/duplicates/preview-certain")
@role_required("manager")
def preview_certain_fixes():
    """One plan for every open group of a certain kind, each keeping its earliest order."""
    selection = open_certain_selection(scope=current_scope())
    if not selection:
        flash(_("No open group is of a certain kind: there is nothing to fix in bulk."), "info")
        return redirect(url_for("admin.duplicates"))
    return request_preview(selection, back=url_for("admin.duplicates"))


@bp.post("/duplicates/scan")
@role_required("manager")
def scan_now():
    """Queue a duplicate scan (one at a time: asking again while one runs changes nothing)."""
    if background.start(enqueue_scan, current_user.email, recorded=False):
        flash(_("A duplicate scan is queued. This page follows it and shows what it found."), "info")
    return redirect(url_for("admin.duplicates"))


@bp.get("/duplicates/scan/status")
@role_required("viewer")
def scan_status():
    """Where the scan job is, for the progress bar."""
    job = background.status(background.SCAN_JOB_ID)
    return jsonify(background.progress_json("running" if background.is_active(job) else job.status, job))


@bp.get("/duplicates/scans")
@role_required("viewer")
def duplicate_scans():
    """Every duplicate scan, newest first: who or what started it, and what it found."""
    return render_template(
        "admin/duplicate_scans.html",
        page=review.scans(before=int_arg("before"), after=int_arg("after"), scope=current_scope()),
    )
