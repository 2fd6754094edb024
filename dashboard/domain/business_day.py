"""Which local day a till's sale belongs to: the one place that decides a till's time zone.

A till's business day is a calendar day in its store's zone (a store without
one of its own, the default store of a single shop, follows DASHBOARD_TIMEZONE):
zone_for_device() answers with it, and everything keyed by (device, business
day) follows.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .stores import store_of_device

# The days a close may name: as the dashboard's day filters, and no further ahead than a till's clock may be.
EARLIEST_DAY = date(2000, 1, 1)


def zone_for_device(device_id: int) -> str:
    """The IANA time zone this till's business day is read in: its store's."""
    return store_of_device(device_id).time_zone


def day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """[start, end) of `day` in `zone`, as UTC instants (a DST day is 23 or 25 hours long)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time.min, tzinfo=tz).astimezone(timezone.utc)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(timezone.utc)
    return start, end


def day_of(instant: datetime, zone: str) -> date:
    """The business day an instant falls in, in `zone`."""
    return instant.astimezone(ZoneInfo(zone)).date()


def today_in(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()
