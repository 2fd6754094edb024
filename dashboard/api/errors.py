"""Whole-request errors as JSON: {"error": code, "message": text}."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from ..database import DatabaseUnavailable
from . import bp


class ApiError(Exception):
    """An error that ends a request with a JSON body and a status code."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None,
                 device_id: int | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}
        self.device_id = device_id  # who asked, when known (a revoked till), for the sync log


def error_response(status: int, code: str, message: str, headers: dict | None = None):
    response = jsonify(error=code, message=message)
    response.status_code = status
    response.headers.update(headers or {})
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.headers)


@bp.errorhandler(DatabaseUnavailable)
@bp.errorhandler(OperationalError)
def _database_unavailable(_exc):
    return error_response(503, "database_unavailable",
                          "the database cannot be reached; nothing was stored, retry later",
                          {"Retry-After": "5"})


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    codes = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}
    return error_response(exc.code or 500, codes.get(exc.code, "http_error"), exc.description or exc.name)


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _unrouted_api_error(exc: HTTPException):
    """A URL under /api/ that matches no route (or not with this method) is still the API's:
    a till reads JSON there. Flask gives such requests no blueprint, so this is app-wide."""
    from flask import request

    if request.path.startswith("/api/"):
        return _http_error(exc)
    return exc
