"""What the browser test cannot see from axe alone: controls named after what they act on, the skip link
first, and error pages in the dashboard's layout, in both languages, even with the database down."""

from __future__ import annotations

import re

import pytest

from dashboard.extensions import db
from tests.admin.conftest import IsolatedClient
from tests.admin.duplicates_support import scanned_books
from tests.conftest import make_app

_FOCUSABLE = re.compile(r"<(a|button|input|select|textarea|summary)\b[^>]*>")


def text_of(response, status: int = 200) -> str:
    assert response.status_code == status, response.status_code
    return response.get_data(as_text=True)


def first_focusable(html: str) -> str:
    body = html.split("<body>", 1)[1]
    return next(match.group(0) for match in _FOCUSABLE.finditer(body) if 'type="hidden"' not in match.group(0))


def test_each_keep_choice_names_its_order(app, catalog, tmp_path, signed_in):
    books = scanned_books(app, tmp_path)
    html = text_of(signed_in("manager").get(f"/duplicates/{books.groups['same_offline_id']}"))
    for legacy_id in ("L1", "L2"):
        order_id = books.orders[legacy_id]
        assert re.search(
            rf'<input type="radio" name="keep" value="{order_id}"[^>]*>\s*Keep order #{order_id}</label>', html
        ), legacy_id
    assert "Keep this one" not in html


def test_row_buttons_name_their_row(signed_in, token):
    html = text_of(signed_in("admin").get("/devices"))
    assert 'aria-label="Revoke till T01"' in html and 'aria-label="New token for till T01"' in html
    html = text_of(signed_in("admin").get("/users"))
    assert 'aria-label="Deactivate viewer@example.com"' in html


def test_skip_link_is_the_first_stop_and_main_is_its_target(client, signed_in):
    signed_out, overview = text_of(client.get("/login")), text_of(signed_in("viewer").get("/"))
    for html in (signed_out, overview):
        assert first_focusable(html) == '<a class="skip-link" href="#content">'
        assert '<main id="content" tabindex="-1">' in html and '<header class="topbar">' in html
    assert '<nav class="mainnav" aria-label="Main">' in overview


def test_not_found_is_a_dashboard_page_in_both_languages(client, signed_in):
    viewer = signed_in("viewer")
    for path in ("/orders/424242", "/no/such/page"):
        html = text_of(viewer.get(path), 404)
        assert "<h1>Page not found</h1>" in html and 'href="/"' in html
        assert 'class="topbar"' in html and "Sign out" in html  # the usual layout and menu
    arabic = text_of(client.get("/no/such/page", headers={"Accept-Language": "ar"}), 404)
    assert '<html lang="ar" dir="rtl">' in arabic and 'class="skip-link"' in arabic
    # The tills' API keeps answering in JSON.
    answer = client.get("/api/v1/no-such-thing")
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"


@pytest.fixture
def app_without_database(redis_server, tmp_path):
    """The dashboard pointed at a database that cannot be opened, and a page that fails on its own."""
    app = make_app(
        f"sqlite:///{tmp_path}/missing/dir/tillsync.db",
        redis_server.url,
        tmp_path,
        PROPAGATE_EXCEPTIONS=False,
        WTF_CSRF_ENABLED=False,
    )

    def broken():
        raise RuntimeError("a bug")

    app.add_url_rule("/broken", "broken", broken)
    app.test_client_class = IsolatedClient  # each request in its own app context, as under gunicorn
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("language, direction", [("en", "ltr"), ("ar", "rtl")])
def test_server_error_page_needs_no_database(app_without_database, language, direction):
    client = app_without_database.test_client()
    with client.session_transaction() as session:
        # someone signed in before the database went ("user id:session generation", see admin/auth.py)
        session["_user_id"], session["_fresh"] = "1:0", True
    headers = {"Accept-Language": language}

    html = text_of(client.get("/broken", headers=headers), 500)
    assert f'<html lang="{language}" dir="{direction}">' in html and 'class="topbar"' in html
    assert "Sign out" not in html and "mainnav" not in html  # drawn without loading the person
    if language == "en":
        assert "<h1>Something went wrong</h1>" in html and "Error 500" in html

    html = text_of(client.get("/orders", headers=headers), 503)  # loading the person fails here
    assert f'<html lang="{language}" dir="{direction}">' in html and "Sign out" not in html
    if language == "en":
        assert "<h1>The database is not answering</h1>" in html

    answer = client.post("/api/v1/sync", json={"orders": []}, headers={"Authorization": "Bearer x"})
    assert answer.status_code == 503 and answer.get_json()["error"] == "database_unavailable"
