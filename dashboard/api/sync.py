"""POST /api/v1/sync and GET /api/v1/sync/status."""

from __future__ import annotations

import json
import logging
import time
import uuid

from flask import current_app, g, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from ..domain import refusals
from ..domain.ingestion import IngestRules, ingest_batch
from ..domain.refusals import caller_source
from ..domain.text import is_storable
from ..extensions import db
from ..models import Order
from ..observability.metrics import count_sales
from ..redis_conn import get_redis
from . import bp
from .auth import authenticate_device
from .body import decode_body
from .errors import ApiError
from .ratelimit import enforce_rate_limit, enforce_work_limit

log = logging.getLogger(__name__)


def _batch_id(value) -> str | None:
    """batch_id is for the logs only: a malformed one is dropped, never a reason to refuse the sales."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not is_storable(str(value)):
        return None
    return str(value)[:100] or None


# Bodies up to this size are read to the end before a 413 is answered.
DRAIN_LIMIT = 64 * 1024 * 1024


def _drain_body(stream, remaining: int) -> None:
    """Read and drop up to `remaining` more bytes of an over-size body, so the till reads our 413
    instead of a broken pipe.

    Beyond DRAIN_LIMIT the connection is simply closed: reading it all would
    be a way to keep a worker busy.
    """
    if remaining > DRAIN_LIMIT:
        return
    while stream is not None and remaining > 0:
        chunk = stream.read(min(remaining, 1024 * 1024))
        if not chunk:
            break
        remaining -= len(chunk)


def _chunked_body(stream, limit: int) -> bytes | None:
    """A body sent without a length (chunked), read up to the limit; None when it goes past it.

    Werkzeug cuts such a body at MAX_CONTENT_LENGTH without saying so, and the
    cut JSON would be refused as invalid: the till must hear 413 and split its
    batch instead. One byte past the limit tells.
    """
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(1024 * 1024, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    return None


def _too_large(stream, remaining: int) -> ApiError:
    _drain_body(stream, remaining)
    return ApiError(
        413,
        "body_too_large",
        f"the body is over {current_app.config['MAX_CONTENT_LENGTH']} bytes; send smaller batches",
    )


def _request_body() -> bytes:
    """The request body, whole; a 413 ApiError when it is over the limit, sent with a length or chunked."""
    stream = request.environ.get("wsgi.input")
    if request.content_length is None and request.environ.get("wsgi.input_terminated") and stream is not None:
        body = _chunked_body(stream, current_app.config["MAX_CONTENT_LENGTH"])
        if body is None:
            raise _too_large(stream, DRAIN_LIMIT)
        return body
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise _too_large(stream, request.content_length or 0) from None


def _check_json_content_type() -> None:
    """A 415 ApiError when the request says its body is something other than JSON.

    A body sent with no Content-Type at all is still read as JSON: tills that
    never set the header worked before the contract named it, and keep working.
    """
    mimetype = request.mimetype
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"the body must be sent as 'Content-Type: application/json', not '{mimetype[:100]}'",
        )


def _read_batch() -> tuple[str | None, list, int]:
    """The batch_id, orders and size in bytes of the request body, or a 400/413/415/422 ApiError."""
    _check_json_content_type()
    body = _request_body()
    try:
        payload = decode_body(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_request", "the body must be a JSON object with an 'orders' list")
    orders = payload.get("orders")
    if not isinstance(orders, list):
        raise ApiError(400, "invalid_request", "the body must have an 'orders' list")
    batch_id = _batch_id(payload.get("batch_id"))
    limit = current_app.config["SYNC_MAX_ORDERS"]
    if len(orders) > limit:
        raise ApiError(
            422,
            "batch_too_large",
            f"{len(orders)} orders in one batch, at most {limit} allowed; split the outbox into smaller batches",
        )
    return batch_id, orders, len(body)


def _line_count(orders: list) -> int:
    return sum(
        len(order["lines"]) for order in orders if isinstance(order, dict) and isinstance(order.get("lines"), list)
    )


def _count_refused_call(device_id: int | None, status: int, code: str) -> None:
    """Count a call refused as a whole (domain/refusals.py): one Redis pipeline, no database row."""
    address = None if device_id is not None else caller_source(request.remote_addr)
    refusals.count(get_redis(), refusals.Refusal(status, code, device_id, address), now=time.time())


@bp.post("/api/v1/sync")
@bp.post("/sync")
def sync():
    """Store a batch of sales exactly once and answer with a result per sale."""
    started = time.monotonic()
    device_id = None
    try:
        device = authenticate_device()
        device_id = g.device_id = device.id
        g.device = device.name  # every log line of this request names the till
        enforce_rate_limit(device.id)
        batch_id, orders, body_bytes = _read_batch()
        enforce_work_limit(device.id, sales=len(orders), lines=_line_count(orders), body_bytes=body_bytes)
    except ApiError as exc:
        g.device_id = device_id or exc.device_id
        log.info("sync refused: %s %s", exc.status, exc.code, extra={"event": "sync_refused"})
        _count_refused_call(device_id or exc.device_id, exc.status, exc.code)
        raise
    outcome = ingest_batch(
        device_id=device.id,
        batch_id=batch_id,
        orders=orders,
        started=started,
        rules=IngestRules.from_config(current_app.config),
    )
    g.sync_id = outcome.sync_id
    count_sales(outcome.results)
    log.info(
        "sync stored",
        extra={
            "event": "sync",
            "fields": {
                **outcome.counts(),
                "batch_id": batch_id,
                "duration_ms": int((time.monotonic() - started) * 1000),
            },
        },
    )
    return jsonify(outcome.as_json())


def _canonical_offline_id(value: str) -> str | None:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


def _asked_offline_ids() -> list[str]:
    """offline_id values from the query string (GET) or from {"offline_ids": [...]} (POST)."""
    if request.method == "GET":
        return request.args.getlist("offline_id")
    _check_json_content_type()
    try:
        payload = json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    asked = payload.get("offline_ids") if isinstance(payload, dict) else None
    if not isinstance(asked, list) or not all(isinstance(value, str) for value in asked):
        raise ApiError(400, "invalid_request", 'the body must be {"offline_ids": ["...", ...]}')
    return asked


@bp.route("/api/v1/sync/status", methods=["GET", "POST"])
def sync_status():
    """Whether each asked offline_id is stored for the calling device.

    GET takes ?offline_id=...&offline_id=...; POST takes a JSON body, for
    lists too long for a URL.
    """
    device = authenticate_device()
    enforce_rate_limit(device.id)
    asked = _asked_offline_ids()
    limit = current_app.config["SYNC_STATUS_MAX_IDS"]
    if len(asked) > limit:
        raise ApiError(422, "too_many_ids", f"{len(asked)} offline_id values, at most {limit} allowed")
    canonical = {value: _canonical_offline_id(value) for value in asked}
    wanted = {value for value in canonical.values() if value}
    stored = {}
    if wanted:
        rows = db.session.execute(
            select(Order.offline_id, Order.id, Order.invoice_number).where(
                Order.offline_id.in_(wanted), Order.device_id == device.id
            )
        )
        stored = {row.offline_id: row for row in rows}
    results = []
    for value in asked:
        row = stored.get(canonical[value])
        results.append(
            {
                "offline_id": value,
                "status": "synced" if row else "unknown",
                "order_id": row.id if row else None,
                "invoice_number": row.invoice_number if row else None,
            }
        )
    return jsonify(results=results)
