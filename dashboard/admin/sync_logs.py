"""Every /sync call, and what became of each sale of one call."""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for

from ..domain import refusals, reports
from ..redis_conn import get_redis
from . import bp
from .access import current_scope, role_required
from .params import int_arg, optional_day_range, period_args, str_arg


@bp.get("/sync-logs")
@role_required("viewer")
def sync_logs():
    """Sync calls, newest first, filtered by device, status and days (in the dashboard's zone)."""
    device_id = int_arg("device")
    if str_arg("status") == "refused":  # the filter this page offered before refusals were counted apart
        return redirect(
            url_for("admin.refused_calls", device=device_id, **{"from": str_arg("from"), "to": str_arg("to")})
        )
    status = str_arg("status") if str_arg("status") in reports.STATUS_FILTERS else None
    first, last, start, end = optional_day_range()
    page = reports.sync_logs(
        device_id=device_id,
        status=status,
        start=start,
        end=end,
        before=int_arg("before"),
        after=int_arg("after"),
        scope=current_scope(),
    )
    period = period_args(first, last)
    return render_template(
        "admin/sync_logs.html",
        page=page,
        device_id=device_id,
        status=status,
        first=first,
        last=last,
        period=period,
        devices=reports.device_choices(current_scope()),
        statuses=list(reports.STATUS_FILTERS),
    )


@bp.get("/sync-logs/<int:sync_id>")
@role_required("viewer")
def sync_log(sync_id: int):
    """One sync call: its counts, the orders it created, and each sale it did not plainly create."""
    call = reports.sync_call(sync_id, current_scope())
    if call is None:
        abort(404)
    return render_template("admin/sync_log.html", call=call)


def flush_refused_calls() -> None:
    """Bring the refused calls counted in Redis into the database before a page shows them."""
    refusals.flush(get_redis())


@bp.get("/sync-logs/refused")
@role_required("viewer")
def refused_calls():
    """Calls refused as a whole (no or unknown token, revoked till, over a limit, unreadable body),
    counted per minute, till or address, and reason; newest first."""
    flush_refused_calls()
    device_id = int_arg("device")
    first, last, start, end = optional_day_range()
    page = reports.refused_calls(
        device_id=device_id,
        start=start,
        end=end,
        before=int_arg("before"),
        after=int_arg("after"),
        scope=current_scope(),
    )
    period = period_args(first, last)
    return render_template(
        "admin/refused_calls.html",
        page=page,
        device_id=device_id,
        first=first,
        last=last,
        period=period,
        devices=reports.device_choices(current_scope()),
    )
