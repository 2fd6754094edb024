"""A person's first minutes, in a real browser against a real multi-worker gunicorn on PostgreSQL:
sign in, read the overview, open the sync logs, a sync call and an order, switch to Arabic."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from dashboard.domain.catalog import ProductRow, import_products
from dashboard.domain.devices import add_device
from dashboard.domain.users import create_user
from dashboard.extensions import db
from tests.conftest import make_app, new_database
from tests.support.gunicorn import GunicornServer
from tests.support.sales import CATALOG, bearer, make_sale

pytestmark = pytest.mark.slow

EMAIL, PASSWORD = "manager@example.com", "correct horse battery"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = "/tmp/overview.png"


@pytest.fixture
def server(request, redis_server, tmp_path):
    """gunicorn -w 2 on a fresh PostgreSQL database holding a manager, a till and the catalogue."""
    url = new_database("postgres", request, tmp_path)
    app = make_app(url, redis_server.url, tmp_path)
    with app.app_context():
        create_user(EMAIL, PASSWORD, "manager")
        token = add_device("T01 <front>")
        import_products(
            [ProductRow(sku, name, Decimal(price), Decimal(stock)) for sku, (name, price, stock) in CATALOG.items()]
        )
        db.session.remove()
        db.engine.dispose()
    gunicorn = GunicornServer(url, redis_server.url, workers=2)
    try:
        yield gunicorn.start(), token
    finally:
        gunicorn.stop()


def test_sign_in_overview_sync_log_order_and_arabic(server):
    gunicorn, token = server
    sale = make_sale(receipt_number="T01-004242")
    unknown = make_sale(lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "1.00"}])
    answer = requests.post(
        gunicorn.url + "/api/v1/sync",
        json={"batch_id": "morning", "orders": [sale, sale, unknown]},
        headers=bearer(token),
        timeout=10,
    ).json()
    assert [result["status"] for result in answer["results"]] == ["created", "duplicate", "rejected"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
            page.goto(gunicorn.url + "/sync-logs")
            expect(page).to_have_url(re.compile(r"/login\?next="))
            page.fill("#email", EMAIL)
            page.fill("#password", "wrong password")
            page.click("button.primary")
            expect(page.locator(".flash.error")).to_have_text("Wrong email or password.")
            page.fill("#email", EMAIL)
            page.fill("#password", PASSWORD)
            page.click("button.primary")
            expect(page).to_have_url(gunicorn.url + "/sync-logs")  # back where the person was going

            page.click("nav.mainnav >> text=Overview")
            expect(page.locator("h1")).to_have_text("Overview")
            expect(page.locator(".tile", has_text="sales synced today").locator(".figure")).to_have_text("1")
            expect(page.locator(".tile", has_text="replays absorbed today").locator(".figure")).to_have_text("1")
            expect(page.locator(".tile", has_text="rejections today").locator(".figure")).to_have_text("1")
            assert page.locator("svg.chart rect.bar-created").count() == 1
            assert page.locator("nav.mainnav a", has_text="Devices").count() == 0  # a manager's navigation
            page.screenshot(path=SCREENSHOT, full_page=True)

            page.click("nav.mainnav >> text=Sync logs")
            row = page.locator("tbody tr").first
            expect(row).to_contain_text("T01 <front>")  # shown as text, not markup
            expect(row).to_contain_text("morning")
            row.locator("a").first.click()
            expect(page.locator("h1")).to_have_text(f"Sync call #{answer['sync_id']}")
            expect(page.locator(".badge.rejected")).to_have_text("rejected")
            page.click(f"a[href='/orders/{answer['results'][0]['order_id']}']")
            expect(page.locator("h1")).to_contain_text(f"Order #{answer['results'][0]['order_id']}")
            expect(page.locator("table").first).to_contain_text("Coffee")

            page.click("form.language button[value='ar']")
            expect(page.locator("html")).to_have_attribute("dir", "rtl")
            expect(page.locator("html")).to_have_attribute("lang", "ar")
            expect(page.locator("h1")).to_contain_text("الطلب رقم")
            page.click("nav.mainnav >> text=نظرة عامة")
            expect(page.locator("h1")).to_have_text("نظرة عامة")
            page.screenshot(path="/tmp/overview-ar.png", full_page=True)
        finally:
            browser.close()
