"""Sessions end on the server: sign-out, a password change, a role change and deactivation end every
session of that person, copies of the cookie included; the password change page and its rule."""

from __future__ import annotations

import json

from sqlalchemy import select
from werkzeug.security import check_password_hash

from dashboard.extensions import db
from dashboard.models import AuditEntry, User
from tests.admin.conftest import PASSWORD, login, post_form

NEW_PASSWORD = "a fresh long passphrase"


def copy_session(app, client):
    """Another browser holding a copy of this one's session cookie, as a thief would."""
    copy = app.test_client()
    cookie = client.get_cookie("session")
    assert cookie is not None
    copy.set_cookie("session", cookie.value)
    return copy


def test_a_copied_cookie_stops_working_at_sign_out(app, signed_in):
    client = signed_in("manager")
    thief = copy_session(app, client)
    assert thief.get("/").status_code == 200  # the copy works while the session lives
    assert post_form(client, "/logout").status_code == 302
    assert thief.get("/").status_code == 302
    assert thief.get("/orders").headers["Location"].startswith("/login")


def test_sign_out_ends_the_sessions_on_other_browsers_too(app, people, signed_in):
    phone = signed_in("viewer")
    laptop = app.test_client()
    assert login(laptop, people["viewer"]).status_code == 302
    post_form(phone, "/logout")
    assert laptop.get("/").status_code == 302
    assert login(laptop, people["viewer"]).status_code == 302  # signing in again works
    assert laptop.get("/").status_code == 200


def change_password(client, current=PASSWORD, new=NEW_PASSWORD, again=None):
    return post_form(
        client,
        "/profile/password",
        {"current_password": current, "new_password": new, "new_password_again": new if again is None else again},
        token_from="/profile/password",
    )


def test_password_change_ends_every_other_session_and_keeps_this_one(app, people, signed_in):
    client = signed_in("manager")
    thief = copy_session(app, client)
    other = signed_in("manager")
    response = change_password(client)
    assert response.status_code == 302 and response.headers["Location"] == "/profile"
    assert client.get("/").status_code == 200  # the person who changed it stays signed in
    assert thief.get("/").status_code == 302
    assert other.get("/").status_code == 302
    user = db.session.scalar(select(User).where(User.email == people["manager"]))
    assert check_password_hash(user.password_hash, NEW_PASSWORD)
    assert login(app.test_client(), people["manager"], PASSWORD).status_code == 401
    assert login(app.test_client(), people["manager"], NEW_PASSWORD).status_code == 302
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.password"))
    assert (entry.actor, entry.target_type, entry.target_id) == (people["manager"], "user", user.id)
    assert NEW_PASSWORD not in (entry.details or "") and PASSWORD not in (entry.details or "")


def test_password_change_refuses_a_wrong_current_password_and_a_mismatch(app, people, signed_in):
    client = signed_in("viewer")
    wrong = change_password(client, current="not my password")
    assert wrong.status_code == 400 and "The current password is wrong." in wrong.get_data(as_text=True)
    differ = change_password(client, again=NEW_PASSWORD + "!")
    assert differ.status_code == 400 and "The two new passwords differ." in differ.get_data(as_text=True)
    assert client.get("/").status_code == 200  # nothing changed, nobody signed out
    user = db.session.scalar(select(User).where(User.email == people["viewer"]))
    assert check_password_hash(user.password_hash, PASSWORD) and user.session_generation == 0


def test_password_change_applies_the_password_rule(signed_in, people):
    client = signed_in("viewer")
    for weak, message in [
        ("aaaaaaaaaaaa", "one character repeated"),
        (people["viewer"], "must not be the email address"),
        ("1234567890", "most common"),
        ("Password123", "most common"),
        ("short", "at least 10 characters"),
    ]:
        response = change_password(client, new=weak)
        assert response.status_code == 400, weak
        if message:
            assert message in response.get_data(as_text=True), weak
    assert client.get("/").status_code == 200


def test_password_change_needs_the_csrf_token(signed_in):
    client = signed_in("viewer")
    response = client.post(
        "/profile/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD},
    )
    assert response.status_code == 400
    assert client.get("/").status_code == 200


def test_role_change_by_an_admin_ends_that_persons_sessions(app, people, signed_in):
    admin = signed_in("admin")
    manager = signed_in("manager")
    thief = copy_session(app, manager)
    user_id = db.session.scalar(select(User.id).where(User.email == people["manager"]))
    response = post_form(admin, f"/users/{user_id}/role", {"role": "viewer"}, token_from="/users")
    assert response.status_code == 302
    assert manager.get("/").status_code == 302 and thief.get("/").status_code == 302
    assert admin.get("/").status_code == 200
    assert db.session.scalar(select(User.role).where(User.id == user_id)) == "viewer"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.role"))
    assert entry.actor == people["admin"] and entry.target_id == user_id
    assert json.loads(entry.details) == {"email": people["manager"], "old_role": "manager", "new_role": "viewer"}
    # Signed in again, the person has the new role.
    again = app.test_client()
    assert login(again, people["manager"]).status_code == 302
    assert "Viewer" in again.get("/profile").get_data(as_text=True)


def test_role_change_is_for_admins_and_keeps_the_last_admin(app, people, signed_in):
    manager = signed_in("manager")
    admin_id = db.session.scalar(select(User.id).where(User.email == people["admin"]))
    assert post_form(manager, f"/users/{admin_id}/role", {"role": "viewer"}).status_code == 403
    admin = signed_in("admin")
    post_form(admin, f"/users/{admin_id}/role", {"role": "viewer"}, token_from="/users")
    assert db.session.scalar(select(User.role).where(User.id == admin_id)) == "admin"
    assert admin.get("/").status_code == 200


def test_deactivation_ends_the_sessions_even_if_reactivated(app, people, signed_in):
    from dashboard.domain import user_admin

    viewer = signed_in("viewer")
    admin_id, viewer_id = (
        db.session.scalar(select(User.id).where(User.email == people[role])) for role in ("admin", "viewer")
    )
    user_admin.deactivate_user(viewer_id, actor_id=admin_id, actor=people["admin"])
    db.session.execute(User.__table__.update().where(User.__table__.c.id == viewer_id).values(active=True))
    db.session.commit()
    assert viewer.get("/").status_code == 302


def test_the_users_form_applies_the_password_rule(signed_in):
    admin = signed_in("admin")
    for weak, message in [
        ("new@example.com", "must not be the email address"),
        ("bbbbbbbbbbbb", "one character repeated"),
        ("iloveyou12", None),
    ]:
        response = post_form(
            admin, "/users", {"email": "new@example.com", "password": weak, "role": "viewer"}, token_from="/users"
        )
        assert response.status_code == 400, weak
        if message:
            assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(User.id).where(User.email == "new@example.com")) is None
    response = post_form(
        admin, "/users", {"email": "new@example.com", "password": NEW_PASSWORD, "role": "viewer"}, token_from="/users"
    )
    assert response.status_code == 302
