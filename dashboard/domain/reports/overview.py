"""The overview: today's syncing, what needs a look, and sync activity over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select

from ...extensions import db
from ...models import (
    Device,
    DuplicateGroup,
    DuplicateGroupMember,
    DuplicateScan,
    Order,
    Product,
    StockLevel,
    Store,
    SyncLog,
)
from ..fix_plans import ORDER_KINDS
from ..scope import EVERY_STORE, StoreScope, stores_in, visible_store_codes
from ..stores import StoreInfo
from .duplicates import ScanRow, scan_row
from .paging import as_utc_datetime, utc_bucket
from .refusals import refused_by_bucket, refused_since

NEGATIVE_STOCK_SHOWN = 20
STALE_DEVICES_SHOWN = 50


@dataclass(frozen=True)
class SyncTotals:
    requests: int
    refused: int
    created: int
    duplicates: int
    conflicts: int
    rejected: int


@dataclass(frozen=True)
class StaleDevice:
    id: int
    name: str
    last_seen_at: datetime | None


@dataclass(frozen=True)
class NegativeStock:
    store_code: str
    sku: str
    name: str
    stock_quantity: Decimal


@dataclass(frozen=True)
class TillSales:
    device_id: int
    name: str
    sales: int
    revenue: Decimal


@dataclass(frozen=True)
class SalesToday:
    """A store's completed sales rung up since the start of its own today (in its time zone), per till,
    in its currency."""

    store: StoreInfo
    day: date
    tills: list[TillSales]

    @property
    def sales(self) -> int:
        return sum(till.sales for till in self.tills)

    @property
    def revenue(self) -> Decimal:
        return sum((till.revenue for till in self.tills), Decimal(0))


@dataclass(frozen=True)
class CountedTwice:
    """Money in the books more than once: the orders that fixing the open order-level duplicate
    groups would void (every order of a group but the one kept), by the groups' confidence and
    currency (amounts of two currencies are never added up)."""

    confidence: str
    currency: str
    groups: int
    orders: int
    amount: Decimal


@dataclass(frozen=True)
class ActivityBucket:
    start: datetime
    created: int
    duplicates: int
    conflicts: int
    rejected: int
    refused: int

    @property
    def total(self) -> int:
        return self.created + self.duplicates + self.conflicts + self.rejected + self.refused


@dataclass(frozen=True)
class Overview:
    sales_today: list[SalesToday]  # one a store, the default store first
    counted_twice: list[CountedTwice]
    today: SyncTotals
    open_groups: list[tuple[str, int]]
    stale_devices: list[StaleDevice]
    negative_stock: list[NegativeStock]
    negative_stock_count: int
    last_scan: ScanRow | None
    activity: list[ActivityBucket]


def overview(
    *,
    since: datetime,
    stale_before: datetime,
    activity_unit: str,
    activity_buckets: int,
    now: datetime,
    scope: StoreScope = EVERY_STORE,
) -> Overview:
    """Everything the overview shows about the scope's stores; `since` is the start of today in the dashboard's
    time zone (a store's sales count from the start of its own today)."""
    stores = stores_in(scope)
    return Overview(
        sales_today=[sales_today(store, now) for store in stores],
        counted_twice=counted_twice({store.id: store.currency for store in stores}, scope),
        today=sync_totals(since, scope),
        open_groups=open_groups_by_kind(scope),
        stale_devices=stale_devices(stale_before, scope),
        negative_stock=negative_stock(scope),
        negative_stock_count=db.session.scalar(
            select(func.count()).where(StockLevel.quantity < 0, scope.stores(StockLevel.store_id))
        )
        or 0,
        last_scan=last_scan(scope),
        activity=activity(unit=activity_unit, buckets=activity_buckets, now=now, scope=scope),
    )


def sync_totals(since: datetime, scope: StoreScope = EVERY_STORE) -> SyncTotals:
    """Sums over the sync log since a moment (a range scan of ix_sync_logs_started_at, not of orders),
    and the calls refused as a whole since then (counted apart: reports/refusals.py)."""
    row = db.session.execute(
        select(
            func.count(),
            func.sum(SyncLog.created),
            func.sum(SyncLog.duplicates),
            func.sum(SyncLog.conflicts),
            func.sum(SyncLog.rejected),
        ).where(SyncLog.started_at >= since, scope.tills(SyncLog.device_id))
    ).one()
    accepted, created, duplicates, conflicts, rejected = (int(value or 0) for value in row)
    refused = refused_since(since, scope)
    return SyncTotals(accepted + refused, refused, created, duplicates, conflicts, rejected)


def open_groups_by_kind(scope: StoreScope = EVERY_STORE) -> list[tuple[str, int]]:
    """Open duplicate groups counted by kind (ix_duplicate_groups_status_kind)."""
    rows = db.session.execute(
        select(DuplicateGroup.kind, func.count())
        .where(DuplicateGroup.status == "open", scope.stores(DuplicateGroup.store_id))
        .group_by(DuplicateGroup.kind)
        .order_by(DuplicateGroup.kind)
    )
    return [(kind, count) for kind, count in rows]


def stale_devices(before: datetime, scope: StoreScope = EVERY_STORE) -> list[StaleDevice]:
    """Tills in service that have not synced since `before` (or never), longest silent first."""
    rows = db.session.execute(
        select(Device.id, Device.name, Device.last_seen_at)
        .where(
            Device.revoked_at.is_(None),
            Device.token_hash.is_not(None),
            or_(Device.last_seen_at.is_(None), Device.last_seen_at < before),
            scope.stores(Device.store_id),
        )
        .order_by(Device.last_seen_at.is_not(None), Device.last_seen_at, Device.name)
        .limit(STALE_DEVICES_SHOWN)
    )
    return [StaleDevice(*row) for row in rows]


def negative_stock(scope: StoreScope = EVERY_STORE) -> list[NegativeStock]:
    """The stores' stock levels furthest below zero (ix_stock_levels_negative)."""
    rows = db.session.execute(
        select(Store.code.label("store_code"), Product.sku, Product.name, StockLevel.quantity.label("stock_quantity"))
        .join(Store, Store.id == StockLevel.store_id)
        .join(Product, Product.id == StockLevel.product_id)
        .where(StockLevel.quantity < 0, scope.stores(StockLevel.store_id))
        .order_by(StockLevel.quantity, Store.code, Product.sku)
        .limit(NEGATIVE_STOCK_SHOWN)
    )
    return [NegativeStock(**row._mapping) for row in rows]


def store_day_start(store: StoreInfo, now: datetime) -> tuple[date, datetime]:
    """The store's local date at `now`, and its midnight as a UTC instant (DST-safe: zoneinfo folds)."""
    zone = ZoneInfo(store.time_zone)
    day = now.astimezone(zone).date()
    return day, datetime.combine(day, time.min, tzinfo=zone).astimezone(timezone.utc)


def sales_today(store: StoreInfo, now: datetime) -> SalesToday:
    """A store's completed sales sold since its local midnight, counted and summed per till (a range of
    ix_orders_store_created: one store's day of orders, never the whole table)."""
    day, since = store_day_start(store, now)
    rows = db.session.execute(
        select(Device.id, Device.name, func.count(), func.sum(Order.total))
        .join(Device, Device.id == Order.device_id)
        .where(Order.store_id == store.id, Order.created_at >= since, Order.status == "completed")
        .group_by(Device.id, Device.name)
        .order_by(Device.name)
    )
    return SalesToday(
        store,
        day,
        [TillSales(device_id, name, int(count), Decimal(revenue or 0)) for device_id, name, count, revenue in rows],
    )


def counted_twice(currencies: dict[int, str], scope: StoreScope = EVERY_STORE) -> list[CountedTwice]:
    """What the open order-level groups count twice, by confidence: every completed order of a group but
    one. The copies of a group share their basket, so the amount is the same whichever copy a fix keeps
    (domain/fix_plans.default_keeper). Open groups are few (ix_duplicate_groups_status_kind)."""
    members = (
        select(
            DuplicateGroup.id.label("group_id"),
            DuplicateGroup.confidence,
            Order.id.label("order_id"),
            Order.created_at,
            Order.total,
            Order.store_id,
        )
        .join(DuplicateGroupMember, DuplicateGroupMember.group_id == DuplicateGroup.id)
        .join(Order, Order.id == DuplicateGroupMember.order_id)
        .where(
            DuplicateGroup.status == "open",
            DuplicateGroup.kind.in_(ORDER_KINDS),
            DuplicateGroupMember.order_line_id.is_(None),
            Order.status == "completed",
            scope.stores(DuplicateGroup.store_id),
        )
    ).subquery()
    ranked = select(
        members.c.group_id,
        members.c.confidence,
        members.c.total,
        members.c.store_id,
        func.row_number()
        .over(partition_by=members.c.group_id, order_by=(members.c.created_at, members.c.order_id))
        .label("rank"),
    ).subquery()
    rows = db.session.execute(
        select(
            ranked.c.confidence,
            ranked.c.store_id,
            func.count(ranked.c.group_id.distinct()),
            func.count(),
            func.sum(ranked.c.total),
        )
        .where(ranked.c.rank > 1)
        .group_by(ranked.c.confidence, ranked.c.store_id)
    )
    merged: dict[tuple[str, str], list] = {}
    for confidence, store_id, groups, orders, amount in rows:
        figures = merged.setdefault((confidence, currencies.get(store_id, "")), [0, 0, Decimal(0)])
        figures[0] += int(groups)
        figures[1] += int(orders)
        figures[2] += Decimal(amount or 0)
    return [
        CountedTwice(confidence, code, groups, orders, amount)
        for (confidence, code), (groups, orders, amount) in sorted(merged.items())
    ]


def last_scan(scope: StoreScope = EVERY_STORE) -> ScanRow | None:
    """The latest duplicate scan and what it reported, read as the scans page reads it."""
    scan = db.session.scalar(
        select(DuplicateScan).order_by(DuplicateScan.started_at.desc(), DuplicateScan.id.desc()).limit(1)
    )
    return None if scan is None else scan_row(scan, visible_store_codes(scope))


def activity(*, unit: str, buckets: int, now: datetime, scope: StoreScope = EVERY_STORE) -> list[ActivityBucket]:
    """Sync outcomes per UTC hour or day over the last `buckets` of them, empty ones included."""
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    last = now.replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        last = last.replace(hour=0)
    first = last - step * (buckets - 1)
    bucket = utc_bucket(SyncLog.started_at, unit).label("bucket")
    rows = db.session.execute(
        select(
            bucket,
            func.sum(SyncLog.created),
            func.sum(SyncLog.duplicates),
            func.sum(SyncLog.conflicts),
            func.sum(SyncLog.rejected),
        )
        .where(SyncLog.started_at >= first, scope.tills(SyncLog.device_id))
        .group_by(bucket)
    )
    found = {as_utc_datetime(row[0]): [int(value or 0) for value in row[1:]] for row in rows}
    refused = refused_by_bucket(unit, first, scope)
    result = []
    for start in (first + step * index for index in range(buckets)):
        created, duplicates, conflicts, rejected = found.get(start, (0, 0, 0, 0))
        result.append(ActivityBucket(start, created, duplicates, conflicts, rejected, refused.get(start, 0)))
    return result
