"""Tills: register, revoke, give a new token (admins only; every change is audited)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain import devices as tills  # the view "devices" takes the module's name
from ..domain import reports
from ..domain.devices import DeviceError
from ..domain.stores import list_stores
from . import bp
from .access import role_required
from .forms import DeviceForm, SelectChoice
from .i18n import isolated_detail
from .params import page_arg


def _device_form() -> DeviceForm:
    form = DeviceForm()
    form.store.choices = [SelectChoice(store.code, f"{store.code} · {store.name}") for store in list_stores()]
    return form


def _list_page(form: DeviceForm, status: int = 200):
    return render_template("admin/devices.html", form=form, page=reports.devices(page=page_arg())), status


@bp.get("/devices")
@role_required("admin")
def devices():
    """Every till with its state and last sync."""
    return _list_page(_device_form())


@bp.post("/devices")
@role_required("admin")
def add_device():
    """Register a till and show its token, on this page only, once."""
    form = _device_form()
    if not form.validate_on_submit():
        return _list_page(form, 400)
    try:
        issued = tills.register_device(form.name.data, actor=current_user.email, store=form.store.data)
    except DeviceError as exc:
        flash(_("The till was not added: %(reason)s", reason=isolated_detail(str(exc))), "error")
        return _list_page(form, 400)
    return render_template(
        "admin/device_token.html", name=issued.name, token=issued.token, device_id=issued.device_id, rotated=False
    )


@bp.post("/devices/<int:device_id>/revoke")
@role_required("admin")
def revoke_device(device_id: int):
    """Refuse the till's token from now on; its sales stay."""
    try:
        name = tills.revoke_device(device_id, actor=current_user.email)
    except DeviceError as exc:
        flash(_("The till was not revoked: %(reason)s", reason=isolated_detail(str(exc))), "error")
    else:
        flash(_("Till %(name)s is revoked: its syncs are refused from now on.", name=name), "info")
    return redirect(url_for("admin.devices"))


@bp.post("/devices/<int:device_id>/rotate")
@role_required("admin")
def rotate_device(device_id: int):
    """Give the till a new token (the old one stops working) and show it once."""
    try:
        issued = tills.reissue_token(device_id, actor=current_user.email)
    except DeviceError as exc:
        flash(_("No new token was made: %(reason)s", reason=isolated_detail(str(exc))), "error")
        return redirect(url_for("admin.devices"))
    return render_template(
        "admin/device_token.html", name=issued.name, token=issued.token, device_id=device_id, rotated=True
    )
