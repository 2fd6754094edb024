"""Per-device limits, counted in Redis: requests a minute, and work a minute (sales, lines, bytes).

Redis only delays work, it never decides correctness: if Redis is down the
request is let through (a till must be able to sync) and a warning is logged.
"""

from __future__ import annotations

import logging
import time

from flask import current_app

from ..redis_conn import REDIS_UNAVAILABLE, get_redis
from .errors import ApiError

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60


def _limited(why: str) -> ApiError:
    """429 until the next counting window, saying why and when (in the message and Retry-After)."""
    retry_after = WINDOW_SECONDS - int(time.time()) % WINDOW_SECONDS
    return ApiError(429, "rate_limited", f"{why}; retry in {retry_after} s", {"Retry-After": str(retry_after)})


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
    except REDIS_UNAVAILABLE as exc:
        log.warning("rate limit not checked, Redis unavailable: %s", exc)
        return
    if count > limit:
        raise _limited(f"more than {limit} requests a minute from this device")


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
    except REDIS_UNAVAILABLE as exc:
        log.warning("work limit not checked, Redis unavailable: %s", exc)
        return
    for (unit, limit), total in zip(limits.items(), totals):
        if total - cost[unit] >= limit:
            raise _limited(f"this till sent more than {limit} {unit} this minute")


def _failures_key(source: str, window: int) -> str:
    return f"tillsync:authfail:{source}:{window}"


def _known_token_key(token_hash: str) -> str:
    return f"tillsync:known-token:{token_hash}"


# A token that authenticated is remembered this long: long enough that a till which syncs now and
# then is still known when a flood begins from its shop's address.
KNOWN_TOKEN_SECONDS = 7 * 24 * 3600


def screen_anonymous(source: str, token_hash: str | None) -> bool:
    """Raise a 429 ApiError, before the token is looked up, when calls from this address failed
    authentication too often this minute, unless the token is one that authenticated before: a
    flood of guesses then costs the database nothing, and the tills that share the flooder's
    address (a shop's router, a carrier's NAT) keep syncing. Returns whether the token is known
    (one Redis round trip either way)."""
    limit = current_app.config["SYNC_AUTH_FAILURES_PER_MINUTE"]
    if limit <= 0:
        return True
    window = int(time.time() // WINDOW_SECONDS)
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.get(_failures_key(source, window))
        pipe.exists(_known_token_key(token_hash or "-"))
        failures, known = pipe.execute()
    except REDIS_UNAVAILABLE as exc:
        log.warning("anonymous limit not checked, Redis unavailable: %s", exc)
        return True
    if int(failures or 0) >= limit and not known:
        raise _limited(f"more than {limit} calls without a valid device token a minute from this address")
    return bool(known)


def remember_token(token_hash: str) -> None:
    """Note a token that authenticated, so a flood from its address does not hold its till back."""
    try:
        get_redis().set(_known_token_key(token_hash), 1, ex=KNOWN_TOKEN_SECONDS)
    except REDIS_UNAVAILABLE as exc:
        log.warning("authenticated token not remembered, Redis unavailable: %s", exc)


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
    except REDIS_UNAVAILABLE as exc:
        log.warning("failed token check not counted, Redis unavailable: %s", exc)
