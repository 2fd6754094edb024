"""Admins register, revoke and rotate tills and manage users; each change lands in the audit log."""

from __future__ import annotations

import json

from sqlalchemy import select
from werkzeug.security import check_password_hash

from dashboard.domain.devices import hash_token
from dashboard.extensions import db
from dashboard.models import AuditEntry, Device, User
from tests.admin.conftest import PASSWORD, login, post_form
from tests.support.sales import bearer


def audit_actions() -> list[tuple[str, str, str | None, dict]]:
    """The audit log, without the fixtures' own users and tills (created as from the command line, actor 'cli')."""
    return [
        (entry.actor, entry.action, entry.target_type, json.loads(entry.details or "{}"))
        for entry in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        if (entry.actor, entry.action) not in {("cli", "user.create"), ("cli", "device.add")}
    ]


def shown_token(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True).split('id="token">')[1].split("<")[0]


def test_add_device_shows_its_token_once(client, signed_in, catalog):
    admin = signed_in("admin")
    token = shown_token(post_form(admin, "/devices", {"name": "  T05 "}, token_from="/devices"))
    device = db.session.scalar(select(Device).where(Device.name == "T05"))
    assert device.token_hash == hash_token(token)
    assert client.get("/api/v1/products", headers=bearer(token)).status_code == 200
    listing = admin.get("/devices").get_data(as_text=True)
    assert "T05" in listing and token not in listing
    # The audit names the store the till was registered into (the default store: none was chosen).
    assert audit_actions() == [("admin@example.com", "device.add", "device", {"name": "T05", "store": "MAIN"})]
    assert token not in (db.session.scalar(select(AuditEntry.details)) or "")


def test_add_device_refuses_a_taken_name(signed_in, token):
    admin = signed_in("admin")
    response = post_form(admin, "/devices", {"name": "T01"}, token_from="/devices")
    assert response.status_code == 400
    assert "The till was not added: a device named &#39;T01&#39; exists already" in response.get_data(as_text=True)
    assert audit_actions() == []


