"""Finding orders, and everything known about one order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, union

from ...extensions import db
from ...models import (
    Device,
    DuplicateGroup,
    DuplicateGroupMember,
    Fix,
    LegacyImport,
    Order,
    OrderLine,
    Payment,
    Product,
    StockMovement,
    Store,
    SyncAttempt,
    SyncLog,
)
from ..numbering import SERVER_NUMBER_DIGITS
from ..scope import EVERY_STORE, StoreScope
from .paging import PER_PAGE, Page, newest_first, pretty_json, within


@dataclass(frozen=True)
class OrderRow:
    id: int
    invoice_number: str | None
    receipt_number: str | None
    offline_id: str | None
    device_name: str
    cashier: str | None
    created_at: datetime
    total: Decimal
    status: str
    # The store's currency; None for the default store while it follows DASHBOARD_CURRENCY.
    currency: str | None = None


@dataclass(frozen=True)
class LineRow:
    id: int
    line_no: int
    sku: str
    product_name: str
    quantity: Decimal
    unit_price: Decimal
    status: str


@dataclass(frozen=True)
class MovementRow:
    id: int
    line_no: int | None
    sku: str
    quantity_delta: Decimal
    kind: str
    created_at: datetime
    fix_id: int | None


@dataclass(frozen=True)
class PaymentRow:
    method: str
    amount: Decimal


@dataclass(frozen=True)
class Provenance:
    sync_id: int | None
    sync_started_at: datetime | None
    legacy_import_id: int | None
    legacy_file_name: str | None
    legacy_id: str | None
    void_fix_id: int | None
    void_fix_applied_by: str | None
    voided_at: datetime | None
    kept_order_id: int | None
    kept_invoice_number: str | None


@dataclass(frozen=True)
class OtherAttempt:
    id: int
    sync_id: int
    status: str
    reason: str | None
    received_at: datetime
    payload: str


@dataclass(frozen=True)
class GroupRef:
    id: int
    kind: str
    status: str


@dataclass(frozen=True)
class OrderDetail:
    order: OrderRow
    fingerprint: str
    received_at: datetime
    receipt_number_collision: bool
    lines: list[LineRow]
    movements: list[MovementRow]
    payments: list[PaymentRow]
    provenance: Provenance
    attempts: list[OtherAttempt]  # replays and conflicts sent later with the same offline_id
    groups: list[GroupRef]


_ORDER_COLUMNS = (
    Order.id,
    Order.invoice_number,
    Order.receipt_number,
    Order.offline_id,
    Device.name,
    Order.cashier,
    Order.created_at,
    Order.total,
    Order.status,
    select(Store.currency).where(Store.id == Order.store_id).scalar_subquery(),
)


def _canonical(text: str) -> str:
    """Offline ids are stored as lower-case canonical UUIDs; accept them written any way."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


def find_orders(
    query: str | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    server_invoice_prefix: str = "",
    store_id: int | None = None,
    before: int | None = None,
    after: int | None = None,
    per_page: int = PER_PAGE,
    scope: StoreScope = EVERY_STORE,
) -> Page[OrderRow]:
    """Orders by sale time, newest first (keyset pages on (created_at, id)), sold in [start, end) when given,
    and matching `query` when given: an exact offline id, or an invoice or receipt number starting with
    `query`, with or without its till's prefix ("100002" finds "T01-100002")."""
    stmt = select(*_ORDER_COLUMNS).join(Device, Device.id == Order.device_id).where(scope.stores(Order.store_id))
    query = (query or "").strip()
    if query:
        stmt = stmt.where(Order.id.in_(_matching_ids(query, server_invoice_prefix)))
    stmt = within(stmt, Order.created_at, start, end)
    if store_id is not None:  # one store's sales: ix_orders_store_created keeps the same order
        stmt = stmt.where(Order.store_id == store_id)
    # ix_orders_created_at serves the order: SQLite keeps the rowid (id) in it, PostgreSQL sorts the
    # few ties on id incrementally; a page never needs an OFFSET.
    return newest_first(
        stmt,
        Order.id,
        lambda row: OrderRow(*row),
        time_col=Order.created_at,
        before=before,
        after=after,
        per_page=per_page,
    )


