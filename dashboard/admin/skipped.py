"""Sales a sync did not store (replays, conflicts, rejections): counts, the sales behind them, CSV,
and what a manager does about one: re-process it, or mark it handled."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain import reports
from ..domain.ingestion import IngestRules
from ..domain.scope import stores_in
from ..domain.skipped_sales import SkippedSaleError, mark_handled, reprocess_attempt
from . import bp
from .access import current_scope, role_required
from .csv_cells import csv_download, safe_cell
from .forms import HandleSaleForm, ReprocessForm
from .i18n import currency, local_days, local_today, zone_name
from .labels import label
from .params import EARLIEST_DAY, day_range, int_arg, page_arg, period_args, str_arg

DEFAULT_DAYS = 7
# An export covers at most this many days (the latest of the period asked for): a download is one
# request a worker serves to the end, so it must be bounded however many sales a till sent.
EXPORT_MAX_DAYS = 366
# A chain whose stores use one currency names it in the total's column, as a single shop's export
# always did; the store and currency columns (last, so existing readers keep their columns) say it per row.
CSV_COLUMNS = (
    "received_at",
    "device",
    "sync_id",
    "position",
    "offline_id",
    "status",
    "reason",
    "message",
    "order_id",
    "receipt_number",
    "cashier",
    "total{currency}",
    "sold_at",
    "resolution",
    "resolved_by",
    "resolution_note",
    "payload",
    "store",
    "currency",
)


def _filters() -> dict:
    """?state= (what needs action unless asked otherwise), ?reason=, ?device=, ?from=, ?to=.

    What needs action is shown whatever its age unless a period is asked for: an
    old rejection is still money missing from the books. The other states default
    to the last DEFAULT_DAYS days.
    """
    state = str_arg("state", 20)
    state = state if state in reports.SKIPPED_STATES else "action"
    first, last, start, end = day_range(DEFAULT_DAYS)
    if state == "action" and not (request.args.get("from") or request.args.get("to")):
        first = last = start = end = None
    return {
        "state": state,
        "reason": str_arg("reason", 40),
        "device_id": int_arg("device"),
        "start": start,
        "end": end,
        "first": first,
        "last": last,
    }


def _query(filters: dict) -> dict:
    return {key: filters[key] for key in ("state", "reason", "device_id", "start", "end")} | {"scope": current_scope()}


def _args(filters: dict) -> dict:
    """The filters as query-string arguments, for links that keep them."""
    return {
        "state": filters["state"],
        "reason": filters["reason"],
        "device": filters["device_id"],
        **period_args(filters["first"], filters["last"]),
    }


@bp.get("/skipped")
@role_required("viewer")
def skipped():
    """Skipped sales counted by reason, device and day; each count links to its sales."""
    filters = _filters()
    counts = reports.skipped_counts(**_query(filters), zone=zone_name(), page=page_arg())
    return render_template(
        "admin/skipped.html",
        export_days=EXPORT_MAX_DAYS,
        counts=counts,
        filters=filters,
        args=_args(filters),
        states=reports.SKIPPED_STATES,
        reasons=reports.skipped_reasons(
            start=filters["start"], end=filters["end"], state=filters["state"], scope=current_scope()
        ),
        devices=reports.device_choices(current_scope()),
    )


@bp.get("/skipped/sales")
@role_required("viewer")
def skipped_sales():
    """The skipped sales matching the filters, with the payload each till sent."""
    filters = _filters()
    page = reports.skipped_sales(**_query(filters), before=int_arg("before"), after=int_arg("after"))
    return render_template(
        "admin/skipped_sales.html",
        export_days=EXPORT_MAX_DAYS,
        page=page,
        filters=filters,
        args=_args(filters),
        states=reports.SKIPPED_STATES,
        devices=reports.device_choices(current_scope()),
        reprocess_form=ReprocessForm(),
    )


def _export_period(filters: dict) -> dict:
    """The filters with their period cut to the EXPORT_MAX_DAYS days that end it; without a period
    (what needs action, whatever its age), the EXPORT_MAX_DAYS days up to today."""
    last = filters["last"] or local_today()
    first = max(filters["first"] or EARLIEST_DAY, last - timedelta(days=EXPORT_MAX_DAYS - 1))
    start, end = local_days(first, last)
    return {**filters, "first": first, "last": last, "start": start, "end": end}


def _csv_lines(filters: dict) -> Iterator[str]:
    zone = ZoneInfo(zone_name())  # times with the dashboard zone's offset, as the pages show them
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    currencies = {store.currency for store in stores_in(current_scope())}
    named = f" ({currencies.pop()})" if len(currencies) == 1 else ""
    writer.writerow([column.format(currency=named) for column in CSV_COLUMNS])
    for row in reports.iter_skipped_sales(**_query(filters)):
        writer.writerow(
            [
                safe_cell(value)
                for value in (
                    row.received_at.astimezone(zone).isoformat(),
                    row.device_name,
                    row.sync_id,
                    row.position,
                    row.offline_id,
                    row.status,
                    row.reason,
                    row.message,
                    row.order_id,
                    row.receipt_number,
                    row.cashier,
                    row.total,
                    row.sold_at.astimezone(zone).isoformat() if row.sold_at else None,
                    row.resolution,
                    row.resolved_by,
                    row.resolution_note,
                    row.payload,
                    row.store_code,
                    row.currency or currency(),
                )
            ]
        )
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@bp.get("/skipped/sales.csv")
@role_required("viewer")
def skipped_sales_csv():
    """The filtered skipped sales as CSV, streamed in chunks however many there are."""
    filters = _export_period(_filters())
    name = f"skipped-sales-{filters['state']}-{filters['first'].isoformat()}-{filters['last'].isoformat()}.csv"
    return csv_download(_csv_lines(filters), name)


def _sale_page(attempt_id: int, handle_form: HandleSaleForm, status: int = 200):
    sale = reports.skipped_sale(attempt_id, current_scope())
    if sale is None:
        abort(404)
    return render_template(
        "admin/skipped_sale.html", sale=sale, reprocess_form=ReprocessForm(), handle_form=handle_form
    ), status


@bp.get("/skipped/sales/<int:attempt_id>")
@role_required("viewer")
def skipped_sale(attempt_id: int):
    """One skipped sale: what the till sent, why it was not stored, and what was done about it."""
    return _sale_page(attempt_id, HandleSaleForm())


def _refusal(exc: SkippedSaleError) -> str:
    return {
        SkippedSaleError.NOT_FOUND: _("There is no such skipped sale."),
        SkippedSaleError.SETTLED: _("This sale was already dealt with; nothing more was done."),
        SkippedSaleError.NOT_REPROCESSABLE: _("Only a rejected sale can be re-processed."),
        SkippedSaleError.NOT_HANDLEABLE: _("Only a rejected or conflicting sale can be marked handled."),
        SkippedSaleError.NO_NOTE: _("Say what was done about this sale."),
    }[exc.code]


@bp.post("/skipped/sales/<int:attempt_id>/reprocess")
@role_required("manager")
def reprocess_skipped_sale(attempt_id: int):
    """Store a rejected sale from what the till sent, now that its cause is fixed; once, however often clicked."""
    if not ReprocessForm().validate_on_submit():
        abort(400)
    try:
        outcome = reprocess_attempt(
            attempt_id,
            actor=current_user.email,
            rules=IngestRules.from_config(current_app.config),
            scope=current_scope(),
        )
    except SkippedSaleError as exc:
        flash(_refusal(exc), "error")
    else:
        if outcome.stored:
            flash(_("The sale is stored as order #%(id)s.", id=outcome.order_id), "info")
        else:
            flash(
                _(
                    "The sale was refused again: %(reason)s. Fix the cause and re-process it, or mark it handled.",
                    reason=label(outcome.reason, "reason"),
                ),
                "error",
            )
    return redirect(url_for("admin.skipped_sale", attempt_id=attempt_id))


@bp.post("/skipped/sales/<int:attempt_id>/handle")
@role_required("manager")
def handle_skipped_sale(attempt_id: int):
    """Mark a rejected or conflicting sale handled, with a note saying what was done."""
    form = HandleSaleForm()
    if not form.validate_on_submit():
        return _sale_page(attempt_id, form, 400)
    try:
        mark_handled(attempt_id, form.note.data, actor=current_user.email, scope=current_scope())
    except SkippedSaleError as exc:
        flash(_refusal(exc), "error")
    else:
        flash(_("The sale is marked handled."), "info")
    return redirect(url_for("admin.skipped_sale", attempt_id=attempt_id))
