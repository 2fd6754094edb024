"""POST /api/v1/closings: a till's daily close, answered with how it compares with the server's books."""

from __future__ import annotations

from flask import current_app, jsonify

from ..domain.closings import ClosingInvalid, TooManyIds, receive_close
from . import bp
from .auth import authenticate_device
from .body import decode_body
from .errors import ApiError
from .ratelimit import enforce_rate_limit
from .sync import _request_body


@bp.post("/api/v1/closings")
def closings():
    """Record a till's close of a business day (once) and answer matched, or the differences explained."""
    device = authenticate_device()
    enforce_rate_limit(device.id)
    body = _request_body()
    try:
        payload = decode_body(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_request", "the body must be a JSON object with a 'business_day'")
    try:
        outcome = receive_close(device.id, payload, max_ids=current_app.config["CLOSING_MAX_OFFLINE_IDS"])
    except TooManyIds as exc:
        raise ApiError(422, "too_many_ids", str(exc)) from None
    except ClosingInvalid as exc:
        raise ApiError(422, "invalid_closing", str(exc)) from None
    return jsonify(outcome.as_json())
