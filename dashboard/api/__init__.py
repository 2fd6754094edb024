"""The JSON API that tills call."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from . import closings, errors, openapi, products, sync  # noqa: E402,F401  (routes register on bp)
