"""Finding an order, and an order's page."""

from __future__ import annotations

from flask import abort, current_app, render_template

from ..domain import reports
from ..domain.scope import stores_in
from . import bp
from .access import current_scope, role_required
from .params import chosen_store, int_arg, optional_day_range, period_args, str_arg


@bp.get("/orders")
@role_required("viewer")
def orders():
    """Orders by sale time, newest first; searched by the start of an invoice or receipt number (with or
    without the till's prefix) or an offline id, and limited to days sold (in the dashboard's zone)."""
    query = str_arg("q", 100)
    first, last, start, end = optional_day_range()
    stores = stores_in(current_scope())
    store = chosen_store(stores)
    page = reports.find_orders(
        query,
        start=start,
        end=end,
        before=int_arg("before"),
        after=int_arg("after"),
        server_invoice_prefix=current_app.config["SERVER_INVOICE_PREFIX"],
        store_id=store.id if store else None,
        scope=current_scope(),
    )
    period = {**period_args(first, last), "store": store.code if store else None}
    return render_template(
        "admin/orders.html",
        page=page,
        query=query,
        first=first,
        last=last,
        period=period,
        stores=stores if len(stores) > 1 else [],
        store=store,
    )


@bp.get("/orders/<int:order_id>")
@role_required("viewer")
def order(order_id: int):
    """An order's lines, stock movements, payments and provenance."""
    detail = reports.order_detail(order_id, current_scope())
    if detail is None:
        abort(404)
    return render_template("admin/order.html", detail=detail)
