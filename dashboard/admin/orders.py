"""Finding an order, and an order's page."""
from __future__ import annotations

from flask import abort, render_template

from ..domain import reports
from . import bp
from .access import role_required
from .params import int_arg, str_arg


@bp.get("/orders")
@role_required("viewer")
def orders():
    """Search by invoice number, receipt number or offline id (exact); without a search, the latest orders."""
    query = str_arg("q", 100)
    page = reports.find_orders(query, before=int_arg("before"), after=int_arg("after"))
    return render_template("admin/orders.html", page=page, query=query)


@bp.get("/orders/<int:order_id>")
@role_required("viewer")
def order(order_id: int):
    """An order's lines, stock movements, payments and provenance."""
    detail = reports.order_detail(order_id)
    if detail is None:
        abort(404)
    return render_template("admin/order.html", detail=detail)
