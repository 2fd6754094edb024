"""What the duplicate queue shows for each group: till, receipts, amount, time gap, money at stake.

Read for one page of groups at a time, with two set-wise queries (the page's
members with their orders and tills, then the flagged lines), never a query
per row: a page of fifty groups costs the same as a page of one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from ...extensions import db
from ...models import Device, DuplicateGroupMember, Order, OrderLine, Store
from ...vocabulary import DuplicateKind, OrderStatus
from ..fix_plans import ORDER_KINDS


@dataclass(frozen=True)
class GroupDetails:
    tills: list[str]
    receipts: list[str]
    amount: Decimal | None  # the total of the earliest order (the one a fix keeps by default)
    gap: timedelta | None  # between the earliest and the latest sale of the group
    at_stake: Decimal  # what a fix with the default choices would remove from the books
    currency: str | None = None  # the earliest order's store's; None for the default store following the setting


def group_details(groups: list) -> dict[int, GroupDetails]:
    """Details for the groups of one page (objects with .id and .kind), by group id."""
    ids = [g.id for g in groups]
    orders: dict[int, list] = defaultdict(list)
    seen: set[tuple[int, int]] = set()
    for row in db.session.execute(
        select(
            DuplicateGroupMember.group_id,
            Order.id,
            Order.receipt_number,
            Order.total,
            Order.created_at,
            Order.status,
            Device.name,
            select(Store.currency).where(Store.id == Order.store_id).scalar_subquery().label("currency"),
        )
        .join(Order, Order.id == DuplicateGroupMember.order_id)
        .join(Device, Device.id == Order.device_id)
        .where(DuplicateGroupMember.group_id.in_(ids))
    ):
        if (row.group_id, row.id) not in seen:  # line kinds list one order once per flagged line
            seen.add((row.group_id, row.id))
            orders[row.group_id].append(row)
    flagged: dict[int, Decimal] = defaultdict(Decimal)
    line_groups = [g.id for g in groups if g.kind == DuplicateKind.DUPLICATE_LINES]
    if line_groups:
        for group_id, quantity, price in db.session.execute(
            select(DuplicateGroupMember.group_id, OrderLine.quantity, OrderLine.unit_price)
            .join(OrderLine, OrderLine.id == DuplicateGroupMember.order_line_id)
            .where(DuplicateGroupMember.group_id.in_(line_groups), OrderLine.status == OrderStatus.COMPLETED)
        ):
            flagged[group_id] += Decimal(str(quantity)) * Decimal(str(price))
    details = {}
    for group in groups:
        rows = sorted(orders[group.id], key=lambda r: (r.created_at, r.id))
        completed = [r for r in rows if r.status == OrderStatus.COMPLETED]
        at_stake = Decimal(0)
        if group.kind in ORDER_KINDS and len(completed) > 1:
            at_stake = sum((Decimal(str(r.total)) for r in completed[1:]), Decimal(0))
        elif group.kind == DuplicateKind.DUPLICATE_LINES:
            at_stake = flagged[group.id]
        details[group.id] = GroupDetails(
            tills=sorted({r.name for r in rows}),
            receipts=[r.receipt_number or "" for r in rows],
            amount=Decimal(str(rows[0].total)) if rows else None,
            gap=(rows[-1].created_at - rows[0].created_at) if len(rows) > 1 else None,
            at_stake=at_stake,
            currency=rows[0].currency if rows else None,
        )
    return details
