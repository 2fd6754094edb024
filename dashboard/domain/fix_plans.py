"""Working out what fixing duplicate groups would do, without changing anything.

A plan lists every action (orders voided, lines voided, compensating stock
movements) with totals. Its hash covers the actions only, which are derived
from the state of the orders, lines and movements concerned: if any of that
changes after the preview, the plan computed again at approval gets another
hash and the approval is refused. Stock levels are shown but not hashed, so a
shop that keeps selling between preview and approval is not blocked.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from ..database import chunks
from ..extensions import db
from ..models import Device, DuplicateGroup, DuplicateGroupMember, Order, OrderLine, Product, StockLevel, Store
from ..models.duplicates import CERTAIN_KINDS, KINDS
from ..vocabulary import DuplicateKind
from .duplicate_detection import FoundGroup, repeated_lines
from .scope import EVERY_STORE, StoreScope
from .stock_ledger import active_movements
from .stores import StoreInfo, stores_by_id

# Kinds whose fix acts on lines of one order; an invoice collision is two real sales and is never fixed.
LINE_KINDS = (DuplicateKind.DUPLICATE_LINES, DuplicateKind.DUPLICATE_MOVEMENTS)
UNFIXABLE_KINDS = (DuplicateKind.INVOICE_COLLISION,)
# Every other kind (a new one included) is fixed by keeping one order and voiding the others.
ORDER_KINDS = tuple(kind for kind in KINDS if kind not in LINE_KINDS + UNFIXABLE_KINDS)
FIXABLE_KINDS = ORDER_KINDS + LINE_KINDS
# Copies a till re-sent share their created_at, so the sale time cannot pick one:
# the copy stored first (received_at, then id) is the sale the till's first answer was about.
KEEP_FIRST_RECEIVED = (DuplicateKind.RESENT_WITH_NEW_ID,)


class PlanError(ValueError):
    """A plan that cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class PlanTarget:
    """One group to fix: its kind, orders (and flagged lines), and the order to keep."""

    group_id: int | None
    kind: str
    order_ids: tuple[int, ...]
    line_ids: tuple[int, ...] = ()
    keep_order_id: int | None = None
    store_id: int | None = None  # the group's label (domain/scope.py): its one store, None for several


def targets_for_groups(selection: list[tuple[int, int | None]], scope: StoreScope = EVERY_STORE) -> list[PlanTarget]:
    """Targets for open groups chosen by id, each with the order to keep (None: the default keeper); a group
    outside the scope's stores is not there."""
    ids = [group_id for group_id, _ in selection]
    groups = {
        g.id: g
        for g in db.session.scalars(
            select(DuplicateGroup).where(DuplicateGroup.id.in_(ids), scope.stores(DuplicateGroup.store_id))
        )
    }
    members: dict[int, list] = defaultdict(list)
    for member in db.session.execute(
        select(DuplicateGroupMember.group_id, DuplicateGroupMember.order_id, DuplicateGroupMember.order_line_id).where(
            DuplicateGroupMember.group_id.in_(ids)
        )
    ):
        members[member.group_id].append(member)
    targets = []
    for group_id, keep in selection:
        group = groups.get(group_id)
        if group is None:
            raise PlanError(f"no duplicate group {group_id}")
        if group.status != "open":
            raise PlanError(f"group {group_id} is {group.status}, not open")
        if group.kind not in FIXABLE_KINDS:
            raise PlanError(
                f"group {group_id} is an invoice collision: two real sales are kept; dismiss it once reviewed"
            )
        order_ids = tuple(sorted({m.order_id for m in members[group_id]}))
        if keep is not None and keep not in order_ids:
            raise PlanError(f"order {keep} is not in group {group_id}")
        line_ids = tuple(sorted(m.order_line_id for m in members[group_id] if m.order_line_id))
        targets.append(PlanTarget(group_id, group.kind, order_ids, line_ids, keep, group.store_id))
    return targets


def open_certain_selection(
    kinds: tuple[str, ...] = CERTAIN_KINDS, scope: StoreScope = EVERY_STORE
) -> list[tuple[int, int | None]]:
    """Every open group of a certain kind (or of the given kinds) in the scope's stores, each keeping its
    default keeper."""
    return [
        (group_id, None)
        for group_id in db.session.scalars(
            select(DuplicateGroup.id)
            .where(
                DuplicateGroup.status == "open", DuplicateGroup.kind.in_(kinds), scope.stores(DuplicateGroup.store_id)
            )
            .order_by(DuplicateGroup.id)
        )
    ]


