"""A manager re-processes a rejected sale in a real browser, in English and in Arabic: a real till
request to a real multi-worker gunicorn on PostgreSQL, the missing product added, one click, one order."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import requests
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import func, select

from dashboard.domain.catalog import ProductRow, import_products
from dashboard.domain.devices import add_device
from dashboard.domain.users import create_user
from dashboard.extensions import db
from dashboard.models import Order, Product
from tests.browser.test_smoke import CHROMIUM_ARGS
from tests.conftest import make_app, new_database
from tests.support.gunicorn import GunicornServer
from tests.support.sales import bearer, load_catalog, make_sale

pytestmark = pytest.mark.slow

EMAIL, PASSWORD = "manager@example.com", "correct horse battery"
TYPO = "CROISANT"


@pytest.fixture
def server(request, redis_server, tmp_path):
    """gunicorn -w 2 on PostgreSQL with a manager, a till and the catalogue; the app, to act as an operator."""
    url = new_database("postgres", request, tmp_path)
    app = make_app(url, redis_server.url, tmp_path)
    with app.app_context():
        create_user(EMAIL, PASSWORD, "manager")
        token = add_device("T01")
        load_catalog()
        db.session.remove()
    gunicorn = GunicornServer(url, redis_server.url, workers=2)
    try:
        yield gunicorn.start(), token, app
    finally:
        gunicorn.stop()
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_rejected_sale_is_reprocessed_after_the_product_is_added(server, locale):
    gunicorn, token, app = server
    sale = make_sale(receipt_number="T01-008001", lines=[{"sku": TYPO, "quantity": "2", "unit_price": "1.80"}])
    replay = make_sale(receipt_number="T01-008002")
    answer = requests.post(
        gunicorn.url + "/api/v1/sync", json={"orders": [sale, replay, replay]}, headers=bearer(token), timeout=10
    ).json()
    assert [result["status"] for result in answer["results"]] == ["rejected", "created", "duplicate"]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
            page = context.new_page()
            page.goto(gunicorn.url + "/login")
            if locale == "ar":
                page.click("form.language button[value='ar']")
                expect(page.locator("html")).to_have_attribute("dir", "rtl")
            page.fill("#email", EMAIL)
            page.fill("#password", PASSWORD)
            page.click("form:has(#password) button[type=submit]")
            expect(page).to_have_url(gunicorn.url + "/")

            card = page.locator("section[aria-labelledby='rejected-money']")
            if locale == "en":
                expect(card).to_contain_text("3.60")
                expect(card).to_contain_text("1 rejected sale needs action")
            card.locator("a[href='/skipped/sales?state=action']").click()

            # Only the rejection needs action: the replay is not listed.
            sales = page.locator("article.skipped-sale")
            expect(sales).to_have_count(1)
            expect(sales.first).to_contain_text("T01-008001")
            expect(sales.first.locator("code.code-detail")).to_have_text("unknown_sku")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways panning
            page.screenshot(path=f"/tmp/skipped-list-{locale}.png", full_page=True)

            # Too early: the product is still missing, so the sale is refused again and still listed.
            sales.first.locator("form[action$='/reprocess'] button").click()
            expect(page.locator(".flash.error")).to_have_count(1)
            expect(page.locator(".refused-again code.code-detail")).to_have_text("unknown_sku")

            with app.app_context():  # the manager (or an operator) adds the product the till typed
                import_products([ProductRow(TYPO, "Croissant", Decimal("1.80"), Decimal("10"))])
                db.session.remove()

            stale = context.new_page()  # a second tab, still showing the button
            stale.goto(gunicorn.url + "/skipped/sales")
            expect(stale.locator("form[action$='/reprocess'] button")).to_have_count(1)

            page.click("form[action$='/reprocess'] button")
            expect(page.locator(".flash.info")).to_have_count(1)
            link = page.locator("dd.state a[href^='/orders/']")
            expect(link).to_have_count(1)
            expect(page.locator("form[action$='/reprocess']")).to_have_count(0)  # nothing left to click
            page.screenshot(path=f"/tmp/skipped-{locale}.png", full_page=True)

            # The second tab's click comes too late: it is told so, and stores nothing more.
            stale.click("form[action$='/reprocess'] button")
            expect(stale.locator(".flash.error")).to_have_count(1)
            expect(stale.locator("dd.state a[href^='/orders/']")).to_have_count(1)

            link.click()
            expect(page).to_have_url(re.compile(r"/orders/\d+$"))
            expect(page.locator("body")).to_contain_text(TYPO)
            page.goto(gunicorn.url + "/skipped/sales")
            expect(page.locator("article.skipped-sale")).to_have_count(0)
        finally:
            browser.close()

    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).select_from(Order).where(Order.offline_id == sale["offline_id"]))
            == 1
        )
        assert db.session.scalar(select(Product.stock_quantity).where(Product.sku == TYPO)) == Decimal("8")
        db.session.remove()
