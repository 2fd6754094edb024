"""The HTML side for people (the manager dashboard grows here)."""
from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import views  # noqa: E402,F401  (routes register on bp)
