"""A person's own page, and the language switch (which also works before signing in)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from ..domain import user_admin, users
from ..domain.passwords import MIN_PASSWORD_LENGTH
from ..domain.scope import visible_store_codes
from ..domain.stores import list_stores
from ..extensions import db
from . import bp
from .access import current_scope, public, role_required
from .auth import safe_next
from .forms import LanguageForm, PasswordChangeForm, password_message


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
    return render_template("admin/profile.html", form=form, my_stores=_my_stores())


def _my_stores() -> list[str] | None:
    """The codes of the stores the person sees (empty: every store); None in a single shop, which has no
    stores to speak of."""
    if len(list_stores()) < 2:
        return None
    codes = visible_store_codes(current_scope())
    return [] if codes is None else sorted(code for code in codes if code)


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


@bp.route("/profile/password", methods=["GET", "POST"])
@role_required("viewer")
def change_password():
    """Change my password: the current one, then the new one twice. Every other session of mine ends."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            users.change_password(
                current_user.id, form.current_password.data, form.new_password.data, actor=current_user.email
            )
        except users.WrongPassword:
            form.current_password.errors.append(_("The current password is wrong."))
            return _password_page(form, 400)
        except users.WeakPassword as exc:
            form.new_password.errors.append(password_message(exc.problem))
            return _password_page(form, 400)
        # The change ended every session, this one too; this browser gets a new one in the new generation.
        db.session.refresh(current_user)
        login_user(current_user._get_current_object())
        flash(_("Your password is changed. You are signed out everywhere else."), "info")
        return redirect(url_for("admin.profile"))
    return _password_page(form, 400 if form.is_submitted() else 200)


def _password_page(form: PasswordChangeForm, status: int):
    return render_template("admin/password.html", form=form, min_length=MIN_PASSWORD_LENGTH), status
