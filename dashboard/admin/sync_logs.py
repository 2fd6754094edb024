"""Every /sync call, and what became of each sale of one call."""
from __future__ import annotations

from flask import abort, render_template

from ..domain import reports
from . import bp
from .access import role_required
from .params import int_arg, optional_day_range, str_arg


@bp.get("/sync-logs")
@role_required("viewer")
def sync_logs():
    """Sync calls, newest first, filtered by device, status and days (in the dashboard's zone)."""
    device_id = int_arg("device")
    status = str_arg("status") if str_arg("status") in reports.STATUS_FILTERS else None
    first, last, start, end = optional_day_range()
    page = reports.sync_logs(device_id=device_id, status=status, start=start, end=end,
                             before=int_arg("before"), after=int_arg("after"))
    period = {"from": first.isoformat() if first else None, "to": last.isoformat() if last else None}
    return render_template("admin/sync_logs.html", page=page, device_id=device_id, status=status,
                           first=first, last=last, period=period,
                           devices=reports.device_choices(), statuses=list(reports.STATUS_FILTERS))


@bp.get("/sync-logs/<int:sync_id>")
@role_required("viewer")
def sync_log(sync_id: int):
    """One sync call: its counts, the orders it created, and each sale it did not plainly create."""
    call = reports.sync_call(sync_id)
    if call is None:
        abort(404)
    return render_template("admin/sync_log.html", call=call)