def test_revoke_then_rotate(client, signed_in, token, catalog):
    admin = signed_in("admin")
    device_id = db.session.scalar(select(Device.id).where(Device.name == "T01"))
    response = post_form(admin, f"/devices/{device_id}/revoke", token_from="/devices", follow_redirects=True)
    assert "Till T01 is revoked" in response.get_data(as_text=True)
    assert client.get("/api/v1/products", headers=bearer(token)).status_code == 403
    new_token = shown_token(post_form(admin, f"/devices/{device_id}/rotate", token_from="/devices"))
    assert new_token != token
    assert client.get("/api/v1/products", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/products", headers=bearer(new_token)).status_code == 200
    assert [(action, target, details) for _, action, target, details in audit_actions()] == [
        ("device.revoke", "device", {"name": "T01"}),
        ("device.rotate", "device", {"name": "T01", "was_revoked": True}),
    ]


def test_manager_reads_the_audit_log(signed_in, token):
    admin = signed_in("admin")
    device_id = db.session.scalar(select(Device.id).where(Device.name == "T01"))
    post_form(admin, f"/devices/{device_id}/revoke", token_from="/devices")
    html = signed_in("manager").get("/audit").get_data(as_text=True)
    assert (
        "till stopped" in html
        and '<code class="code-detail">device.revoke</code>' in html
        and "admin@example.com" in html
        and f"device #{device_id}" in html
    )


def test_create_user_who_can_then_sign_in(app, signed_in):
    admin = signed_in("admin")
    response = post_form(
        admin,
        "/users",
        {"email": "New.Person@Example.com", "password": "a long password", "role": "manager"},
        token_from="/users",
        follow_redirects=True,
    )
    assert "User new.person@example.com created." in response.get_data(as_text=True)
    user = db.session.scalar(select(User).where(User.email == "new.person@example.com"))
    assert user.role == "manager" and user.active and check_password_hash(user.password_hash, "a long password")
    assert audit_actions()[-1] == (
        "admin@example.com",
        "user.create",
        "user",
        {"email": "new.person@example.com", "role": "manager"},
    )
    newcomer = app.test_client()
    assert login(newcomer, "new.person@example.com", "a long password").status_code == 302
    assert newcomer.get("/audit").status_code == 200 and newcomer.get("/users").status_code == 403


def test_create_user_refuses_bad_input(signed_in):
    admin = signed_in("admin")
    short = post_form(
        admin, "/users", {"email": "a@example.com", "password": "short", "role": "viewer"}, token_from="/users"
    )
    assert short.status_code == 400
    # The one password rule (domain/passwords.py) says it, in the reader's language, not WTForms' Length.
    assert "The password needs at least 10 characters." in short.get_data(as_text=True)
    bad_role = post_form(
        admin, "/users", {"email": "a@example.com", "password": "long enough pw", "role": "root"}, token_from="/users"
    )
    assert bad_role.status_code == 400
    taken = post_form(
        admin,
        "/users",
        {"email": "viewer@example.com", "password": "long enough pw", "role": "viewer"},
        token_from="/users",
    )
    assert taken.status_code == 400 and "exists already" in taken.get_data(as_text=True)
    not_email = post_form(
        admin, "/users", {"email": "not-an-email", "password": "long enough pw", "role": "viewer"}, token_from="/users"
    )
    assert not_email.status_code == 400 and "is not an email address" in not_email.get_data(as_text=True)
    assert db.session.scalar(select(User.id).where(User.email == "a@example.com")) is None


def test_deactivate_user_ends_their_access(app, signed_in, people):
    viewer = signed_in("viewer")
    admin = signed_in("admin")
    viewer_id = db.session.scalar(select(User.id).where(User.email == people["viewer"]))
    response = post_form(admin, f"/users/{viewer_id}/deactivate", token_from="/users", follow_redirects=True)
    assert "User viewer@example.com can no longer sign in." in response.get_data(as_text=True)
    assert viewer.get("/").status_code == 302
    assert login(app.test_client(), people["viewer"], PASSWORD).status_code == 401
    assert audit_actions()[-1] == ("admin@example.com", "user.deactivate", "user", {"email": "viewer@example.com"})


def test_admin_cannot_lock_themselves_out(signed_in, people):
    admin = signed_in("admin")
    admin_id = db.session.scalar(select(User.id).where(User.email == people["admin"]))
    response = post_form(admin, f"/users/{admin_id}/deactivate", token_from="/users", follow_redirects=True)
    assert "you cannot deactivate your own account" in response.get_data(as_text=True)
    assert db.session.scalar(select(User.active).where(User.id == admin_id)) is True
    assert admin.get("/users").status_code == 200


def test_device_form_without_csrf_token_changes_nothing(signed_in, token):
    admin = signed_in("admin")
    device_id = db.session.scalar(select(Device.id).where(Device.name == "T01"))
    assert admin.post("/devices", data={"name": "T77"}).status_code == 400
    assert admin.post(f"/devices/{device_id}/revoke").status_code == 400
    assert admin.post(f"/devices/{device_id}/rotate").status_code == 400
    assert db.session.scalar(select(Device.id).where(Device.name == "T77")) is None
    assert db.session.scalar(select(Device.revoked_at).where(Device.id == device_id)) is None
    assert audit_actions() == []


def test_add_device_refuses_hidden_characters_as_the_command_line_does(app, signed_in):
    """The dashboard's form and `flask devices add` go through one check: NUL, bidi controls, zero-width."""
    admin = signed_in("admin")
    for name in ("T\x0009", "T-\u202e90", "T\u200b09", "\ufeffT09"):
        response = post_form(admin, "/devices", {"name": name}, token_from="/devices")
        assert response.status_code == 400, repr(name)
        assert "The till was not added: a device name must not contain" in response.get_data(as_text=True)
        cli = app.test_cli_runner().invoke(args=["devices", "add", name])
        assert cli.exit_code != 0 and "a device name must not contain" in cli.output, repr(name)
    assert db.session.scalar(select(Device.id).where(Device.name.like("T%09"))) is None
    assert audit_actions() == []


def test_an_english_detail_in_an_arabic_message_is_isolated(signed_in, token):
    """A server's English reason inside a right-to-left sentence sits between isolates, so it cannot
    reorder the Arabic around it; English pages are left as they are."""
    admin = signed_in("admin")
    post_form(admin, "/profile", {"locale": "ar"}, token_from="/profile")
    html = post_form(admin, "/devices", {"name": "T01"}, token_from="/devices").get_data(as_text=True)
    assert "\u2068a device named &#39;T01&#39; exists already\u2069" in html
