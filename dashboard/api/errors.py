"""Whole-request errors as JSON: {"error": code, "message": text}."""

from __future__ import annotations

import logging

from flask import g, jsonify, request
from sqlalchemy.exc import OperationalError, ProgrammingError
from werkzeug.exceptions import HTTPException

from ..database import DatabaseUnavailable
from ..observability.logs import first_line
from ..observability.schema import SchemaNotReady, ensure_schema_ready, schema_explains_failure
from ..vocabulary import SyncError
from . import bp

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error that ends a request with a JSON body and a status code."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None, device_id: int | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}
        self.device_id = device_id  # who asked, when known (a revoked till), for the sync log


def is_api_request() -> bool:
    """Whether the request is the tills' (answered in JSON), even for an address the API does not have.

    "/sync" is the API's alias (and "/sync/..." what a till configured with it would call next);
    "/sync-logs" is a dashboard page.
    """
    path = request.path
    return request.blueprint == "api" or path == "/sync" or path.startswith(("/api/", "/sync/"))


def error_response(status: int, code: str, message: str, headers: dict | None = None):
    g.error_code = code  # for the metrics and the access log
    response = jsonify(error=code, message=message)
    response.status_code = status
    response.headers.update(headers or {})
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.headers)


@bp.before_request
def _schema_ready():
    """Until the database is at the head migration, tills hear schema_not_ready, not a retryable 503
    for every sale (a database with no tables answered database_unavailable to each of them)."""
    ensure_schema_ready()


def _schema_not_ready(detail: str):
    return error_response(
        503,
        "schema_not_ready",
        "the server's database is not set up for this version (an operator must run its "
        f"migrations: {detail}); nothing was stored. Keep the sales and do not retry in a loop",
    )


@bp.errorhandler(SchemaNotReady)
def _schema_error(exc: SchemaNotReady):
    return _schema_not_ready(str(exc))


@bp.errorhandler(DatabaseUnavailable)
@bp.errorhandler(OperationalError)
@bp.errorhandler(ProgrammingError)
def _database_unavailable(exc):
    state = schema_explains_failure()
    if state is not None:
        return _schema_not_ready(state.describe())
    if isinstance(exc, ProgrammingError):
        log.exception("database error answered 500", exc_info=exc)
        return error_response(500, "internal_error", "the server failed; nothing was stored, retry later")
    log.error("database unavailable, answered 503: %s", first_line(exc), extra={"event": "database_unavailable"})
    return error_response(
        503,
        "database_unavailable",
        "the database cannot be reached; nothing was stored, retry later",
        {"Retry-After": "5"},
    )


# The contract's code for each HTTP error werkzeug may raise under /api/; any other is http_error.
HTTP_ERROR_CODES = {
    404: SyncError.NOT_FOUND,
    405: SyncError.METHOD_NOT_ALLOWED,
    413: SyncError.BODY_TOO_LARGE,
    414: SyncError.URI_TOO_LONG,
    415: SyncError.UNSUPPORTED_MEDIA_TYPE,
    500: SyncError.INTERNAL_ERROR,
}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    # werkzeug's own headers matter to a client: Allow on a 405 says which methods would work.
    # Its Content-Type (HTML) does not apply to our JSON body.
    headers = {name: value for name, value in exc.get_headers() if name.lower() != "content-type"}
    return error_response(
        exc.code or 500, HTTP_ERROR_CODES.get(exc.code, SyncError.HTTP_ERROR), exc.description or exc.name, headers
    )


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _unrouted_api_error(exc: HTTPException):
    """A URL under /api/ that matches no route (or not with this method) is still the API's:
    a till reads JSON there. Flask gives such requests no blueprint, so this is app-wide."""
    if is_api_request():
        return _http_error(exc)
    return exc
