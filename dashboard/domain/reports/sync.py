"""Sync calls, their per-sale outcomes, and the sales that were not stored (skipped)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text

from ...extensions import db
from ...models import Device, Order, Store, SyncAttempt, SyncLog
from ...models.sync_log import ATTEMPT_STATE_CONDITIONS
from ...vocabulary import SaleStatus
from ..scope import EVERY_STORE, StoreScope
from .paging import PER_PAGE, NumberedPage, Page, as_date, local_day, newest_first, numbered, pretty_json, within

# What the sync-log status filter offers, and the condition each stands for. (Calls refused as a
# whole are not in the log: they are counted apart, reports/refusals.py.)
STATUS_FILTERS = {
    "duplicates": SyncLog.duplicates > 0,
    "conflicts": SyncLog.conflicts > 0,
    "rejected": SyncLog.rejected > 0,
}
# A sale is skipped when the sync did not store it: a replay, a conflict or a rejection.
SKIPPED_STATUSES = ("duplicate", "conflict", "rejected")
# The skipped-sales filters: what needs a manager (the default), replays, handled ones, or all.
SKIPPED_STATES = ("action", "replays", "handled", "all")
EXPORT_CHUNK = 1000


@dataclass(frozen=True)
class SyncLogRow:
    id: int
    device_id: int | None
    device_name: str | None
    batch_id: str | None
    started_at: datetime
    duration_ms: int
    http_status: int
    error_code: str | None
    received: int
    created: int
    duplicates: int
    conflicts: int
    rejected: int
    plain_replays: int


@dataclass(frozen=True)
class CreatedOrder:
    id: int
    invoice_number: str | None
    receipt_number: str | None
    offline_id: str | None
    total: Decimal
    receipt_number_collision: bool
    currency: str | None = None  # the store's; None for the default store following DASHBOARD_CURRENCY


@dataclass(frozen=True)
class AttemptRow:
    id: int
    sync_id: int
    device_id: int
    device_name: str
    position: int
    offline_id: str | None
    status: str
    reason: str | None
    message: str | None
    order_id: int | None
    received_at: datetime
    receipt_number: str | None
    cashier: str | None
    total: Decimal | None
    sold_at: datetime | None
    resolution: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None
    retry_reason: str | None
    retry_message: str | None
    retried_at: datetime | None
    payload: str  # indented JSON, as the till sent it
    store_code: str = ""
    currency: str | None = None  # the till's store's; None for the default store following DASHBOARD_CURRENCY

    @property
    def needs_action(self) -> bool:
        return self.status in (SaleStatus.REJECTED, SaleStatus.CONFLICT) and self.resolution is None

    @property
    def can_reprocess(self) -> bool:
        return self.status == SaleStatus.REJECTED and self.resolution is None


@dataclass(frozen=True)
class SyncCall:
    log: SyncLogRow
    created_orders: list[CreatedOrder]
    attempts: list[AttemptRow]


@dataclass(frozen=True)
class SkippedCount:
    day: date
    reason: str
    device_id: int
    device_name: str
    count: int


_LOG_COLUMNS = (
    SyncLog.id,
    SyncLog.device_id,
    Device.name,
    SyncLog.batch_id,
    SyncLog.started_at,
    SyncLog.duration_ms,
    SyncLog.http_status,
    SyncLog.error_code,
    SyncLog.received,
    SyncLog.created,
    SyncLog.duplicates,
    SyncLog.conflicts,
    SyncLog.rejected,
    SyncLog.plain_replays,
)
_ATTEMPT_COLUMNS = (
    SyncAttempt.id,
    SyncAttempt.sync_id,
    SyncAttempt.device_id,
    Device.name.label("device_name"),
    SyncAttempt.position,
    SyncAttempt.offline_id,
    SyncAttempt.status,
    SyncAttempt.reason,
    SyncAttempt.message,
    SyncAttempt.order_id,
    SyncAttempt.received_at,
    SyncAttempt.receipt_number,
    SyncAttempt.cashier,
    SyncAttempt.total,
    SyncAttempt.sold_at,
    SyncAttempt.resolution,
    SyncAttempt.resolved_at,
    SyncAttempt.resolved_by,
    SyncAttempt.resolution_note,
    SyncAttempt.retry_reason,
    SyncAttempt.retry_message,
    SyncAttempt.retried_at,
    SyncAttempt.payload,
    select(Store.code).where(Store.id == Device.store_id).scalar_subquery().label("store_code"),
    select(Store.currency).where(Store.id == Device.store_id).scalar_subquery().label("currency"),
)


def _log_row(row) -> SyncLogRow:
    return SyncLogRow(*row)


def _attempt_row(row) -> AttemptRow:
    return AttemptRow(**{**row._mapping, "payload": pretty_json(row.payload)})


def sync_logs(
    *,
    device_id: int | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    before: int | None = None,
    after: int | None = None,
    per_page: int = PER_PAGE,
    scope: StoreScope = EVERY_STORE,
) -> Page[SyncLogRow]:
    """Sync calls started in [start, end) when given, newest first (ix_sync_logs_started_at, or
    ix_sync_logs_device_started for one device: the period is a range of either)."""
    stmt = select(*_LOG_COLUMNS).outerjoin(Device, Device.id == SyncLog.device_id).where(scope.tills(SyncLog.device_id))
    stmt = within(stmt, SyncLog.started_at, start, end)
    if device_id is not None:
        stmt = stmt.where(SyncLog.device_id == device_id)
    if status in STATUS_FILTERS:
        stmt = stmt.where(STATUS_FILTERS[status])
    return newest_first(
        stmt, SyncLog.id, _log_row, time_col=SyncLog.started_at, before=before, after=after, per_page=per_page
    )


def sync_call(sync_id: int, scope: StoreScope = EVERY_STORE) -> SyncCall | None:
    """One sync call with the orders it created and the sales it did not plainly create.

    Both lists are bounded by the batch limit (SYNC_MAX_ORDERS), so they are shown whole.
    """
    row = db.session.execute(
        select(*_LOG_COLUMNS)
        .outerjoin(Device, Device.id == SyncLog.device_id)
        .where(SyncLog.id == sync_id, scope.tills(SyncLog.device_id))
    ).first()
    if row is None:
        return None
    created = db.session.execute(
        select(
            Order.id,
            Order.invoice_number,
            Order.receipt_number,
            Order.offline_id,
            Order.total,
            Order.receipt_number_collision,
            Store.currency,
        )
        .join(Store, Store.id == Order.store_id)
        .where(Order.sync_id == sync_id)
        .order_by(Order.id)
    )
    attempts = db.session.execute(
        select(*_ATTEMPT_COLUMNS)
        .join(Device, Device.id == SyncAttempt.device_id)
        .where(SyncAttempt.sync_id == sync_id)
        .order_by(SyncAttempt.position, SyncAttempt.id)
    )
    return SyncCall(
        _log_row(row), [CreatedOrder(*order) for order in created], [_attempt_row(attempt) for attempt in attempts]
    )


def _skipped_filter(
    stmt,
    *,
    reason: str | None,
    device_id: int | None,
    start: datetime | None,
    end: datetime | None,
    state: str = "all",
    scope: StoreScope = EVERY_STORE,
):
    # The state conditions are SQL text, the same as their partial indexes' (models/sync_log.py);
    # no other table in these statements has a status or resolution column.
    stmt = stmt.where(SyncAttempt.status.in_(SKIPPED_STATUSES), scope.tills(SyncAttempt.device_id))
    if state in ATTEMPT_STATE_CONDITIONS:
        stmt = stmt.where(text(ATTEMPT_STATE_CONDITIONS[state]))
    if reason:
        stmt = stmt.where(SyncAttempt.reason == reason)
    if device_id is not None:
        stmt = stmt.where(SyncAttempt.device_id == device_id)
    stmt = within(stmt, SyncAttempt.received_at, start, end)
    return stmt


def skipped_counts(
    *,
    start: datetime | None,
    end: datetime | None,
    reason: str | None = None,
    device_id: int | None = None,
    state: str = "all",
    zone: str = "UTC",
    page: int = 1,
    per_page: int = PER_PAGE,
    scope: StoreScope = EVERY_STORE,
) -> NumberedPage[SkippedCount]:
    """Skipped sales counted by day (in time zone `zone`), reason and device, for received_at in [start, end)
    when given; without a period, over the span the matching sales cover."""
    filters: dict[str, Any] = {"reason": reason, "device_id": device_id, "state": state, "scope": scope}
    if start is None or end is None:
        first, last = db.session.execute(
            _skipped_filter(
                select(func.min(SyncAttempt.received_at), func.max(SyncAttempt.received_at)),
                start=start,
                end=end,
                **filters,
            )
        ).one()
        start = start or first or datetime.now(timezone.utc)
        end = end or (last + timedelta(microseconds=1) if last else start + timedelta(microseconds=1))
    day = local_day(SyncAttempt.received_at, zone, start, end).label("day")
    stmt = (
        _skipped_filter(
            select(day, SyncAttempt.reason, SyncAttempt.device_id, Device.name, func.count()).join(
                Device, Device.id == SyncAttempt.device_id
            ),
            start=start,
            end=end,
            **filters,
        )
        .group_by(day, SyncAttempt.reason, SyncAttempt.device_id, Device.name)
        .order_by(day.desc(), SyncAttempt.reason, Device.name)
    )
    return numbered(
        stmt,
        lambda row: SkippedCount(as_date(row[0]), row[1] or "", row[2], row[3], row[4]),
        page=page,
        per_page=per_page,
    )


def skipped_reasons(
    *, start: datetime | None, end: datetime | None, state: str = "all", scope: StoreScope = EVERY_STORE
) -> list[str]:
    """The reasons seen in a period, for the filter."""
    stmt = _skipped_filter(
        select(SyncAttempt.reason).distinct(),
        reason=None,
        device_id=None,
        start=start,
        end=end,
        state=state,
        scope=scope,
    )
    return sorted(reason for reason in db.session.scalars(stmt) if reason)


def _skipped_stmt(**filters):
    return _skipped_filter(select(*_ATTEMPT_COLUMNS).join(Device, Device.id == SyncAttempt.device_id), **filters)


def skipped_sales(
    *,
    reason: str | None = None,
    device_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    state: str = "all",
    before: int | None = None,
    after: int | None = None,
    per_page: int = PER_PAGE,
    scope: StoreScope = EVERY_STORE,
) -> Page[AttemptRow]:
    """The skipped sales behind a count, newest first, each with the payload the till sent."""
    stmt = _skipped_stmt(reason=reason, device_id=device_id, start=start, end=end, state=state, scope=scope)
    return newest_first(
        stmt,
        SyncAttempt.id,
        _attempt_row,
        time_col=SyncAttempt.received_at,
        before=before,
        after=after,
        per_page=per_page,
    )


def iter_skipped_sales(**filters) -> Iterator[AttemptRow]:
    """Every skipped sale matching the filters, newest first, read in keyset chunks (for CSV export)."""
    before = None
    while True:
        page = skipped_sales(**filters, before=before, per_page=EXPORT_CHUNK)
        yield from page.items
        if page.older is None:
            return
        before = page.older


def skipped_sale(attempt_id: int, scope: StoreScope = EVERY_STORE) -> AttemptRow | None:
    """One skipped sale, with what the till sent and how it was settled."""
    row = db.session.execute(
        _skipped_stmt(reason=None, device_id=None, start=None, end=None, scope=scope).where(
            SyncAttempt.id == attempt_id
        )
    ).first()
    return _attempt_row(row) if row else None


@dataclass(frozen=True)
class RejectedMoney:
    count: int
    # (currency, total) a currency: amounts of two stores' currencies are never added up. The
    # currency is None for the default store while it follows DASHBOARD_CURRENCY.
    totals: list[tuple[str | None, Decimal]]


def rejected_money(scope: StoreScope = EVERY_STORE) -> RejectedMoney:
    """Rejected sales no one has settled yet, and the money they hold in each currency
    (ix_sync_attempts_action_time; the few stores are joined through the till)."""
    rows = db.session.execute(
        select(Store.currency, func.count(), func.sum(SyncAttempt.total))
        .join(Device, Device.id == SyncAttempt.device_id)
        .join(Store, Store.id == Device.store_id)
        .where(
            text(ATTEMPT_STATE_CONDITIONS["action"]),
            SyncAttempt.status == SaleStatus.REJECTED,
            scope.stores(Device.store_id),
        )
        .group_by(Store.currency)
    ).all()
    return RejectedMoney(
        sum(int(count) for _code, count, _total in rows),
        sorted(((code, Decimal(total or 0)) for code, _count, total in rows), key=lambda item: item[0] or ""),
    )
