"""A manager fixes a duplicate in a real browser: real gunicorn, real RQ worker, PostgreSQL.

Open a group, preview the fix, watch the progress bar (polled by static/js/progress.js) reach 100%,
approve, watch it being applied, and see the group fixed and the duplicate order void.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import create_engine, select, text

from dashboard.domain.catalog import ProductRow, import_products
from dashboard.domain.duplicates import run_scan
from dashboard.domain.users import create_user
from dashboard.extensions import db
from dashboard.models import DuplicateGroup, Order
from tests.browser.test_smoke import CHROMIUM_ARGS
from tests.conftest import make_app, new_database
from tests.domain.legacy_data import write_legacy_file
from tests.support.gunicorn import REPO, GunicornServer
from tests.support.sales import CATALOG

pytestmark = pytest.mark.slow

EMAIL, PASSWORD = "manager@example.com", "correct horse battery"
SCREENSHOT = "/tmp/plan.png"


@dataclass
class Books:
    url: str  # the server's database
    groups: dict[str, int]  # kind -> group id

    def statuses(self) -> dict[str, str]:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return dict(conn.execute(text("SELECT kind, status FROM duplicate_groups")).all())
        finally:
            engine.dispose()


class RqWorker:
    """`flask worker` (not burst) as operators run it, on the server's database and Redis."""

    def __init__(self, env: dict):
        self.env = env
        self.log = open(os.path.join(env["TILLSYNC_INSTANCE_PATH"], "worker.log"), "w+b")
        self.process: subprocess.Popen | None = None

    def start(self) -> RqWorker:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        return self

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # RQ's warm shutdown: the current job finishes first
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def server(request, redis_server, tmp_path):
    """gunicorn -w 2 on PostgreSQL holding a manager and legacy sales with one group of every duplicate kind."""
    redis_server.flush()
    url = new_database("postgres", request, tmp_path)
    app = make_app(url, redis_server.url, tmp_path)
    with app.app_context():
        create_user(EMAIL, PASSWORD, "manager")
        import_products([ProductRow(sku, name, price, stock) for sku, (name, price, stock) in CATALOG.items()])
        path = write_legacy_file(tmp_path / "old.jsonl")
        assert app.test_cli_runner().invoke(args=["legacy", "import", str(path)]).exit_code == 0
        run_scan(trigger="test", actor="scanner@example.com")
        groups = dict(db.session.execute(select(DuplicateGroup.kind, DuplicateGroup.id)).all())
        group_id = groups["same_offline_id"]
        orders = dict(db.session.execute(select(Order.legacy_id, Order.id)).all())
        db.session.remove()
        db.engine.dispose()
    gunicorn = GunicornServer(url, redis_server.url, workers=2)
    worker = RqWorker(gunicorn.env)
    try:
        yield gunicorn.start(), worker, group_id, orders, Books(url, groups)
    finally:
        worker.stop()
        gunicorn.stop()


