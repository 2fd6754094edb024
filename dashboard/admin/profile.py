"""A person's own page, and the language switch (which also works before signing in)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain import user_admin
from . import bp
from .access import public, role_required
from .auth import safe_next
from .forms import LanguageForm


@bp.route("/profile", methods=["GET", "POST"])
@role_required("viewer")
def profile():
    """Who I am, and the language I read the dashboard in."""
    form = LanguageForm(locale=current_user.locale or "")
    if form.validate_on_submit():
        user_admin.set_locale(current_user.id, form.locale.data or None)
        session.pop("locale", None)  # a choice made before signing in no longer applies
        flash(_("Your language is saved."), "info")
        return redirect(url_for("admin.profile"))
    return render_template("admin/profile.html", form=form)


@bp.post("/language")
@public
def set_language():
    """Switch language: saved on the account when signed in, kept in the session otherwise."""
    locale = request.form.get("locale")
    if locale in user_admin.LOCALES:
        if current_user.is_authenticated:
            user_admin.set_locale(current_user.id, locale)
        else:
            session["locale"] = locale
    return redirect(safe_next(request.form.get("next")))
