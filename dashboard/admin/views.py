"""The landing page and the health check."""
from __future__ import annotations

from flask import jsonify, render_template
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ..extensions import db, login_manager
from ..models import User
from . import bp


@login_manager.user_loader
def load_user(user_id: str):
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


@bp.get("/")
def index():
    """What this server is and where tills send their sales."""
    return render_template("admin/index.html")


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 when it does not (for load balancers and scripts)."""
    try:
        db.session.execute(text("SELECT 1"))
    except OperationalError:
        return jsonify(status="database_unavailable"), 503
    return jsonify(status="ok")