def test_manager_previews_approves_and_sees_the_group_fixed(server):
    gunicorn, worker, group_id, orders, _books = server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
            policy_errors: list[str] = []
            page.on(
                "console",
                lambda message: (
                    policy_errors.append(message.text) if "Content Security Policy" in message.text else None
                ),
            )
            page.goto(gunicorn.url + "/duplicates")
            page.fill("#email", EMAIL)
            page.fill("#password", PASSWORD)
            page.click("button.primary")
            expect(page.locator("h1")).to_have_text("Duplicates")

            page.click(f"table.groups a[href='/duplicates/{group_id}']")
            expect(page.locator("h1")).to_contain_text(f"Duplicate group #{group_id}")
            expect(page.locator("table.compare tr.differs th")).to_have_count(3)  # invoice, receipt, sold at
            expect(page.locator(f"input[name=keep][value='{orders['L1']}']")).to_be_checked()  # the earliest
            page.screenshot(path="/tmp/group.png", full_page=True)
            page.click("button:has-text('Preview fix')")

            # No worker yet: the plan waits, and the page polls for it.
            expect(page).to_have_url(re.compile(r"/fix-plans/\d+$"))
            plan_id = int(page.url.rsplit("/", 1)[1])
            expect(page.locator(".progress-box[data-status='computing']")).to_have_count(1)
            expect(page.locator("[data-progress-label]")).to_have_text("Waiting for a worker")
            expect(page.locator("progress")).to_have_attribute("value", "0")
            worker.start()
            expect(page.locator("progress")).to_have_attribute("value", "100", timeout=30_000)
            expect(page.locator("#progress h2")).to_have_text("Preview finished", timeout=30_000)
            expect(page.locator("ol.plan-steps > li")).to_have_count(2)
            expect(page.locator("ol.plan-steps")).to_contain_text("Void order")
            expect(page.locator("ol.plan-steps")).to_contain_text("INV-2")
            expect(page.locator("dl.pairs", has_text="Orders voided")).to_contain_text("5.00")
            page.screenshot(path=SCREENSHOT, full_page=True)

            page.click("button:has-text('Approve and apply')")
            expect(page.locator(".flash")).to_have_text("Approved. The fix is being applied.")
            expect(page.locator("#result h2")).to_have_text("The fix is applied", timeout=30_000)
            expect(page.locator("h1 .badge")).to_have_text("applied")

            page.click(f"ol.plan-steps a[href='/duplicates/{group_id}']")
            expect(page.locator("h1 .badge")).to_have_text("fixed")
            expect(page.locator("button:has-text('Preview fix')")).to_have_count(0)
            page.click(f"table.compare a[href='/orders/{orders['L2']}']")
            expect(page.locator("h1 .badge")).to_have_text("void")
            expect(page.locator("body")).to_contain_text("Voided by fix #")
            expect(page.locator("body")).to_contain_text(f"order #{orders['L1']}")
            page.goto(f"{gunicorn.url}/fix-plans/{plan_id}")
            page.click("form.language button[value='ar']")
            expect(page.locator("html")).to_have_attribute("dir", "rtl")
            expect(page.locator("#result h2")).to_have_text("طُبّق التصحيح")
            page.screenshot(path="/tmp/plan-ar.png", full_page=True)
            assert policy_errors == []
            assert f"fix-apply-{plan_id}" in worker.output()
        finally:
            browser.close()


def sign_in(page, url: str) -> None:
    page.goto(url)
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button.primary")


@pytest.mark.parametrize("locale", ["en-GB", "ar"])
def test_manager_fixes_every_certain_group_in_one_click_from_the_overview(server, locale):
    gunicorn, worker, _group_id, _orders, books = server
    worker.start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale=locale)
            sign_in(page, gunicorn.url + "/")
            expect(page.locator("html")).to_have_attribute("dir", "rtl" if locale == "ar" else "ltr")
            page.click("#fix-certain button[type=submit]")
            expect(page).to_have_url(re.compile(r"/fix-plans/\d+$"))
            expect(page.locator("section.approve button[type=submit]")).to_have_count(1, timeout=30_000)
            # One summary, per till (the legacy tills OLD-1, OLD-4, OLD-5), then the steps, then one Approve.
            expect(page.locator("#summary table.tills tbody tr")).to_have_count(3)
            expect(page.locator("#summary table.tills bdi")).to_have_text(["OLD-1", "OLD-4", "OLD-5"])
            expect(page.locator("ol.plan-steps > li")).not_to_have_count(0)
            page.screenshot(path=f"/tmp/one-click-{locale}.png", full_page=True)
            page.click("section.approve button[type=submit]")
            expect(page.locator("h1 .badge.plan-applied")).to_have_count(1, timeout=30_000)
            expect(page.locator("#result")).to_be_visible()
        finally:
            browser.close()
    statuses = books.statuses()
    assert {
        kind: statuses[kind]
        for kind in ("same_offline_id", "same_invoice_same_content", "duplicate_lines", "duplicate_movements")
    } == dict.fromkeys(
        ("same_offline_id", "same_invoice_same_content", "duplicate_lines", "duplicate_movements"), "fixed"
    )
    assert statuses["suspected_double_entry"] == "open" and statuses["invoice_collision"] == "open"


@pytest.mark.parametrize("locale", ["en-GB", "ar"])
def test_manager_ticks_a_review_group_and_dismisses_it(server, locale):
    gunicorn, _worker, _group_id, _orders, books = server
    collision = books.groups["invoice_collision"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale=locale)
            sign_in(page, gunicorn.url + "/duplicates")
            box = page.locator(f"#select-group-{collision}")
            expect(page.locator(f"label[for='select-group-{collision}']")).to_have_count(1)
            box.check()
            page.fill("#bulk-reason", "Two customers, checked on the camera")
            page.click("fieldset.bulk button[value=dismiss]")
            expect(page.locator(".flash")).to_have_count(1)
            expect(page.locator(f"#select-group-{collision}")).to_have_count(0)  # the open queue no longer has it
        finally:
            browser.close()
    statuses = books.statuses()
    assert statuses["invoice_collision"] == "dismissed" and statuses["suspected_double_entry"] == "open"
