"""GET /readyz (may this process take traffic?) and GET /metrics (Prometheus)."""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from ..admin.access import public
from .metrics import exposition
from .readiness import live_gauges, readiness

# Open without a dashboard role: load balancers and Prometheus have none (/metrics asks for its own token).
bp = Blueprint("ops", __name__)


@bp.get("/readyz")
@public
def readyz():
    """200 when the database is at the head migration, Redis answers and a worker's heartbeat is recent;
    else 503. Each check says what it found, never a password or a host's address."""
    checks = readiness()
    ready = all(check.ok for check in checks)
    if not ready:
        g.error_code = "not_ready"
    body = {"status": "ready" if ready else "not_ready", "checks": {c.name: c.as_json() for c in checks}}
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
@public
def metrics():
    """Prometheus text format, for a scraper that sends `Authorization: Bearer <METRICS_TOKEN>`.

    Without METRICS_TOKEN set, /metrics is closed (403): the figures tell how busy each till and
    shop is, which is nobody else's business."""
    expected = current_app.config["METRICS_TOKEN"]
    if not expected:
        return _refuse(403, "metrics_disabled", "set METRICS_TOKEN to open /metrics to a scraper")
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        return _refuse(
            401, "unauthorized", "send 'Authorization: Bearer <METRICS_TOKEN>'", {"WWW-Authenticate": "Bearer"}
        )
    return exposition(live_gauges()), 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}


def _refuse(status: int, code: str, message: str, headers: dict | None = None):
    g.error_code = code
    response = jsonify(error=code, message=message)
    response.status_code = status
    response.headers.update(headers or {})
    return response
