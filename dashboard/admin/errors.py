"""Error pages people see, and the headers every dashboard page carries."""

from __future__ import annotations

import logging

from flask import g, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import InternalServerError, NotFound

from ..api.errors import error_response, is_api_request
from ..database import DatabaseUnavailable
from ..extensions import login_manager
from ..observability.logs import first_line
from . import bp

log = logging.getLogger(__name__)

# No inline script or style anywhere in the dashboard, so the policy can forbid them.
_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _error_page(status: int, title: str, message: str, *, bare: bool = False):
    return render_template("admin/error.html", title=title, message=message, status=status, bare=bare), status


def _without_database() -> None:
    """Make drawing this page query nothing: the database may be why we are here.

    Flask-Login loads the signed-in person lazily, with a query; the page is drawn as for someone
    signed out (no menu, no name). Their language is kept when it is already in memory.
    """
    user = g.get("_login_user")
    if user is not None and user.is_authenticated:
        g.reader_locale = inspect(user).dict.get("locale")  # loaded state only: never a query
    g._login_user = login_manager.anonymous_user()


@bp.app_errorhandler(CSRFError)
def _csrf_error(_exc):
    return _error_page(
        400,
        _("The form has expired"),
        _("The page was open too long or was sent from elsewhere. Reload it and try again."),
    )


@bp.errorhandler(403)
def _forbidden(_exc):
    return _error_page(
        403, _("Not allowed"), _("Your role does not give access to this page. Ask an admin if you need it.")
    )


@bp.app_errorhandler(NotFound)
def _not_found(exc):
    if is_api_request():
        return error_response(404, "not_found", exc.description)
    return _error_page(
        404,
        _("Page not found"),
        _(
            "There is nothing at this address. It may have been removed, or the link is "
            "mistyped. Use the menu, or go back to the overview."
        ),
    )


@bp.errorhandler(DatabaseUnavailable)
@bp.errorhandler(OperationalError)
def _database_unavailable(exc):
    log.error("database unavailable, page answered 503: %s", first_line(exc), extra={"event": "database_unavailable"})
    g.error_code = "database_unavailable"
    _without_database()
    return _error_page(
        503, _("The database is not answering"), _("Nothing was changed. Wait a moment and try again."), bare=True
    )


@bp.app_errorhandler(InternalServerError)
def _server_error(exc):
    """Something broke. Drawn without the database, which may be what broke."""
    if is_api_request():
        return error_response(500, "internal_error", "the server failed; nothing was stored, retry later")
    _without_database()
    return _error_page(
        500,
        _("Something went wrong"),
        _(
            "The page could not be shown because of an error on our side. It has been logged. "
            "Try again in a moment; if it keeps happening, tell your administrator the time it "
            "happened."
        ),
        bare=True,
    )


@bp.after_request
def _security_headers(response):
    """Dashboard pages hold business data: never framed, cached or sniffed."""
    response.headers.setdefault("Content-Security-Policy", _CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response
