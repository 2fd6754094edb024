"""Sales a sync did not store (replays, conflicts, rejections): counts, the sales behind them, CSV."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from flask import render_template

from ..domain import reports
from . import bp
from .access import role_required
from .csv_cells import csv_download, safe_cell
from .i18n import zone_name
from .params import day_range, int_arg, page_arg, str_arg

DEFAULT_DAYS = 7
CSV_COLUMNS = ("received_at", "device", "sync_id", "position", "offline_id", "status", "reason", "message",
               "order_id", "payload")


def _filters() -> dict:
    first, last, start, end = day_range(DEFAULT_DAYS)
    return {"reason": str_arg("reason", 40), "device_id": int_arg("device"), "start": start, "end": end,
            "first": first, "last": last}


def _query(filters: dict) -> dict:
    return {key: filters[key] for key in ("reason", "device_id", "start", "end")}


@bp.get("/skipped")
@role_required("viewer")
def skipped():
    """Skipped sales counted by reason, device and day; each count links to its sales."""
    filters = _filters()
    counts = reports.skipped_counts(**_query(filters), zone=zone_name(), page=page_arg())
    return render_template("admin/skipped.html", counts=counts, filters=filters,
                           reasons=reports.skipped_reasons(start=filters["start"], end=filters["end"]),
                           devices=reports.device_choices())


@bp.get("/skipped/sales")
@role_required("viewer")
def skipped_sales():
    """The skipped sales matching the filters, with the payload each till sent."""
    filters = _filters()
    page = reports.skipped_sales(**_query(filters), before=int_arg("before"), after=int_arg("after"))
    return render_template("admin/skipped_sales.html", page=page, filters=filters,
                           devices=reports.device_choices())


def _csv_lines(filters: dict) -> Iterator[str]:
    zone = ZoneInfo(zone_name())  # times with the dashboard zone's offset, as the pages show them
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in reports.iter_skipped_sales(**_query(filters)):
        writer.writerow([safe_cell(value) for value in (
            row.received_at.astimezone(zone).isoformat(), row.device_name, row.sync_id, row.position, row.offline_id, row.status,
            row.reason, row.message, row.order_id, row.payload)])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@bp.get("/skipped/sales.csv")
@role_required("viewer")
def skipped_sales_csv():
    """The filtered skipped sales as CSV, streamed in chunks however many there are."""
    filters = _filters()
    name = f"skipped-sales-{filters['first'].isoformat()}-{filters['last'].isoformat()}.csv"
    return csv_download(_csv_lines(filters), name)
