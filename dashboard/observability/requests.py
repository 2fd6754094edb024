"""Every request: a request id (the caller's, when it is safe to log, else a new one) and its latency."""

from __future__ import annotations

import re
import time
import uuid

from flask import Flask, g, request

from . import metrics

# Ids from load balancers and tracing (UUIDs, hex, "trace:span") pass; anything that could break a
# log line or a header (spaces, quotes, newlines, control or non-ASCII characters) or is longer is
# replaced, so a client cannot forge log lines through it.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
HEADER = "X-Request-ID"


def request_id_from(value: str | None) -> str:
    """The caller's request id when it is safe to log and echo, else a new one."""
    if value and _SAFE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def install_request_hooks(app: Flask) -> None:
    @app.before_request
    def _begin():
        g.request_id = request_id_from(request.headers.get(HEADER))
        g.request_started = time.perf_counter()

    @app.after_request
    def _end(response):
        if "request_id" not in g:  # a request that failed before the hook ran
            g.request_id = request_id_from(request.headers.get(HEADER))
        response.headers[HEADER] = g.request_id
        started = g.get("request_started")
        metrics.observe_response(
            endpoint=request.endpoint,
            method=request.method,
            status=response.status_code,
            error=g.get("error_code"),
            seconds=time.perf_counter() - started if started else None,
        )
        return response
