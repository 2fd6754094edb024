"""Error pages people see, and the headers every dashboard page carries."""
from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from ..database import DatabaseUnavailable
from . import bp

# No inline script or style anywhere in the dashboard, so the policy can forbid them.
_CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _error_page(status: int, title: str, message: str):
    return render_template("admin/error.html", title=title, message=message), status


@bp.app_errorhandler(CSRFError)
def _csrf_error(_exc):
    return _error_page(400, _("The form has expired"),
                       _("The page was open too long or was sent from elsewhere. Reload it and try again."))


@bp.errorhandler(403)
def _forbidden(_exc):
    return _error_page(403, _("Not allowed"),
                       _("Your role does not give access to this page. Ask an admin if you need it."))


@bp.errorhandler(404)
def _not_found(_exc):
    return _error_page(404, _("Not found"), _("There is nothing at this address. It may have been removed."))


@bp.errorhandler(DatabaseUnavailable)
def _database_unavailable(_exc):
    return _error_page(503, _("The database is not answering"),
                       _("Nothing was changed. Wait a moment and try again."))


@bp.after_request
def _security_headers(response):
    """Dashboard pages hold business data: never framed, cached or sniffed."""
    response.headers.setdefault("Content-Security-Policy", _CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response