def _matching_ids(query: str, server_invoice_prefix: str):
    """A union of index range look-ups, so neither database is tempted into scanning orders.

    Why not a substring search: `LIKE '%100002'` reads every order on every search. Receipt and
    invoice numbers are "<prefix><number>", so typing the number alone is handled by trying each
    prefix in use: the latest receipt of each till (one probe of ix_orders_device_created per till)
    gives the tills' prefixes; each store's invoice prefix (a chain has a handful) gives the server
    series' ("KWI-00000123"), where the number typed without its zeros ("123") or with some of them
    ("000123") is also tried at its full width. Each candidate is then a prefix range on
    ix_orders_receipt_number / uq_orders_invoice_number, so the cost grows with the number of tills
    and stores, never with the number of orders.
    """
    candidates = {query, query.upper()}  # till prefixes are usually capitals; typed in lower case they still match
    invoices = set(candidates)
    if "-" not in query:
        candidates |= {prefix + query.upper() for prefix in _till_prefixes() if prefix}
    invoices |= candidates | _server_numbers(query, _invoice_prefixes(server_invoice_prefix))
    lookups = [select(Order.id).where(Order.offline_id == _canonical(query))]
    lookups += [select(Order.id).where(*_starts_with(Order.invoice_number, text)) for text in sorted(invoices)]
    lookups += [select(Order.id).where(*_starts_with(Order.receipt_number, text)) for text in sorted(candidates)]
    return union(*lookups)


def _invoice_prefixes(server_invoice_prefix: str) -> set[str]:
    """Every store's invoice prefix (the default store's may be the setting SERVER_INVOICE_PREFIX)."""
    prefixes = set(db.session.scalars(select(Store.invoice_prefix).where(Store.invoice_prefix.is_not(None))))
    return {prefix for prefix in prefixes | {server_invoice_prefix} if prefix}


def _server_numbers(query: str, prefixes: set[str]) -> set[str]:
    """What a server invoice number typed without its store's prefix, or without its leading zeros, may be:
    "000123", "123" or "kwi-123" -> "KWI-00000123" (and "KWI-000123", the start of "KWI-00012345")."""
    typed = query.upper()
    numbers = set()
    for prefix in prefixes:
        with_prefix = typed.startswith(prefix.upper())
        digits = typed[len(prefix) :] if with_prefix else typed
        if not digits.isascii() or not digits.isdigit() or len(digits) > SERVER_NUMBER_DIGITS:
            continue
        if not with_prefix:  # the number alone may also be the start of a longer one
            numbers.add(prefix + digits)
        numbers.add(prefix + digits.zfill(SERVER_NUMBER_DIGITS))
    return numbers


