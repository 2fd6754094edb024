"""Signing in and out. Wrong email and wrong password get the same answer; repeated failures are slowed."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ..domain import users
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
def load_user(session_id: str):
    """The signed-in user, or None once their session was ended on the server.

    The session cookie is signed but kept by the browser, so the server cannot take it
    back: it holds "user id:generation" (User.get_id) and only the user's current
    generation is accepted. Sign-out, a password or role change and deactivation add one
    to it, which ends every session of that user, copies of the cookie included. A
    per-user number in a row we read anyway costs nothing per request, unlike a table
    of sessions.
    """
    user_id, _, generation = session_id.partition(":")
    if not (user_id.isdigit() and generation.isdigit()) or len(user_id) > 18:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_generation != int(generation):
        return None
    return user


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
        if not login_limit.attempt(email, address):
            flash(_("Too many failed sign-in attempts. Wait 15 minutes, then try again."), "error")
            return render_template("admin/login.html", form=form), 429
        user = db.session.scalar(select(User).where(User.email == email))
        password_ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, form.password.data)
        if user is None or not password_ok or not user.active:
            flash(_("Wrong email or password."), "error")
            return render_template("admin/login.html", form=form), 401
        login_limit.succeeded(email, address)
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
    """Sign out (a POST with the CSRF token, so no other site can sign anyone out).

    Every session of this person ends, on this browser and any other, and so does any
    copy of the cookie: signing out on a shared till is then enough.
    """
    users.end_sessions(current_user.id)
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("admin.login"))
