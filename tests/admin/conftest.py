"""Fixtures for the dashboard: users of each role, a signed-in client, and sales synced through the API."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from dashboard.domain.users import create_user
from dashboard.extensions import db
from tests.support.sales import bearer, make_sale

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as under a real server.

    The `app` fixture keeps one app context pushed for the whole test, and Flask
    reuses it for requests: `g` (where Flask-Login keeps the signed-in user and
    Flask-WTF the CSRF token) would then leak from one request, or one client,
    to the next. After each request the test's own session ends its transaction,
    so what the test reads next is what the request committed.
    """

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.rollback()
        return response


@pytest.fixture(autouse=True)
def dashboard_client(app):
    """CSRF checks stay on, whatever TESTING implies (forms must carry the token); requests are isolated."""
    app.config["WTF_CSRF_ENABLED"] = True
    app.test_client_class = IsolatedClient


@pytest.fixture(autouse=True)
def fresh_login_counters(redis_server):
    """Failed sign-ins are counted in the session-wide Redis; each test starts from none."""
    redis_server.flush()


def csrf_token(client, url: str = "/login") -> str:
    """The CSRF token of the form on a page, as a browser would read it."""
    response = client.get(url)
    match = _CSRF.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {url} ({response.status_code})"
    return match.group(1)


def login(client, email: str, password: str = PASSWORD, **kwargs):
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_token(client)}, **kwargs
    )


def post_form(client, url: str, data: dict | None = None, *, token_from: str = "/", **kwargs):
    """POST a form with the CSRF token a page of the dashboard carries."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client, token_from)}, **kwargs)


@pytest.fixture
def people(app) -> dict[str, str]:
    """One user per role: role -> email."""
    emails = {role: f"{role}@example.com" for role in ("admin", "manager", "viewer")}
    for role, email in emails.items():
        create_user(email, PASSWORD, role)
    return emails


@pytest.fixture
def signed_in(app, people):
    """A test client per role, already signed in."""

    def make(role: str):
        client = app.test_client()
        response = login(client, people[role])
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


@dataclass
class Synced:
    sync_id: int
    created_order_id: int
    invoice_number: str
    receipt_number: str
    offline_id: str
    sale: dict


@pytest.fixture
def synced(client, token, catalog) -> Synced:
    """One sync call with a created sale, a replay of it, a rejected sale and a conflict."""
    sale = make_sale(receipt_number="T01-000777")
    conflicting = dict(sale, cashier="Someone else")
    unknown = make_sale(lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "1.00"}])
    response = client.post(
        "/api/v1/sync",
        json={"batch_id": "batch-1", "orders": [sale, sale, unknown, conflicting]},
        headers=bearer(token),
    )
    assert response.status_code == 200
    body = response.get_json()
    assert [result["status"] for result in body["results"]] == ["created", "duplicate", "rejected", "conflict"]
    created = body["results"][0]
    return Synced(
        body["sync_id"],
        created["order_id"],
        created["invoice_number"],
        sale["receipt_number"],
        sale["offline_id"],
        sale,
    )
