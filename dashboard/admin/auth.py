"""Signing in and out. Wrong email and wrong password get the same answer; repeated failures are slowed."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db, login_manager
from ..models import User
from . import bp, login_limit
from .access import public, role_required
from .forms import LoginForm

login_manager.login_view = "admin.login"
login_manager.login_message = _l("Please sign in to see this page.")
login_manager.login_message_category = "info"

# Checked when the email is unknown, so that a wrong email takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


@login_manager.user_loader
def load_user(user_id: str):
    """The signed-in user, or None once they are deactivated (their session ends)."""
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


def safe_next(target: str | None) -> str:
    """Only a path on this site: never send a person elsewhere after signing in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("admin.overview")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """The sign-in form."""
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        address = request.remote_addr or "unknown"
        if login_limit.is_blocked(email, address):
            flash(_("Too many failed sign-in attempts. Wait 15 minutes, then try again."), "error")
            return render_template("admin/login.html", form=form), 429
        user = db.session.scalar(select(User).where(User.email == email))
        password_ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, form.password.data)
        if user is None or not password_ok or not user.active:
            login_limit.record_failure(email, address)
            flash(_("Wrong email or password."), "error")
            return render_template("admin/login.html", form=form), 401
        login_limit.clear(email, address)
        locale = session.get("locale")
        session.clear()  # nothing from before signing in carries over, but the language chosen
        if locale:
            session["locale"] = locale
        login_user(user)
        return redirect(safe_next(request.args.get("next")))
    return render_template("admin/login.html", form=form)


@bp.post("/logout")
@role_required("viewer")
def logout():
    """Sign out (a POST with the CSRF token, so no other site can sign anyone out)."""
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("admin.login"))
