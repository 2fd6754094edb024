"""Receiving a till's daily close: checking it, recording it once, and answering with the comparison.

A close is keyed by (till, business day). The same close sent again is a
replay and changes nothing (a unique index on its fingerprint decides, not a
check); a different close for the same day becomes the current one and the
earlier one stays in the history, marked replaced.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from ..database import run_write
from ..extensions import db
from ..models import Closing
from ..models.types import utcnow
from ..vocabulary import ClosingRecord
from .business_day import EARLIEST_DAY, today_in
from .closing_check import Comparison, compare
from .money import NumberError, canonical, parse_decimal
from .stores import store_of_device
from .text import describe_character, hidden_character, is_storable

MAX_SALES_COUNT = 1_000_000
# What the closings' money column holds (Numeric(14, 3): 11 digits before the point).
MAX_DAY_TOTAL = Decimal("99999999999.999")


class ClosingInvalid(ValueError):
    """A close the server cannot read; the message names the field. Sending it again will not help."""


class TooManyIds(ValueError):
    """More offline_ids than the server takes in one close."""


@dataclass(frozen=True)
class CloseReport:
    """A close as the till sent it, checked."""

    business_day: date
    sales_count: int
    sales_total: Decimal
    first_receipt: str | None
    last_receipt: str | None
    offline_ids: tuple[str, ...] | None

    def fingerprint(self) -> str:
        content = {
            "business_day": self.business_day.isoformat(),
            "sales_count": self.sales_count,
            "sales_total": canonical(self.sales_total),
            "first_receipt": self.first_receipt,
            "last_receipt": self.last_receipt,
            "offline_ids": sorted(self.offline_ids) if self.offline_ids is not None else None,
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class ClosingOutcome:
    closing_id: int
    business_day: date
    time_zone: str
    record: ClosingRecord
    current: bool
    comparison: Comparison

    def as_json(self) -> dict:
        return {
            "closing_id": self.closing_id,
            "business_day": self.business_day.isoformat(),
            "time_zone": self.time_zone,
            "record": str(self.record),
            "current": self.current,
            **self.comparison.as_json(),
        }


def parse_close(raw: object, *, zone: str, max_ids: int, places: int = 2) -> CloseReport:
    """Check a close's body; ClosingInvalid or TooManyIds says what is wrong."""
    if not isinstance(raw, dict):
        raise ClosingInvalid("the body must be a JSON object")
    day = _day(raw.get("business_day"), zone)
    count = raw.get("sales_count")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_SALES_COUNT:
        raise ClosingInvalid(f"sales_count must be a whole number from 0 to {MAX_SALES_COUNT}")
    if "sales_total" not in raw:
        raise ClosingInvalid("sales_total is missing")
    try:
        # As many decimals as the till's store's currency (3 for KWD, JOD, BHD).
        total = parse_decimal(raw["sales_total"], places=places, limit=MAX_DAY_TOTAL)
    except NumberError as exc:
        raise ClosingInvalid(f"sales_total {exc}") from None
    if total < 0:
        raise ClosingInvalid("sales_total must not be negative")
    ids = _offline_ids(raw.get("offline_ids"), max_ids)
    if ids is not None and len(ids) != count:
        raise ClosingInvalid(f"offline_ids lists {len(ids)} sales but sales_count is {count}")
    return CloseReport(day, count, total, _receipt(raw, "first_receipt"), _receipt(raw, "last_receipt"), ids)


def _day(value: object, zone: str) -> date:
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise ClosingInvalid("business_day must be a date written YYYY-MM-DD")
    # A till's clock may run a day ahead of the server's, as for a sale's created_at; no further.
    if not EARLIEST_DAY <= day <= today_in(zone) + timedelta(days=1):
        raise ClosingInvalid(f"business_day {day} is before 2000 or after tomorrow in {zone}")
    return day


def _receipt(raw: dict, key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 64 or not is_storable(value):
        raise ClosingInvalid(f"{key} must be a receipt number of 1 to 64 characters")
    hidden = hidden_character(value)
    if hidden is not None:
        raise ClosingInvalid(f"{key} contains an invisible or control character: {describe_character(hidden)}")
    return value.strip()


def _offline_ids(value: object, max_ids: int) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ClosingInvalid("offline_ids must be a list of UUID strings")
    if len(value) > max_ids:
        raise TooManyIds(f"{len(value)} offline_ids, at most {max_ids} allowed; send the close without them")
    ids = []
    for position, item in enumerate(value):
        try:
            ids.append(str(uuid.UUID(item.strip())))
        except (AttributeError, ValueError):
            raise ClosingInvalid(f"offline_ids[{position}] is not a UUID string") from None
    if len(set(ids)) != len(ids):
        raise ClosingInvalid("offline_ids names a sale more than once")
    return tuple(ids)


def receive_close(device_id: int, raw: object, *, max_ids: int) -> ClosingOutcome:
    """Record a till's close once (a replay changes nothing) and compare it with the server's books."""
    store = store_of_device(device_id)
    zone = store.time_zone
    report = parse_close(raw, zone=zone, max_ids=max_ids, places=store.money.places)
    fingerprint = report.fingerprint()
    # Compared before the write, so the write transaction stays short; what the till is told is a snapshot.
    probe = Closing(
        sales_count=report.sales_count,
        sales_total=report.sales_total,
        offline_ids=None if report.offline_ids is None else json.dumps(sorted(report.offline_ids)),
    )
    snapshot = compare(probe, device_id, report.business_day, zone)

    def unit() -> tuple[int, ClosingRecord, bool]:
        same = db.session.scalar(
            select(Closing).where(
                Closing.device_id == device_id,
                Closing.business_day == report.business_day,
                Closing.fingerprint == fingerprint,
            )
        )
        if same is not None:
            return same.id, ClosingRecord.UNCHANGED, same.replaced_at is None
        current = db.session.scalar(
            select(Closing).where(
                Closing.device_id == device_id,
                Closing.business_day == report.business_day,
                Closing.replaced_at.is_(None),
            )
        )
        if current is not None:
            current.replaced_at = utcnow()
            db.session.flush()  # off the "one current close" index before the new one takes its place
        closing = Closing(
            device_id=device_id,
            business_day=report.business_day,
            time_zone=zone,
            sales_count=report.sales_count,
            sales_total=report.sales_total,
            first_receipt=report.first_receipt,
            last_receipt=report.last_receipt,
            offline_ids=probe.offline_ids,
            fingerprint=fingerprint,
            status_at_receipt=snapshot.status,
            server_count_at_receipt=snapshot.server_count,
            server_total_at_receipt=snapshot.server_total,
        )
        db.session.add(closing)
        db.session.flush()
        if current is not None:
            current.replaced_by_id = closing.id
        return closing.id, ClosingRecord.REPLACED if current else ClosingRecord.RECORDED, True

    # Two copies of one close racing: the loser's insert hits the unique index and its retry finds the winner.
    closing_id, record, is_current = run_write(unit, retry_on_integrity=True)
    comparison = snapshot
    if record == ClosingRecord.UNCHANGED:
        comparison = compare(db.session.get(Closing, closing_id), device_id, report.business_day, zone)
    return ClosingOutcome(closing_id, report.business_day, zone, record, is_current, comparison)
