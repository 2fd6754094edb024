"""Signing in and out: generic failures, inactive users, rate limiting, CSRF, safe redirects."""

from __future__ import annotations

import logging

import redis
from sqlalchemy import update

from dashboard.extensions import db
from dashboard.models import User
from tests.admin.conftest import PASSWORD, csrf_token, login, post_form


def test_pages_send_anonymous_visitors_to_sign_in(client):
    response = client.get("/sync-logs")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=%2Fsync-logs")


def test_sign_in_then_out(client, people):
    response = login(client, people["viewer"])
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "viewer@example.com" in page.get_data(as_text=True)
    response = post_form(client, "/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_sign_out_needs_a_post(signed_in):
    client = signed_in("viewer")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_answer(client, people):
    wrong_password = login(client, people["admin"], "not the password")
    unknown_email = login(client, "nobody@example.com", PASSWORD)
    for response in (wrong_password, unknown_email):
        assert response.status_code == 401
        assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_email_is_not_case_sensitive(client, people):
    assert login(client, "  Manager@Example.COM ").status_code == 302


def test_inactive_user_is_refused_and_loses_their_session(app, people, signed_in):
    client = signed_in("manager")
    db.session.execute(update(User).where(User.email == people["manager"]).values(active=False))
    db.session.commit()
    assert client.get("/").status_code == 302  # the open session ends
    response = login(app.test_client(), people["manager"])
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)


def test_five_failures_block_that_email_from_that_address(app, client, people):
    for _ in range(5):
        assert login(client, people["admin"], "guess").status_code == 401
    blocked = login(client, people["admin"], PASSWORD)  # even the right password, for now
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts. Wait 15 minutes, then try again." in blocked.get_data(as_text=True)
    assert client.get("/").status_code == 302
    # Another person, or the same email from another address, is not blocked.
    assert login(app.test_client(), people["viewer"]).status_code == 302
    other_address = app.test_client()
    response = login(other_address, people["admin"], environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 302


def test_success_clears_the_failure_count(client, people):
    for _ in range(4):
        login(client, people["admin"], "guess")
    assert login(client, people["admin"]).status_code == 302
    post_form(client, "/logout")
    for _ in range(4):
        assert login(client, people["admin"], "guess").status_code == 401
    assert login(client, people["admin"]).status_code == 302


def test_sign_in_works_when_redis_is_down(client, people, monkeypatch, caplog):
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2, socket_connect_timeout=0.2)
    monkeypatch.setattr("dashboard.admin.login_limit.get_redis", lambda: dead)
    # Alembic's logging set-up (run by the migrations) disables loggers that existed before it.
    monkeypatch.setattr(logging.getLogger("dashboard.admin.login_limit"), "disabled", False)
    with caplog.at_level(logging.WARNING, logger="dashboard.admin.login_limit"):
        for _ in range(6):
            assert login(client, people["admin"], "guess").status_code == 401
        assert login(client, people["admin"]).status_code == 302
    assert "Redis unavailable" in caplog.text


def test_login_without_csrf_token_is_refused(app, client, people):
    assert app.config["WTF_CSRF_ENABLED"] is True
    response = client.post("/login", data={"email": people["admin"], "password": PASSWORD})
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_logout_without_csrf_token_is_refused(signed_in):
    client = signed_in("viewer")
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_token_of_another_session_is_refused(app, signed_in):
    client = signed_in("admin")
    stranger = app.test_client()
    foreign_token = csrf_token(stranger)
    response = client.post("/devices", data={"name": "T09", "csrf_token": foreign_token})
    assert response.status_code == 400
    assert "T09" not in client.get("/devices").get_data(as_text=True)


def test_next_only_leads_to_this_site(client, people):
    token = csrf_token(client)
    for target, expected in [
        ("/orders?q=1", "/orders?q=1"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ]:
        response = client.post(
            "/login",
            query_string={"next": target},
            data={"email": people["viewer"], "password": PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302 and response.headers["Location"] == expected, target
        post_form(client, "/logout")
        token = csrf_token(client)


def test_dashboard_pages_carry_protective_headers(signed_in):
    response = signed_in("viewer").get("/")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_session_cookie_is_http_only(client, people):
    response = login(client, people["viewer"])
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
