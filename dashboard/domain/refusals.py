"""Counting sync calls refused as a whole, without a database write per call.

A refused call (no or unknown token, revoked till, over a limit, a body that
cannot be read) is the cheap end of an attack: 24 anonymous threads used to
write 2,544 log rows in 20 s and slowed real tills sevenfold. So a refusal
costs one Redis pipeline, counted per (minute, status, code, source) in a hash
per minute; `flush()` moves the counts into the refused_calls table with one
upsert per key, adding to what is there, so flushing twice or from two hosts
never double-counts. The dashboard flushes before it shows refusals.

Counts are statistics: if Redis is down, or its data is lost before a flush,
the refusals of that time are not counted (logged as a warning) and no till's
answer changes.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

import redis
from sqlalchemy.dialects import postgresql, sqlite

from ..database import run_write
from ..extensions import db
from ..models import RefusedCalls
from ..redis_conn import REDIS_UNAVAILABLE

log = logging.getLogger(__name__)

MINUTES_KEY = "tillsync:refused:minutes"
KEPT_SECONDS = 7 * 24 * 3600  # counts nobody flushed for a week are dropped by Redis, not kept forever

# Take a minute's counts and forget them in one step, so two flushers never both add them.
_TAKE_MINUTE = """
local counts = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return counts
"""


def _minute_key(minute: int) -> str:
    return f"tillsync:refused:{minute}"


def caller_source(address: str | None) -> str:
    """The address an anonymous caller is counted and limited by. An IPv6 client usually owns a
    whole /64, so it is one source; otherwise rotating addresses would escape every limit."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class Refusal:
    http_status: int
    error_code: str
    device_id: int | None
    address: str | None  # caller_source() of the caller; kept only when no till is known

    @property
    def field(self) -> str:
        who = f"device:{self.device_id}" if self.device_id is not None else f"address:{self.address or 'unknown'}"
        return f"{self.http_status}|{self.error_code}|{who}"


def count(client: redis.Redis, refusal: Refusal, *, now: float) -> None:
    """Count one refused call; never raises (the till's answer matters more than the count)."""
    minute = int(now // 60)
    try:
        pipe = client.pipeline()
        pipe.hincrby(_minute_key(minute), refusal.field, 1)
        pipe.expire(_minute_key(minute), KEPT_SECONDS)
        pipe.sadd(MINUTES_KEY, minute)
        pipe.expire(MINUTES_KEY, KEPT_SECONDS)
        pipe.execute()
    except REDIS_UNAVAILABLE as exc:
        log.warning(
            "refused sync call not counted, Redis unavailable (%s %s): %s", refusal.http_status, refusal.error_code, exc
        )


def _parse_field(minute: int, field: bytes, value: bytes) -> dict | None:
    try:
        status, code, who = field.decode().split("|", 2)
        kind, _, ident = who.partition(":")
        row = {
            "minute": datetime.fromtimestamp(minute * 60, timezone.utc),
            "source": who[:60],
            "http_status": int(status),
            "error_code": code[:40],
            "count": int(value),
            "device_id": int(ident) if kind == "device" else None,
            "address": ident[:45] if kind == "address" else None,
        }
    except (UnicodeDecodeError, ValueError):
        log.warning("ignored a malformed refused-call counter %r", field)
        return None
    return row


def _take_counts(client: redis.Redis) -> list[dict]:
    take = client.register_script(_TAKE_MINUTE)
    rows = []
    for raw in client.smembers(MINUTES_KEY):
        minute = int(raw)
        flat = take(keys=[_minute_key(minute), MINUTES_KEY], args=[minute])
        for field, value in zip(flat[::2], flat[1::2]):
            row = _parse_field(minute, field, value)
            if row is not None:
                rows.append(row)
    return rows


def _upsert(rows: list[dict]) -> None:
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = module.insert(RefusedCalls)
    stmt = stmt.on_conflict_do_update(
        index_elements=[RefusedCalls.minute, RefusedCalls.source, RefusedCalls.error_code],
        set_={"count": RefusedCalls.count + stmt.excluded["count"]},
    )
    db.session.execute(stmt, rows)


def flush(client: redis.Redis) -> int:
    """Move the counted refusals into refused_calls; returns how many counters were moved."""
    try:
        rows = _take_counts(client)
    except REDIS_UNAVAILABLE as exc:
        log.warning("refused sync calls not flushed, Redis unavailable: %s", exc)
        return 0
    if rows:
        try:
            run_write(lambda: _upsert(rows))
        except Exception:
            log.exception("lost %d refused-call counters: they could not be written", len(rows))
            raise
    return len(rows)
