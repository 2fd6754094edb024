"""Fix plans, read-only: the list of plans, and one plan with its actions named for people."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from ...extensions import db
from ...models import Device, Fix, FixPlan, Order, OrderLine, Product
from ..fix_plans import revenue_removed
from ..scope import EVERY_STORE, StoreScope
from ..stores import default_store, stores_by_id
from .paging import PER_PAGE, Page, newest_first

# A bulk plan can hold thousands of actions: the page shows this many, the CSV has them all.
ACTIONS_SHOWN = 2000


def _reverted(fix_ids):
    return set(db.session.scalars(select(Fix.reverts_fix_id).where(Fix.reverts_fix_id.in_(fix_ids))))


@dataclass(frozen=True)
class PlannedAction:
    group_id: int | None
    kind: str
    type: str  # void_order, void_line, compensate
    order_id: int | None
    keep_order_id: int | None
    invoice_number: str | None
    keep_invoice_number: str | None
    order_line_id: int | None
    movement_id: int | None
    sku: str | None
    quantity: str | None
    amount: str | None
    receipt_number: str | None = None
    device: str | None = None
    items: tuple[tuple[Decimal, str], ...] = ()  # a voided order's basket: (quantity, product name)
    currency: str | None = None  # the amount's: its order's store's


@dataclass(frozen=True)
class PlanView:
    plan: FixPlan
    requested: list[tuple[int, int | None]]  # (group id, order to keep) as asked for
    actions: list[PlannedAction]
    actions_total: int
    totals: dict | None
    stock: list[dict]
    fix_id: int | None
    fix_reverted: bool
    tills: list[dict]  # per till: device, orders_voided, lines_voided, money, stock
    revenue: list[tuple[str, str]]  # (currency, amount) of the money taken out of the books, per currency


@dataclass(frozen=True)
class PlanRow:
    id: int
    created_at: datetime
    created_by: str
    status: str
    groups: int
    approved_by: str | None


def plans(
    *, before: int | None = None, after: int | None = None, per_page: int = PER_PAGE, scope: StoreScope = EVERY_STORE
) -> Page[PlanRow]:
    """Fix plans, newest first (ix_fix_plans_created_at, or ix_fix_plans_store_created for someone limited to
    stores), so a preview left waiting can be found again."""
    stmt = select(
        FixPlan.id, FixPlan.created_at, FixPlan.created_by, FixPlan.status, FixPlan.request, FixPlan.approved_by
    ).where(scope.stores(FixPlan.store_id))
    return newest_first(
        stmt,
        FixPlan.id,
        lambda row: PlanRow(
            row.id, row.created_at, row.created_by, row.status, len(json.loads(row.request)), row.approved_by
        ),
        time_col=FixPlan.created_at,
        before=before,
        after=after,
        per_page=per_page,
    )


def plan_request(plan: FixPlan) -> list[tuple[int, int | None]]:
    """The (group id, order to keep) pairs a plan was asked for."""
    return [(item["group_id"], item.get("keep_order_id")) for item in json.loads(plan.request)]


def plan_status(plan_id: int, scope: StoreScope = EVERY_STORE) -> str | None:
    """Only the plan's status: what the plan page polls, without reading the plan itself."""
    return db.session.scalar(select(FixPlan.status).where(FixPlan.id == plan_id, scope.stores(FixPlan.store_id)))


def plan_document(plan_id: int, scope: StoreScope = EVERY_STORE) -> dict | None:
    """The plan's actions, totals and stock effect as computed by the preview; None until it is ready."""
    plan = db.session.get(FixPlan, plan_id)
    return json.loads(plan.plan) if plan is not None and plan.plan and scope.allows(plan.store_id) else None


def plan_view(plan_id: int, scope: StoreScope = EVERY_STORE) -> PlanView | None:
    """A plan with its actions named for people (invoice numbers, SKUs), and the fix made from it; None when
    there is no such plan in the scope's stores."""
    plan = db.session.get(FixPlan, plan_id)
    if plan is None or not scope.allows(plan.store_id):
        return None
    document = json.loads(plan.plan) if plan.plan else {"groups": [], "stock": []}
    flat = [(g, a) for g in document["groups"] for a in g["actions"]]
    shown = flat[:ACTIONS_SHOWN]
    # A compensation names its line; the sentence names the order that sold it.
    line_orders = dict(
        db.session.execute(
            select(OrderLine.id, OrderLine.order_id).where(
                OrderLine.id.in_([a["order_line_id"] for _, a in shown if a["type"] == "compensate"])
            )
        ).all()
    )
    shown = [
        (g, a if a.get("order_id") else {**a, "order_id": line_orders.get(a.get("order_line_id"))}) for g, a in shown
    ]
    order_ids = {a[key] for _, a in shown for key in ("keep_order_id", "order_id") if a.get(key)}
    orders = {
        row.id: row
        for row in db.session.execute(
            select(Order.id, Order.invoice_number, Order.receipt_number, Device.name, Order.store_id)
            .join(Device, Device.id == Order.device_id)
            .where(Order.id.in_(order_ids))
        )
    }
    stores = stores_by_id()
    currency_of = {store_id: store.currency for store_id, store in stores.items()}
    items = _baskets([a["order_id"] for _, a in shown if a["type"] == "void_order"])
    product_ids = {a["product_id"] for _, a in shown if a.get("product_id")}
    skus = dict(db.session.execute(select(Product.id, Product.sku).where(Product.id.in_(product_ids))).all())
    actions = [
        PlannedAction(
            g["group_id"],
            g["kind"],
            a["type"],
            a.get("order_id"),
            a.get("keep_order_id"),
            a.get("invoice_number") or _field(orders, a.get("order_id"), "invoice_number"),
            _field(orders, a.get("keep_order_id"), "invoice_number"),
            a.get("order_line_id"),
            a.get("movement_id"),
            a.get("sku") or skus.get(a.get("product_id")),
            a.get("quantity", a.get("units")),
            a.get("amount", a.get("total")),
            _field(orders, a.get("order_id"), "receipt_number"),
            _field(orders, a.get("order_id"), "name"),
            tuple(items.get(a.get("order_id"), ())),
            currency_of.get(_field(orders, a.get("order_id"), "store_id")),
        )
        for g, a in shown
    ]
    fix = db.session.execute(select(Fix.id).where(Fix.plan_id == plan_id)).scalar()
    return PlanView(
        plan,
        plan_request(plan),
        actions,
        len(flat),
        document.get("totals"),
        document["stock"],
        fix,
        bool(fix and _reverted([fix])),
        document.get("tills", []),
        revenue_removed(document["totals"], default_store().currency) if document.get("totals") else [],
    )


def _field(rows: dict, row_id, name: str):
    row = rows.get(row_id)
    return getattr(row, name) if row is not None else None


def _baskets(order_ids: list[int]) -> dict[int, list[tuple[Decimal, str]]]:
    """What each order sold, in line order: (quantity, product name), for the plan's sentences."""
    baskets: dict[int, list[tuple[Decimal, str]]] = {}
    for order_id, quantity, name in db.session.execute(
        select(OrderLine.order_id, OrderLine.quantity, Product.name)
        .join(Product, Product.id == OrderLine.product_id)
        .where(OrderLine.order_id.in_(order_ids))
        .order_by(OrderLine.order_id, OrderLine.line_no)
    ):
        baskets.setdefault(order_id, []).append((quantity, name))
    return baskets
