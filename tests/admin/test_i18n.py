"""English and Arabic: the choice of language, right-to-left layout, formats, and the catalogue files."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import User
from tests.admin.conftest import post_form
from tests.support.sales import bearer

REPO = Path(__file__).resolve().parents[2]
TRANSLATIONS = REPO / "dashboard" / "translations"


def test_browser_language_decides_before_sign_in(client):
    arabic = client.get("/login", headers={"Accept-Language": "ar-SA,ar;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in arabic
    assert "<h1>تسجيل الدخول</h1>" in arabic
    english = client.get("/login", headers={"Accept-Language": "fr-FR,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in english and "<h1>Sign in</h1>" in english


def test_language_switch_before_sign_in_is_kept_in_the_session(client):
    response = post_form(client, "/language", {"locale": "ar", "next": "/login"}, token_from="/login")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert 'dir="rtl"' in client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_users_language_wins_over_the_browser(signed_in, people, synced):
    viewer = signed_in("viewer")
    response = post_form(viewer, "/profile", {"locale": "ar"}, token_from="/profile", follow_redirects=True)
    assert "حُفظت لغتك." in response.get_data(as_text=True)
    assert db.session.scalar(select(User.locale).where(User.email == people["viewer"])) == "ar"
    html = viewer.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    for arabic in ("نظرة عامة", "سجلات المزامنة", "المبيعات المتخطاة", "مبيعات تمت مزامنتها اليوم", "تسجيل الخروج"):
        assert arabic in html
    assert ">Overview<" not in html
    order = viewer.get(f"/orders/{synced.created_order_id}").get_data(as_text=True)
    assert "الطلب رقم" in order and "8.20" in order
    back = post_form(viewer, "/profile", {"locale": ""}, token_from="/profile", follow_redirects=True)
    assert db.session.scalar(select(User.locale).where(User.email == people["viewer"])) is None
    assert 'dir="ltr"' in back.get_data(as_text=True)


def test_nav_switch_saves_the_signed_in_users_choice(signed_in, people):
    manager = signed_in("manager")
    response = post_form(manager, "/language", {"locale": "ar", "next": "/sync-logs?status=ok"})
    assert response.headers["Location"] == "/sync-logs?status=ok"
    assert db.session.scalar(select(User.locale).where(User.email == people["manager"])) == "ar"
    assert 'dir="rtl"' in manager.get("/sync-logs").get_data(as_text=True)


def test_money_and_dates_follow_the_locale(signed_in, people, synced):
    viewer = signed_in("viewer")
    english = viewer.get(f"/orders/{synced.created_order_id}").get_data(as_text=True)
    assert "<dt>Total</dt><dd>€8.20</dd>" in english
    post_form(viewer, "/profile", {"locale": "ar"}, token_from="/profile")
    arabic = viewer.get(f"/orders/{synced.created_order_id}").get_data(as_text=True)
    # The locale's order (amount, then symbol), the figure isolated left-to-right for the RTL page.
    assert "<dt>الإجمالي</dt><dd>\u20668.20\u2069\u00a0€</dd>" in arabic
    sold_at = arabic.split("<dt>وقت البيع</dt><dd>")[1].split("</dd>")[0]
    assert "\u200f" in sold_at or "م" in sold_at or "ص" in sold_at  # Arabic date pattern (RLM marks, AM/PM)
    assert sold_at != english.split("<dt>Sold at</dt><dd>")[1].split("</dd>")[0]


def test_api_answers_stay_english(client, token, catalog):
    response = client.post(
        "/api/v1/sync",
        data="not json",
        headers={**bearer(token), "Accept-Language": "ar", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_json"
    assert response.get_json()["message"].startswith("the body is not valid JSON")


def test_wtforms_messages_are_translated_too(signed_in):
    admin = signed_in("admin")
    post_form(admin, "/profile", {"locale": "ar"}, token_from="/profile")
    response = post_form(admin, "/users", {"email": "", "password": "x", "role": "viewer"}, token_from="/users")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert '<span class="field-error">هذا الحقل مطلوب.</span>' in html and "This field is required." not in html


def _frozen(value):
    return value if isinstance(value, str) else tuple(value)


def _catalog_messages(catalog) -> dict:
    """(msgid or (msgid, msgid_plural), msgctxt) -> msgstr or its plural forms; read_mo gives lists, read_po tuples."""
    return {(_frozen(message.id), message.context): _frozen(message.string) for message in catalog if message.id}


def test_compiled_catalogue_matches_its_source():
    """The committed .mo is the compiled .po (run `pybabel compile -d dashboard/translations` after editing)."""
    with (
        open(TRANSLATIONS / "ar/LC_MESSAGES/messages.po", "rb") as po,
        open(TRANSLATIONS / "ar/LC_MESSAGES/messages.mo", "rb") as mo,
    ):
        source, compiled = read_po(po), read_mo(mo)
    assert _catalog_messages(compiled) == _catalog_messages(source)


def test_every_message_in_the_code_has_an_arabic_translation():
    """A new or changed string in a template or view must be translated (see dashboard/translations/README.md)."""
    keywords = {
        "_": None,
        "gettext": None,
        "lazy_gettext": None,
        "_l": None,
        "ngettext": (1, 2),
        "pgettext": ((1, "c"), 2),
        "npgettext": ((1, "c"), 2, 3),
    }
    method_map = [("dashboard/**.py", "python"), ("templates/**.html", "jinja2")]
    used = {
        (_frozen(message), context)
        for _, _, message, _, context in extract_from_dir(str(REPO), method_map, keywords=keywords)
        if message
    }
    with open(TRANSLATIONS / "ar/LC_MESSAGES/messages.po", "rb") as po:
        translated = {
            key
            for key, value in _catalog_messages(read_po(po)).items()
            if (value if isinstance(value, str) else all(value))
        }
    assert used - translated == set()
