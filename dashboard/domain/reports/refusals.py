"""Sync calls refused as a whole, as counted per minute in refused_calls (domain/refusals.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from ...extensions import db
from ...models import Device, RefusedCalls
from ..scope import EVERY_STORE, StoreScope
from .paging import PER_PAGE, Page, as_utc_datetime, newest_first, utc_bucket, within


@dataclass(frozen=True)
class RefusedRow:
    id: int
    minute: datetime
    device_id: int | None
    device_name: str | None
    address: str | None
    http_status: int
    error_code: str
    count: int


_COLUMNS = (
    RefusedCalls.id,
    RefusedCalls.minute,
    RefusedCalls.device_id,
    Device.name,
    RefusedCalls.address,
    RefusedCalls.http_status,
    RefusedCalls.error_code,
    RefusedCalls.count,
)


def refused_calls(
    *,
    device_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    before: int | None = None,
    after: int | None = None,
    per_page: int = PER_PAGE,
    scope: StoreScope = EVERY_STORE,
) -> Page[RefusedRow]:
    """Refused calls per minute, source and code, newest first (the unique key's leading minute, or
    ix_refused_calls_device_minute for one till). Someone limited to stores sees their tills' refusals
    only: calls with no known till (an unknown token, by address) belong to no store."""
    stmt = select(*_COLUMNS).outerjoin(Device, Device.id == RefusedCalls.device_id)
    stmt = stmt.where(scope.tills(RefusedCalls.device_id))
    stmt = within(stmt, RefusedCalls.minute, start, end)
    if device_id is not None:
        stmt = stmt.where(RefusedCalls.device_id == device_id)
    return newest_first(
        stmt,
        RefusedCalls.id,
        lambda row: RefusedRow(*row),
        time_col=RefusedCalls.minute,
        before=before,
        after=after,
        per_page=per_page,
    )


def refused_since(since: datetime, scope: StoreScope = EVERY_STORE) -> int:
    """Calls refused since a moment (a range of uq_refused_calls_minute_source_code's leading minute)."""
    return int(
        db.session.scalar(
            select(func.sum(RefusedCalls.count)).where(
                RefusedCalls.minute >= since, scope.tills(RefusedCalls.device_id)
            )
        )
        or 0
    )


def refused_by_bucket(unit: str, first: datetime, scope: StoreScope = EVERY_STORE) -> dict[datetime, int]:
    """Refused calls per UTC hour or day from `first` on, for the overview's activity chart."""
    bucket = utc_bucket(RefusedCalls.minute, unit).label("bucket")
    rows = db.session.execute(
        select(bucket, func.sum(RefusedCalls.count))
        .where(RefusedCalls.minute >= first, scope.tills(RefusedCalls.device_id))
        .group_by(bucket)
    )
    return {as_utc_datetime(start): int(total or 0) for start, total in rows}
