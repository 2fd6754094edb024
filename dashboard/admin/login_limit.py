"""Failed sign-ins counted in Redis per email and address, to slow down password guessing.

Redis only delays, never decides: if it is unavailable nobody is refused, and a
warning is logged. The counter lives for a fixed window from the first failure.
"""
from __future__ import annotations

import hashlib
import logging

import redis
from flask import current_app

from ..redis_conn import get_redis

log = logging.getLogger(__name__)


def _key(email: str, address: str) -> str:
    # Hashed so that no email address sits in Redis in clear.
    digest = hashlib.sha256(f"{email.strip().lower()}|{address}".encode()).hexdigest()
    return f"tillsync:login-failures:{digest}"


def is_blocked(email: str, address: str) -> bool:
    """Whether this email, from this address, has used up its failures for the window."""
    try:
        count = get_redis().get(_key(email, address))
    except (redis.RedisError, OSError) as exc:
        log.warning("sign-in attempts not checked, Redis unavailable: %s", exc)
        return False
    return int(count or 0) >= current_app.config["LOGIN_MAX_FAILURES"]


def record_failure(email: str, address: str) -> None:
    """Count one failed sign-in; the count expires a window after the first failure."""
    key = _key(email, address)
    try:
        pipe = get_redis().pipeline()
        pipe.set(key, 0, ex=current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"], nx=True)
        pipe.incr(key)
        pipe.execute()
    except (redis.RedisError, OSError) as exc:
        log.warning("failed sign-in not counted, Redis unavailable: %s", exc)


def clear(email: str, address: str) -> None:
    """Forget the failures after a successful sign-in."""
    try:
        get_redis().delete(_key(email, address))
    except (redis.RedisError, OSError) as exc:
        log.warning("sign-in failures not cleared, Redis unavailable: %s", exc)