def targets_for_found(found: list[FoundGroup]) -> list[PlanTarget]:
    """Targets for groups a scan found but did not record (dry runs); certain kinds only."""
    return [PlanTarget(None, g.kind, g.order_ids, g.line_ids) for g in found if g.kind in CERTAIN_KINDS]


def build_plan(targets: list[PlanTarget], progress=None) -> dict:
    """Every action fixing these targets would take, with totals; reads only."""
    planned_groups = []
    for number, target in enumerate(targets, start=1):
        planned_groups.append(_plan_target(target))
        if progress and (number % 50 == 0 or number == len(targets)):
            progress(number / len(targets), f"{number} of {len(targets)} groups planned")
    return {
        "groups": planned_groups,
        "totals": _totals(planned_groups, _currencies(planned_groups)),
        "stock": _stock_effect(planned_groups),
        "tills": _per_till(planned_groups),
    }


def plan_hash(plan: dict) -> str:
    """SHA-256 of the plan's actions: what approval is bound to."""
    actions = [
        {"group_id": g["group_id"], "kind": g["kind"], "keep_order_id": g["keep_order_id"], "actions": g["actions"]}
        for g in plan["groups"]
    ]
    return hashlib.sha256(json.dumps(actions, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _completed_orders(order_ids) -> Sequence:
    return db.session.execute(
        select(Order.id, Order.created_at, Order.received_at, Order.total, Order.invoice_number, Order.device_id)
        .where(Order.id.in_(order_ids), Order.status == "completed")
        .order_by(Order.created_at, Order.id)
    ).all()


def default_keeper(kind: str, orders) -> int:
    """The order a fix keeps unless the manager picks another: the earliest sale (created_at, then id),
    or for re-sent copies the earliest received (received_at, then id). orders need id, created_at, received_at."""
    if kind in KEEP_FIRST_RECEIVED:
        return min(orders, key=lambda o: (o.received_at, o.id)).id
    return min(orders, key=lambda o: (o.created_at, o.id)).id


def default_keeper_of(kind: str, order_ids) -> int | None:
    """default_keeper among those of these orders still completed; None when fewer than two are."""
    orders = _completed_orders(order_ids)
    return default_keeper(kind, orders) if len(orders) > 1 else None


def _completed_lines(order_ids) -> Sequence:
    return db.session.execute(
        select(OrderLine.id, OrderLine.order_id, OrderLine.sku, OrderLine.quantity, OrderLine.unit_price)
        .where(OrderLine.order_id.in_(order_ids), OrderLine.status == "completed")
        .order_by(OrderLine.order_id, OrderLine.line_no)
    ).all()


def _compensations(line_ids: list[int], skip_first: bool, device_id: int | None) -> list[dict]:
    actions = []
    for line_id, movements in sorted(active_movements(line_ids).items()):
        for movement in movements[1:] if skip_first else movements:
            actions.append(
                {
                    "type": "compensate",
                    "movement_id": movement.id,
                    "order_line_id": line_id,
                    "product_id": movement.product_id,
                    "store_id": movement.store_id,
                    "quantity": _text(-movement.quantity_delta),
                    "device_id": device_id,
                }
            )
    return actions


def _plan_target(target: PlanTarget) -> dict:
    actions: list[dict] = []
    keep = None
    if target.kind in ORDER_KINDS:
        orders = _completed_orders(target.order_ids)
        if len(orders) > 1:
            keep = (
                target.keep_order_id
                if target.keep_order_id in {o.id for o in orders}
                else default_keeper(target.kind, orders)
            )
            voided = [o for o in orders if o.id != keep]
            lines = _completed_lines([o.id for o in voided])
            for order in voided:
                order_lines = [ln for ln in lines if ln.order_id == order.id]
                actions.append(
                    {
                        "type": "void_order",
                        "order_id": order.id,
                        "keep_order_id": keep,
                        "invoice_number": order.invoice_number,
                        "total": _text(order.total),
                        "units": _text(sum((Decimal(str(ln.quantity)) for ln in order_lines), Decimal(0))),
                        "device_id": order.device_id,
                    }
                )
                actions += _compensations([ln.id for ln in order_lines], skip_first=False, device_id=order.device_id)
    elif target.kind == "duplicate_lines":
        orders = _completed_orders(target.order_ids)
        if orders:
            extra = set(repeated_lines(_completed_lines([orders[0].id]), Decimal(str(orders[0].total))))
            for line in _completed_lines([orders[0].id]):
                if line.id in extra:
                    actions.append(
                        {
                            "type": "void_line",
                            "order_id": line.order_id,
                            "order_line_id": line.id,
                            "sku": line.sku,
                            "quantity": _text(line.quantity),
                            "amount": _text(Decimal(str(line.quantity)) * Decimal(str(line.unit_price))),
                            "device_id": orders[0].device_id,
                        }
                    )
            actions += _compensations(sorted(extra), skip_first=False, device_id=orders[0].device_id)
    elif target.kind == "duplicate_movements":
        orders = _completed_orders(target.order_ids)
        if orders:
            actions += _compensations(list(target.line_ids), skip_first=True, device_id=orders[0].device_id)
    return {"group_id": target.group_id, "kind": target.kind, "keep_order_id": keep, "actions": actions}


def _currencies(groups: list[dict]) -> dict[int, StoreInfo]:
    """The store (with its currency) of every order the plan voids, or voids lines of, by order id."""
    order_ids = sorted(
        {a["order_id"] for g in groups for a in g["actions"] if a["type"] in ("void_order", "void_line")}
    )
    if not order_ids:
        return {}
    stores = stores_by_id()
    found: dict[int, StoreInfo] = {}
    # In slices: a bulk plan may void more orders than SQLite takes bound parameters in one statement.
    for chunk in chunks(order_ids, 5000):
        for order_id, store_id in db.session.execute(select(Order.id, Order.store_id).where(Order.id.in_(chunk))):
            found[order_id] = stores[store_id]
    return found


def _totals(groups: list[dict], stores: dict[int, StoreInfo]) -> dict:
    actions = [a for g in groups for a in g["actions"]]
    voided_orders = [a for a in actions if a["type"] == "void_order"]
    voided_lines = [a for a in actions if a["type"] == "void_line"]
    # Money is summed per currency: a riyal and a dinar do not add up (a chain's stores each have their own).
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    places: dict[str, int] = {}
    for action in voided_orders + voided_lines:
        money = stores[action["order_id"]].money
        revenue[money.currency] += Decimal(action["total"] if action["type"] == "void_order" else action["amount"])
        places[money.currency] = money.places
    units = sum((Decimal(a["units"]) for a in voided_orders), Decimal(0)) + sum(
        (Decimal(a["quantity"]) for a in voided_lines), Decimal(0)
    )
    return {
        "groups": len(groups),
        "orders_voided": len(voided_orders),
        "lines_voided": len(voided_lines),
        "compensating_movements": sum(1 for a in actions if a["type"] == "compensate"),
        # Currency -> amount, to that currency's minor units (3 decimals for KWD or JOD, 2 for SAR).
        "revenue_removed": {
            code: str(revenue[code].quantize(Decimal(1).scaleb(-places[code]))) for code in sorted(revenue)
        },
        "units_removed": _text(units),
        "stock_given_back": _text(
            sum((Decimal(a["quantity"]) for a in actions if a["type"] == "compensate"), Decimal(0))
        ),
    }


def revenue_removed(totals: dict, fallback_currency: str) -> list[tuple[str, str]]:
    """(currency, amount) of the money a plan takes out of the books, one pair per currency. A plan
    previewed before amounts were kept per currency has one sum, in the shop's (fallback) currency."""
    removed = totals.get("revenue_removed")
    if isinstance(removed, dict):
        return list(removed.items())
    return [] if removed is None else [(fallback_currency, removed)]


def _per_till(groups: list[dict]) -> list[dict]:
    """What the fix gives back, till by till: orders and lines voided, money, units of stock."""
    tills: dict[int | None, dict] = {}
    for action in (a for g in groups for a in g["actions"]):
        till = tills.setdefault(
            action.get("device_id"), {"orders_voided": 0, "lines_voided": 0, "money": Decimal(0), "stock": Decimal(0)}
        )
        if action["type"] == "void_order":
            till["orders_voided"] += 1
            till["money"] += Decimal(action["total"])
        elif action["type"] == "void_line":
            till["lines_voided"] += 1
            till["money"] += Decimal(action["amount"])
        else:
            till["stock"] += Decimal(action["quantity"])
    known = {
        row.id: row
        for row in db.session.execute(
            select(Device.id, Device.name, Store.currency)
            .join(Store, Store.id == Device.store_id)
            .where(Device.id.in_([device_id for device_id in tills if device_id is not None]))
        )
    }
    names = {device_id: row.name for device_id, row in known.items()}
    rows = [
        {
            "device_id": device_id,
            "device": names.get(device_id, ""),
            "currency": known[device_id].currency if device_id in known else None,
            "orders_voided": till["orders_voided"],
            "lines_voided": till["lines_voided"],
            "money": _text(till["money"]),
            "stock": _text(till["stock"]),
        }
        for device_id, till in tills.items()
    ]
    return sorted(rows, key=lambda row: (row["device"], row["device_id"] or 0))


def _stock_effect(groups: list[dict]) -> list[dict]:
    """Each store's stock of each product the plan moves, before and after: a compensation gives
    stock back to the store its sale took it from."""
    change: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for action in (a for g in groups for a in g["actions"] if a["type"] == "compensate"):
        change[(action["store_id"], action["product_id"])] += Decimal(action["quantity"])
    if not change:
        return []
    products = dict(
        db.session.execute(select(Product.id, Product.sku).where(Product.id.in_({pid for _, pid in change}))).all()
    )
    stores = dict(db.session.execute(select(Store.id, Store.code)).all())
    if len(stores) == 1:  # a single shop reads its stock as it always did, without a store's code
        stores = dict.fromkeys(stores, "")
    levels = {
        (row.store_id, row.product_id): Decimal(str(row.quantity))
        for row in db.session.execute(
            select(StockLevel.store_id, StockLevel.product_id, StockLevel.quantity).where(
                StockLevel.product_id.in_({pid for _, pid in change})
            )
        )
    }
    rows = [
        {
            "store": stores[sid],
            "sku": products[pid],
            "before": _text(levels.get((sid, pid), Decimal(0))),
            "after": _text(levels.get((sid, pid), Decimal(0)) + delta),
        }
        for (sid, pid), delta in change.items()
    ]
    return sorted(rows, key=lambda row: (row["store"], row["sku"]))


def _text(value) -> str:
    return format(Decimal(str(value)).normalize() + 0, "f")


def plan_csv(plan: dict, currency: str) -> str:
    """The plan as CSV: one row per action, then the totals and the stock effect. `currency` (the default
    store's) names the amount column, as a single shop's file always did; when the plan voids sales of a
    store with another currency, an 11th column says each amount's currency. The money removed has a row
    per currency, naming it."""
    stores = _currencies(plan["groups"])
    codes = {order_id: store.currency for order_id, store in stores.items()}
    other_currency = bool(set(codes.values()) - {currency})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "group_id",
            "kind",
            "action",
            "order_id",
            "keep_order_id",
            "order_line_id",
            "movement_id",
            "product_id",
            "quantity",
            f"amount ({currency})",
        ]
        + (["currency"] if other_currency else [])
    )
    for group in plan["groups"]:
        for a in group["actions"]:
            amount = a.get("total", a.get("amount", ""))
            if amount and a.get("order_id") in stores:  # to its currency's minor units: 5.00 SAR, 0.375 JOD
                amount = str(Decimal(amount).quantize(Decimal(1).scaleb(-stores[a["order_id"]].money.places)))
            writer.writerow(
                [
                    group["group_id"],
                    group["kind"],
                    a["type"],
                    a.get("order_id", ""),
                    a.get("keep_order_id", ""),
                    a.get("order_line_id", ""),
                    a.get("movement_id", ""),
                    a.get("product_id", ""),
                    a.get("quantity", a.get("units", "")),
                    amount,
                ]
                + ([codes.get(a.get("order_id"), "") if amount != "" else ""] if other_currency else [])
            )
    writer.writerow([])
    for name, value in plan["totals"].items():
        if name == "revenue_removed":  # one row per currency: a chain's stores may each have their own
            writer.writerows(
                ["total", name, amount, code] for code, amount in revenue_removed(plan["totals"], currency)
            )
        else:
            writer.writerow(["total", name, value])
    # A chain's store and a store's own currency come last, so a single shop's file is as it always was.
    for row in plan["stock"]:
        writer.writerow(
            ["stock", row["sku"], row["before"], row["after"]] + ([row["store"]] if row.get("store") else [])
        )
    for row in plan.get("tills", []):
        writer.writerow(
            ["till", row["device"], row["orders_voided"], row["lines_voided"], row["money"], row["stock"]]
            + ([row["currency"]] if row.get("currency") else [])
        )
    return out.getvalue()
