"""Device authentication by bearer token."""

from __future__ import annotations

from flask import request

from ..domain.devices import DeviceInfo, find_by_token_hash, hash_token
from ..domain.refusals import caller_source
from .errors import ApiError
from .ratelimit import note_auth_failure, remember_token, screen_anonymous


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate_device() -> DeviceInfo:
    """The calling device; 401 without a known token, 403 when the device is revoked.

    An address whose calls keep failing here is answered 429 before the token is
    even looked up, unless the token authenticated before (api/ratelimit.screen_anonymous).
    """
    source = caller_source(request.remote_addr)
    token = bearer_token()
    token_hash = hash_token(token) if token is not None else None
    known = screen_anonymous(source, token_hash)
    if token_hash is None:
        note_auth_failure(source)
        raise ApiError(
            401,
            "missing_token",
            "send the device token as 'Authorization: Bearer <token>'",
            {"WWW-Authenticate": "Bearer"},
        )
    device = find_by_token_hash(token_hash)
    if device is None:
        note_auth_failure(source)
        raise ApiError(
            401, "unknown_token", "this device token is not known to the server", {"WWW-Authenticate": "Bearer"}
        )
    if device.revoked:
        raise ApiError(
            403, "device_revoked", f"device '{device.name}' has been revoked; ask a manager", device_id=device.id
        )
    if not known:
        remember_token(token_hash)
    return device
