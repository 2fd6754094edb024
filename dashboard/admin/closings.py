"""Daily closes: a grid of tills by business day, and one day's closes with every difference explained."""

from __future__ import annotations

from datetime import date, timedelta

from flask import abort, render_template

from ..domain import reports
from ..domain.reports.closings import MAX_DAYS
from ..vocabulary import ClosingStatus
from . import bp
from .access import current_scope, role_required
from .i18n import local_today
from .params import EARLIEST_DAY, LATEST_DAY, date_arg, int_arg

DEFAULT_DAYS = 7


@bp.get("/closings")
@role_required("viewer")
def closings():
    """Each till's close of each day (matched, differs, none received) with the money at stake; at most
    MAX_DAYS days and one page of tills at a time."""
    last = date_arg("to") or local_today()
    first = date_arg("from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        first, last = last, first
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    grid = reports.closing_grid(first, last, after=int_arg("after"), scope=current_scope())
    period = {"from": first.isoformat(), "to": last.isoformat()}
    span = (last - first).days + 1
    earlier = (
        {"from": (first - timedelta(days=span)).isoformat(), "to": (first - timedelta(days=1)).isoformat()}
        if first - timedelta(days=span) >= EARLIEST_DAY
        else None
    )
    later = (
        {"from": (last + timedelta(days=1)).isoformat(), "to": (last + timedelta(days=span)).isoformat()}
        if last < min(local_today(), LATEST_DAY - timedelta(days=span))
        else None
    )
    return render_template(
        "admin/closings.html",
        grid=grid,
        first=first,
        last=last,
        period=period,
        earlier=earlier,
        later=later,
        statuses=list(ClosingStatus),
        max_days=MAX_DAYS,
    )


@bp.get("/closings/<day>")
@role_required("viewer")
def closing_day(day: str):
    """One business day: each till's close against the server's books, each difference with its sales."""
    try:
        chosen = date.fromisoformat(day)
    except ValueError:
        abort(404)
    if not EARLIEST_DAY <= chosen <= LATEST_DAY:
        abort(404)
    device_id = int_arg("device")
    tills, more = reports.closing_day(chosen, device_id=device_id, after=int_arg("after"), scope=current_scope())
    if device_id is not None and not tills:
        abort(404)
    return render_template("admin/closing_day.html", day=chosen, tills=tills, more=more, device_id=device_id)