def _till_prefixes() -> set[str]:
    """The part up to the first "-" of each till's latest receipt number ("T01-" of "T01-100002")."""
    latest = (
        select(Order.receipt_number)
        .where(Order.device_id == Device.id)
        .order_by(Order.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    return {
        number.split("-", 1)[0] + "-"
        for number in db.session.scalars(select(latest).select_from(Device))
        if number and "-" in number
    }


def _starts_with(column, text: str) -> tuple:
    """column starts with text: an index range (text <= column < text + the highest character), made
    exact by LIKE (escaped) for collations that do not order by code point."""
    pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return column >= text, column < text + "\U0010ffff", column.like(pattern, escape="\\")


def order_detail(order_id: int, scope: StoreScope = EVERY_STORE) -> OrderDetail | None:
    """An order with its lines, stock movements, payments, provenance and related records; None when there is
    no such order in the scope's stores."""
    order = db.session.get(Order, order_id)
    if order is None or not scope.allows(order.store_id):
        return None
    row = db.session.execute(
        select(*_ORDER_COLUMNS).join(Device, Device.id == Order.device_id).where(Order.id == order_id)
    ).one()
    lines = [
        LineRow(*line)
        for line in db.session.execute(
            select(
                OrderLine.id,
                OrderLine.line_no,
                OrderLine.sku,
                Product.name,
                OrderLine.quantity,
                OrderLine.unit_price,
                OrderLine.status,
            )
            .join(Product, Product.id == OrderLine.product_id)
            .where(OrderLine.order_id == order_id)
            .order_by(OrderLine.line_no)
        )
    ]
    line_numbers = {line.id: line.line_no for line in lines}
    movements = (
        [
            MovementRow(
                movement.id,
                line_numbers.get(movement.order_line_id),
                sku,
                movement.quantity_delta,
                movement.kind,
                movement.created_at,
                movement.fix_id,
            )
            for movement, sku in db.session.execute(
                select(StockMovement, Product.sku)
                .join(Product, Product.id == StockMovement.product_id)
                .where(StockMovement.order_line_id.in_(list(line_numbers)))
                .order_by(StockMovement.id)
            )
        ]
        if line_numbers
        else []
    )
    payments = [
        PaymentRow(*payment)
        for payment in db.session.execute(
            select(Payment.method, Payment.amount).where(Payment.order_id == order_id).order_by(Payment.id)
        )
    ]
    return OrderDetail(
        order=OrderRow(*row),
        fingerprint=order.fingerprint,
        received_at=order.received_at,
        receipt_number_collision=order.receipt_number_collision,
        lines=lines,
        movements=movements,
        payments=payments,
        provenance=_provenance(order),
        attempts=_attempts(order, scope),
        groups=_groups(order_id, scope),
    )


def _provenance(order: Order) -> Provenance:
    sync = db.session.get(SyncLog, order.sync_id) if order.sync_id else None
    legacy = db.session.get(LegacyImport, order.legacy_import_id) if order.legacy_import_id else None
    fix = db.session.get(Fix, order.void_fix_id) if order.void_fix_id else None
    kept = db.session.get(Order, order.kept_order_id) if order.kept_order_id else None
    return Provenance(
        sync_id=order.sync_id,
        sync_started_at=sync.started_at if sync else None,
        legacy_import_id=order.legacy_import_id,
        legacy_file_name=legacy.file_name if legacy else None,
        legacy_id=order.legacy_id,
        void_fix_id=order.void_fix_id,
        void_fix_applied_by=fix.applied_by if fix else None,
        voided_at=order.voided_at,
        kept_order_id=order.kept_order_id,
        kept_invoice_number=kept.invoice_number if kept else None,
    )


def _attempts(order: Order, scope: StoreScope) -> list[OtherAttempt]:
    """Later sends of this sale's offline_id (ix_sync_attempts_offline_id); a reused id is bounded by retries."""
    if not order.offline_id:
        return []
    rows = db.session.execute(
        select(
            SyncAttempt.id,
            SyncAttempt.sync_id,
            SyncAttempt.status,
            SyncAttempt.reason,
            SyncAttempt.received_at,
            SyncAttempt.payload,
        )
        .where(SyncAttempt.offline_id == order.offline_id, scope.tills(SyncAttempt.device_id))
        .order_by(SyncAttempt.id.desc())
        .limit(PER_PAGE)
    )
    return [OtherAttempt(*row[:-1], payload=pretty_json(row[-1])) for row in rows]


def _groups(order_id: int, scope: StoreScope) -> list[GroupRef]:
    """Duplicate groups this order belongs to (ix_duplicate_group_members_order_id), those the scope sees."""
    rows = db.session.execute(
        select(DuplicateGroup.id, DuplicateGroup.kind, DuplicateGroup.status)
        .distinct()
        .join(DuplicateGroupMember, DuplicateGroupMember.group_id == DuplicateGroup.id)
        .where(DuplicateGroupMember.order_id == order_id, scope.stores(DuplicateGroup.store_id))
        .order_by(DuplicateGroup.id)
    )
    return [GroupRef(*row) for row in rows]
