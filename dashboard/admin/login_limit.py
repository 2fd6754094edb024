"""Sign-in attempts counted in Redis, to slow down password guessing.

Three counters, each for a fixed window from its first attempt:
- this email from this address (LOGIN_MAX_FAILURES): a person mistyping is slowed, nobody else;
- this email from any address (LOGIN_MAX_FAILURES_PER_ACCOUNT): guessing one account from many addresses;
- this address for any email (LOGIN_MAX_FAILURES_PER_ADDRESS): one address trying many accounts.

An attempt is counted *before* its password is checked, by one Lua script that
increments all three counters and compares them with their limits atomically: thirty
parallel guesses get exactly as many password checks as the limit, never more. A
successful sign-in gives its attempt back (the email's counters are cleared, the
address's is decremented), so only failures use up the limits. The keys are hashed,
so that no email address sits in Redis in clear.

Redis only delays, never decides: if it is unavailable nobody is refused, and a
warning is logged.
"""

from __future__ import annotations

import hashlib
import logging

from flask import current_app

from ..redis_conn import REDIS_UNAVAILABLE, get_redis

log = logging.getLogger(__name__)

# KEYS: the counters; ARGV[1]: the window in seconds, ARGV[2..]: each counter's limit (0: no limit).
# Returns 1 when every counter is within its limit after counting this attempt.
_COUNT_ATTEMPT = """
local allowed = 1
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if redis.call('TTL', key) == -1 then redis.call('EXPIRE', key, ARGV[1]) end
  local limit = tonumber(ARGV[i + 1])
  if limit > 0 and count > limit then allowed = 0 end
end
return allowed
"""

# KEYS: this email from this address, this email, this address. The address's count goes down by
# one only while it lives and is above zero, so a window that ended meanwhile is not made negative.
_GIVE_BACK = """
redis.call('DEL', KEYS[1], KEYS[2])
local count = tonumber(redis.call('GET', KEYS[3]) or '0')
if count > 0 then redis.call('DECR', KEYS[3]) end
"""


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _keys(email: str, address: str) -> tuple[str, str, str]:
    email = email.strip().lower()
    return (
        f"tillsync:login-failures:{_digest(email, address)}",
        f"tillsync:login-failures:account:{_digest(email)}",
        f"tillsync:login-failures:address:{_digest(address)}",
    )


def attempt(email: str, address: str) -> bool:
    """Count one sign-in attempt; True when its password may be checked, False when a limit is used up."""
    config = current_app.config
    limits = (
        config["LOGIN_MAX_FAILURES"],
        config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
        config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
    )
    try:
        connection = get_redis()
        allowed = connection.eval(
            _COUNT_ATTEMPT, 3, *_keys(email, address), config["LOGIN_FAILURE_WINDOW_SECONDS"], *limits
        )
    except REDIS_UNAVAILABLE as exc:
        log.warning("sign-in attempts not checked, Redis unavailable: %s", exc)
        return True
    return bool(allowed)


def succeeded(email: str, address: str) -> None:
    """The password was right: this attempt was no failure, and the email's failures are forgotten."""
    try:
        get_redis().eval(_GIVE_BACK, 3, *_keys(email, address))
    except REDIS_UNAVAILABLE as exc:
        log.warning("sign-in failures not cleared, Redis unavailable: %s", exc)
