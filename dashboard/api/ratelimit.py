"""Per-device limits, counted in Redis: requests a minute, and work a minute (sales, lines, bytes).

Redis only delays work, it never decides correctness: if Redis is down the
request is let through (a till must be able to sync) and a warning is logged.
"""
from __future__ import annotations

import logging
import time

import redis
from flask import current_app

from ..redis_conn import get_redis
from .errors import ApiError

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60


def enforce_rate_limit(device_id: int) -> None:
    """Raise a 429 ApiError when the device went over its requests for this minute."""
    limit = current_app.config["SYNC_RATE_LIMIT_PER_MINUTE"]
    if limit <= 0:
        return
    window = int(time.time() // WINDOW_SECONDS)
    key = f"tillsync:ratelimit:device:{device_id}:{window}"
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS * 2)
        count = pipe.execute()[0]
    except (redis.RedisError, OSError) as exc:
        log.warning("rate limit not checked, Redis unavailable: %s", exc)
        return
    if count > limit:
        retry_after = WINDOW_SECONDS - int(time.time()) % WINDOW_SECONDS
        raise ApiError(429, "rate_limited", f"more than {limit} requests a minute from this device; "
                       f"retry in {retry_after} s", {"Retry-After": str(retry_after)})


# Setting name → what one request costs in that unit.
WORK_LIMITS = {"SYNC_SALES_PER_MINUTE": "sales", "SYNC_LINES_PER_MINUTE": "lines", "SYNC_BYTES_PER_MINUTE": "bytes"}


def enforce_work_limit(device_id: int, *, sales: int, lines: int, body_bytes: int) -> None:
    """Raise a 429 ApiError when the device had already used its share of work this minute.

    A request is judged on what the device used before it, so one batch of any
    size the contract allows always goes through for a till that has been
    quiet: an outbox catching up after an outage is slowed, never stuck. A till
    that keeps flooding gets 429 until the next minute, and the others keep
    their share of the server.
    """
    cost = {"sales": sales, "lines": lines, "bytes": body_bytes}
    limits = {unit: current_app.config[name] for name, unit in WORK_LIMITS.items() if current_app.config[name] > 0}
    if not limits:
        return
    window = int(time.time() // WINDOW_SECONDS)
    try:
        pipe = get_redis().pipeline()
        for unit in limits:
            key = f"tillsync:work:{unit}:device:{device_id}:{window}"
            pipe.incrby(key, cost[unit])
            pipe.expire(key, WINDOW_SECONDS * 2)
        totals = pipe.execute()[::2]
    except (redis.RedisError, OSError) as exc:
        log.warning("work limit not checked, Redis unavailable: %s", exc)
        return
    for (unit, limit), total in zip(limits.items(), totals):
        if total - cost[unit] >= limit:
            retry_after = WINDOW_SECONDS - int(time.time()) % WINDOW_SECONDS
            raise ApiError(429, "rate_limited", f"this till sent more than {limit} {unit} this minute; "
                           f"retry in {retry_after} s", {"Retry-After": str(retry_after)})


def _failures_key(source: str, window: int) -> str:
    return f"tillsync:authfail:{source}:{window}"


def enforce_anonymous_limit(source: str) -> None:
    """Raise a 429 ApiError, before the token is looked up, when calls from this address failed
    authentication too often this minute: guessing tokens or a flood of anonymous calls then
    costs the database nothing. A till with a valid token is never counted here."""
    limit = current_app.config["SYNC_AUTH_FAILURES_PER_MINUTE"]
    if limit <= 0:
        return
    window = int(time.time() // WINDOW_SECONDS)
    try:
        failures = int(get_redis().get(_failures_key(source, window)) or 0)
    except (redis.RedisError, OSError) as exc:
        log.warning("anonymous limit not checked, Redis unavailable: %s", exc)
        return
    if failures >= limit:
        retry_after = WINDOW_SECONDS - int(time.time()) % WINDOW_SECONDS
        raise ApiError(429, "rate_limited", f"more than {limit} calls without a valid device token a minute "
                       f"from this address; retry in {retry_after} s", {"Retry-After": str(retry_after)})


def note_auth_failure(source: str) -> None:
    """Count a call from this address that had no valid token."""
    if current_app.config["SYNC_AUTH_FAILURES_PER_MINUTE"] <= 0:
        return
    key = _failures_key(source, int(time.time() // WINDOW_SECONDS))
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS * 2)
        pipe.execute()
    except (redis.RedisError, OSError) as exc:
        log.warning("failed token check not counted, Redis unavailable: %s", exc)
