"""Dashboard users: list, create with a role, change a role, deactivate (admins only; every change is audited)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain import reports, user_admin
from ..domain.stores import list_stores
from ..domain.users import UserError
from . import bp
from .access import role_required
from .forms import ROLE_CHOICES, RoleForm, UserForm, UserStoresForm
from .i18n import isolated_detail
from .labels import label
from .params import page_arg


def _store_choices() -> list[tuple[str, str]]:
    """(code, "code — name") of every store; a single shop has nothing to limit anyone to, so none."""
    stores = list_stores()
    return [(store.code, f"{store.code} — {store.name}") for store in stores] if len(stores) > 1 else []


def _list_page(form: UserForm, status: int = 200):
    form.stores.choices = _store_choices()
    return render_template(
        "admin/users.html",
        form=form,
        role_choices=ROLE_CHOICES,
        store_choices=form.stores.choices,
        page=reports.users(page=page_arg()),
    ), status


@bp.get("/users")
@role_required("admin")
def users():
    """Every dashboard user, their role and whether they may sign in."""
    return _list_page(UserForm())


@bp.post("/users")
@role_required("admin")
def create_user():
    """Create a user with a role and a first password."""
    form = UserForm()
    if not form.validate_on_submit():
        return _list_page(form, 400)
    try:
        user_admin.create_user(
            form.email.data, form.password.data, form.role.data, actor=current_user.email, stores=form.stores.data or []
        )
    except UserError as exc:
        flash(_("The user was not created: %(reason)s", reason=isolated_detail(str(exc))), "error")
        return _list_page(form, 400)
    flash(_("User %(email)s created.", email=form.email.data.strip().lower()), "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/deactivate")
@role_required("admin")
def deactivate_user(user_id: int):
    """Stop a user from signing in; their open sessions end at their next click."""
    try:
        email = user_admin.deactivate_user(user_id, actor_id=current_user.id, actor=current_user.email)
    except UserError as exc:
        flash(_("The user was not deactivated: %(reason)s", reason=isolated_detail(str(exc))), "error")
    else:
        flash(_("User %(email)s can no longer sign in.", email=email), "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/role")
@role_required("admin")
def set_role(user_id: int):
    """Give a user another role; they are signed out everywhere and sign in again with it."""
    form = RoleForm()
    if not form.validate_on_submit():
        flash(_("The role was not changed: choose one of the roles."), "error")
        return redirect(url_for("admin.users"))
    try:
        email = user_admin.set_role(user_id, form.role.data, actor_id=current_user.id, actor=current_user.email)
    except UserError as exc:
        flash(_("The role was not changed: %(reason)s", reason=isolated_detail(str(exc))), "error")
    else:
        flash(
            _(
                "User %(email)s now has the role %(role)s and is signed out everywhere.",
                email=email,
                role=label(form.role.data, "role"),
            ),
            "info",
        )
    return redirect(url_for("admin.users"))


@bp.get("/users/<int:user_id>/stores")
@role_required("admin")
def user_stores(user_id: int):
    """The stores a user is limited to, ticked, to change (a page of its own: the users table stays narrow)."""
    found = next(iter(reports.users(user_id=user_id).items), None)
    if found is None:
        abort(404)
    return render_template("admin/user_stores.html", user=found, store_choices=_store_choices())


@bp.post("/users/<int:user_id>/stores")
@role_required("admin")
def set_user_stores(user_id: int):
    """Limit a user to the stores ticked (none ticked: every store); it applies from their next click."""
    form = UserStoresForm()
    if not form.validate_on_submit():
        flash(_("The stores were not changed. Reload the page and try again."), "error")
        return redirect(url_for("admin.user_stores", user_id=user_id))
    try:
        email = user_admin.set_stores(
            user_id, form.stores.data or [], actor_id=current_user.id, actor=current_user.email
        )
    except UserError as exc:
        flash(_("The stores were not changed: %(reason)s", reason=isolated_detail(str(exc))), "error")
        return redirect(url_for("admin.user_stores", user_id=user_id))
    else:
        if form.stores.data:
            flash(
                _(
                    "User %(email)s now sees only the stores %(stores)s.",
                    email=email,
                    stores=", ".join(sorted(set(form.stores.data))),
                ),
                "info",
            )
        else:
            flash(_("User %(email)s now sees every store.", email=email), "info")
    return redirect(url_for("admin.users"))
