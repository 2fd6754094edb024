"""The overview, the audit log, and the health check."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import current_app, jsonify, render_template

from ..domain import reports
from ..domain.reports.duplicates import open_certain_count
from ..domain.scope import StoreScope, stores_in
from . import bp
from .access import current_scope, public, role_required
from .charts import bar_chart
from .i18n import start_of_today
from .params import chosen_store, int_arg, str_arg
from .sync_logs import flush_refused_calls

# The chart's two spans: 24 hourly bars, or 14 daily ones.
SPANS = {"24h": ("hour", 24), "14d": ("day", 14)}


@bp.get("/")
@role_required("viewer")
def overview():
    """Today's syncing, what needs a look, and sync activity over time."""
    now = datetime.now(timezone.utc)
    span = str_arg("span") if str_arg("span") in SPANS else "24h"
    unit, buckets = SPANS[span]
    stale_minutes = current_app.config["TILL_STALE_MINUTES"]
    # A chain's stores the person may see, and ?store= narrowing the page to one of them.
    stores = stores_in(current_scope())
    store = chosen_store(stores)
    scope = StoreScope(frozenset({store.id})) if store else current_scope()
    flush_refused_calls()
    data = reports.overview(
        since=start_of_today(),
        stale_before=now - timedelta(minutes=stale_minutes),
        activity_unit=unit,
        activity_buckets=buckets,
        now=now,
        scope=scope,
    )
    return render_template(
        "admin/overview.html",
        data=data,
        chart=bar_chart(data.activity),
        span=span,
        spans=SPANS,
        stale_minutes=stale_minutes,
        rejected=reports.rejected_money(scope),
        certain_open=open_certain_count(scope),
        stores=stores if len(stores) > 1 else [],
        store=store,
    )


@bp.get("/audit")
@role_required("manager")
def audit_log():
    """Who did what, newest first."""
    page = reports.audit_entries(before=int_arg("before"), after=int_arg("after"), scope=current_scope())
    return render_template("admin/audit.html", page=page)


@bp.get("/healthz")
@public
def healthz():
    """Liveness: 200 while this process answers requests. It asks nothing of the database or Redis, so a
    supervisor restarts a stuck process, not every process during a database outage; /readyz says
    whether the service can take traffic."""
    return jsonify(status="ok")
