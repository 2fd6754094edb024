"""A per-device request limit, counted in Redis.

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
