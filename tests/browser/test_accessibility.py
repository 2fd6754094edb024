"""Every dashboard page, in English and Arabic, in a real Chromium against a real gunicorn on PostgreSQL:
axe-core finds no serious or critical violation, and on a 390×844 phone nothing pans sideways and the
right-to-left page does not open already scrolled.

The pages come from the app's own URL map, so a new page is checked as soon as it exists; a page whose
URL needs an id this test does not know fails loudly until the seed below provides one.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import datetime

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import url_for
from playwright.sync_api import sync_playwright
from sqlalchemy import select

from dashboard.domain.devices import add_device
from dashboard.domain.duplicates import run_scan
from dashboard.domain.fixes import compute_plan, fix_now, request_plan
from dashboard.domain.stores import add_store
from dashboard.domain.users import create_user
from dashboard.extensions import db
from dashboard.models import Device, DuplicateGroup, Order, SyncAttempt, SyncLog, User
from tests.browser.test_smoke import CHROMIUM_ARGS
from tests.conftest import make_app, new_database
from tests.domain.legacy_data import write_legacy_file
from tests.support.gunicorn import GunicornServer
from tests.support.sales import bearer, load_catalog, make_sale

pytestmark = pytest.mark.slow

EMAIL, PASSWORD = "admin@example.com", "correct horse battery"
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
DESKTOP = {"width": 1280, "height": 900}
LANGUAGES = {"en": "en-GB", "ar": "ar"}
# Endpoints that answer with data for scripts or downloads, not a page a person reads.
NOT_PAGES = {
    "admin.healthz",
    "admin.scan_status",
    "admin.fix_plan_status",
    "admin.fix_plan_csv",
    "admin.skipped_sales_csv",
}
SERIOUS = {"serious", "critical"}
SCREENSHOTS = os.environ.get("A11Y_SCREENSHOTS")  # a folder: every page at phone size, for people to look at


@pytest.fixture
def server(request, redis_server, tmp_path):
    """gunicorn on PostgreSQL, seeded through the real code paths with something for every page to show."""
    redis_server.flush()
    url = new_database("postgres", request, tmp_path)
    app = make_app(url, redis_server.url, tmp_path)
    with app.app_context():
        create_user(EMAIL, PASSWORD, "admin")
        # A chain: the users page offers stores to limit people to, the overview a store filter; a long
        # store name must wrap on a phone.
        add_store("AMM", name="Amman, the old town branch up by the citadel", time_zone="Asia/Amman", currency="JOD")
        create_user("amman.manager@example.com", PASSWORD, "manager", stores=["AMM"])
        token = add_device("T01 <front>")
        load_catalog()
        path = write_legacy_file(tmp_path / "old.jsonl")
        assert app.test_cli_runner().invoke(args=["legacy", "import", str(path)]).exit_code == 0
        client = app.test_client()
        long_receipt = "T01-" + "9" * 52  # a till can send a very long receipt number: it must not widen pages
        sales = [make_sale(receipt_number=long_receipt), make_sale(receipt_number="T01-000002")]
        unknown = make_sale(lines=[{"sku": "CROISANT", "quantity": "1", "unit_price": "1.80"}])
        answer = client.post(
            "/api/v1/sync", json={"batch_id": "morning", "orders": [*sales, sales[0], unknown]}, headers=bearer(token)
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        # A refused call, for the refused-calls page to list.
        assert client.post("/api/v1/sync", json={"orders": []}, headers=bearer("a wrong token")).status_code == 401
        # A daily close that differs every way a till's can: a sale refused, one never sent, one not counted.
        day = datetime.fromisoformat(sales[1]["created_at"]).date()
        close = {
            "business_day": day.isoformat(),
            "sales_count": 3,
            "sales_total": "20.00",
            "first_receipt": long_receipt,
            "last_receipt": "T01-000009",
            "offline_ids": [sales[1]["offline_id"], unknown["offline_id"], str(uuid.uuid4())],
        }
        answer = client.post("/api/v1/closings", json=close, headers=bearer(token))
        assert answer.status_code == 200 and answer.get_json()["status"] == "differs", answer.get_data(as_text=True)
        run_scan(trigger="test", actor="scanner@example.com")
        groups = dict(db.session.execute(select(DuplicateGroup.kind, DuplicateGroup.id)).all())
        fix = fix_now([(groups["same_offline_id"], None)], "admin@example.com")
        plan_id = request_plan([(groups["same_invoice_same_content"], None)], "admin@example.com")
        compute_plan(plan_id)
        ids = {
            "order_id": db.session.scalar(select(Order.id).where(Order.receipt_number == long_receipt)),
            "sync_id": db.session.scalar(select(SyncLog.id).order_by(SyncLog.id.desc())),
            "group_id": groups["invoice_collision"],
            "plan_id": plan_id,
            "fix_id": fix.fix_id,
            "device_id": db.session.scalar(select(Device.id)),
            "user_id": db.session.scalar(select(User.id)),
            "day": day.isoformat(),
            "attempt_id": db.session.scalar(
                select(SyncAttempt.id).where(SyncAttempt.offline_id == unknown["offline_id"])
            ),
        }
        # A group page in its other states too: open with a choice of order to keep, and fixed.
        pages = dashboard_pages(app, ids) + [
            f"/duplicates/{groups[kind]}" for kind in ("same_invoice_same_content", "same_offline_id")
        ]
        db.session.remove()
        db.engine.dispose()
    gunicorn = GunicornServer(url, redis_server.url, workers=2)
    try:
        yield gunicorn.start(), pages
    finally:
        gunicorn.stop()


def dashboard_pages(app, ids: dict) -> list[str]:
    """Every GET page of the dashboard, with its ids filled from the seed."""
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.endpoint.startswith("admin.") or rule.endpoint in NOT_PAGES:
            continue
        missing = rule.arguments - ids.keys()
        assert not missing, f"{rule.rule}: seed a {', '.join(sorted(missing))} for this page in this test"
        with app.test_request_context():
            pages.append(url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments}))
    return sorted(set(pages))


def problems(axe: Axe, page) -> list[str]:
    results = axe.run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(
            node["target"][0] if isinstance(node["target"][0], str) else json.dumps(node["target"])
            for node in v["nodes"][:4]
        )
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


def scroll_state(page) -> dict:
    return page.evaluate("""() => {
        const el = document.scrollingElement;
        return {scrollWidth: el.scrollWidth, clientWidth: el.clientWidth, scrollX: window.scrollX};
    }""")


def test_every_page_is_accessible_and_fits_a_phone_in_both_languages(server):
    gunicorn, pages = server
    assert "/" in pages and "/orders" in pages and any(p.startswith("/duplicates/") for p in pages)
    axe = Axe()
    failures: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            for language, browser_locale in LANGUAGES.items():
                context = browser.new_context(viewport=PHONE, locale=browser_locale)
                page = context.new_page()
                page.goto(gunicorn.url + "/login")
                check(page, axe, f"{language} /login", failures, language)
                page.fill("#email", EMAIL)
                page.fill("#password", PASSWORD)
                page.click("button.primary")
                page.wait_for_url(gunicorn.url + "/")
                assert page.locator("html").get_attribute("lang") == language
                keyboard_and_menu(page)
                for path in [*pages, "/orders/999999999"]:  # and the not-found page
                    page.goto(gunicorn.url + path)
                    check(page, axe, f"{language} {path}", failures, language)
                # A page only a form leads to: the new till's token, shown once.
                page.goto(gunicorn.url + "/devices")
                page.fill("#name", f"T-{language}")
                page.click("form.inline button.primary")
                page.wait_for_selector(".token")
                check(page, axe, f"{language} new till's token", failures, language)
                context.close()
        finally:
            browser.close()
    assert not failures, "\n".join(failures)


def check(page, axe: Axe, where: str, failures: list[str], language: str) -> None:
    """The phone checks at 390×844 (and no panning on a tablet or desktop), then axe at desktop width too,
    where the whole navigation shows."""
    state = scroll_state(page)
    if state["scrollWidth"] > state["clientWidth"]:
        failures.append(f"{where}: pans sideways at 390px ({state['scrollWidth']} > {state['clientWidth']})")
    if language == "ar" and state["scrollX"] != 0:
        failures.append(f"{where}: opens scrolled sideways ({state['scrollX']})")
    failures.extend(f"{where} (phone): {problem}" for problem in problems(axe, page))
    if SCREENSHOTS:
        name = re.sub(r"[^\w]+", "-", where).strip("-")
        page.screenshot(path=f"{SCREENSHOTS}/phone-{name}.png", full_page=True)
    for size in (TABLET, DESKTOP):
        page.set_viewport_size(size)
        state = scroll_state(page)
        if state["scrollWidth"] > state["clientWidth"]:
            failures.append(f"{where}: pans sideways at {size['width']}px ({state['scrollWidth']})")
    failures.extend(f"{where}: {problem}" for problem in problems(axe, page))
    page.set_viewport_size(PHONE)


def keyboard_and_menu(page) -> None:
    """The first Tab reaches the skip link, which moves focus to the content; on a phone the menu is
    one button that opens the navigation."""
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    navigation = page.locator("nav.mainnav")
    assert not navigation.is_visible()
    header_height = page.locator("header.topbar").bounding_box()["height"]
    assert header_height < 844 / 10, header_height  # one line, not a quarter of the screen
    page.click("details.menu > summary")
    assert navigation.is_visible() and page.locator("nav.mainnav a[aria-current=page]").is_visible()
    page.keyboard.press("Escape")
    assert not navigation.is_visible()
