"""Money and time as a manager reads them: the shop's currency, the dashboard's time zone (Asia/Riyadh
here, so UTC and local days differ), numbers in right-to-left pages, the overview's figures and the
orders list; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import flask_babel
import pytest
from sqlalchemy import select, update

from dashboard.admin.i18n import money, number, quantity, when
from dashboard.config import SettingError, load_settings
from dashboard.domain import reports
from dashboard.domain.devices import add_device
from dashboard.domain.duplicates import run_scan
from dashboard.domain.fix_plans import build_plan, open_certain_selection, targets_for_groups
from dashboard.extensions import db
from dashboard.models import SyncAttempt, SyncLog
from tests.admin.conftest import post_form
from tests.admin.duplicates_support import scanned_books
from tests.conftest import make_app
from tests.support.sales import bearer, make_sale

ZONE = "Asia/Riyadh"  # UTC+3 all year: local midnight is 21:00 UTC the day before
LRI, PDI = "\u2066", "\u2069"


@pytest.fixture
def app(database_url, redis_server, tmp_path):
    """The dashboard of a shop in Riyadh (overrides the package-wide `app`)."""
    app = make_app(database_url, redis_server.url, tmp_path, BABEL_DEFAULT_TIMEZONE=ZONE)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def rendered(app, language: str, function, *args):
    with app.test_request_context(headers={"Accept-Language": language}):
        flask_babel.refresh()
        return function(*args)


def sync(client, token: str, *sales) -> dict:
    response = client.post("/api/v1/sync", json={"orders": list(sales)}, headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_money_has_the_currency_and_its_minor_units(app):
    assert rendered(app, "en", money, Decimal("8.2")) == "€8.20"
    assert rendered(app, "en", money, Decimal("-1234.5")) == "-€1,234.50"
    app.config["DASHBOARD_CURRENCY"] = "KWD"  # three decimals
    assert rendered(app, "en", money, Decimal("8.2")) == "KWD8.200"
    # Arabic: the locale's order (amount, then symbol); the signed figure isolated left-to-right.
    assert rendered(app, "ar", money, Decimal("-400")) == f"{LRI}-400.000{PDI}\u00a0د.ك."
    app.config["DASHBOARD_CURRENCY"] = "JPY"  # no minor unit
    assert rendered(app, "en", money, Decimal("1200")) == "¥1,200"
    assert rendered(app, "en", money, None) == ""


def test_negative_numbers_read_right_in_arabic(app):
    # In a right-to-left paragraph a bare "-400" is displayed "400-"; isolated, it stays "-400".
    assert rendered(app, "ar", quantity, Decimal("-400")) == f"{LRI}-400{PDI}"
    assert rendered(app, "ar", number, -3) == f"{LRI}-3{PDI}"
    assert rendered(app, "en", quantity, Decimal("-400")) == "-400"
    assert "\u200e" not in rendered(app, "ar", quantity, Decimal("-2.5"))  # no stray marks inside the isolate


def test_times_are_in_the_dashboard_zone_and_say_so(app):
    moment = datetime(2026, 11, 24, 21, 30, tzinfo=timezone.utc)
    assert rendered(app, "en", when, moment) == "Nov 25, 2026, 12:30:00\u202fAM (Asia/Riyadh)"
    assert rendered(app, "ar", when, moment).endswith(f"({LRI}Asia/Riyadh{PDI})")


def test_settings_refuse_an_unknown_currency_or_zone(monkeypatch, tmp_path):
    monkeypatch.setenv("DASHBOARD_CURRENCY", "kwd")
    assert load_settings(str(tmp_path))["DASHBOARD_CURRENCY"] == "KWD"
    monkeypatch.setenv("DASHBOARD_CURRENCY", "EURO")
    with pytest.raises(SettingError, match="DASHBOARD_CURRENCY"):
        load_settings(str(tmp_path))
    monkeypatch.setenv("DASHBOARD_CURRENCY", "EUR")
    monkeypatch.setenv("DASHBOARD_TIMEZONE", "Asia/Riyad")
    with pytest.raises(SettingError, match="DASHBOARD_TIMEZONE"):
        load_settings(str(tmp_path))


def test_order_page_shows_local_time_with_its_zone(client, signed_in, token, catalog):
    sale = make_sale(created_at="2026-11-24T21:30:00+00:00")
    order_id = sync(client, token, sale)["results"][0]["order_id"]
    html = text_of(signed_in("viewer").get(f"/orders/{order_id}"))
    assert "<dt>Sold at</dt><dd>Nov 25, 2026, 12:30:00\u202fAM (Asia/Riyadh)</dd>" in html
    assert "<dt>Total</dt><dd>€8.20</dd>" in html


def test_date_filters_are_local_days(client, signed_in, token, catalog):
    """`to=2026-11-25` ends at midnight in Riyadh (21:00 UTC), not at midnight UTC."""
    late_24th = make_sale(receipt_number="T01-200001", created_at="2026-11-24T20:30:00+00:00")  # 23:30 local, 24th
    early_25th = make_sale(receipt_number="T01-200002", created_at="2026-11-24T21:30:00+00:00")  # 00:30 local, 25th
    early_26th = make_sale(receipt_number="T01-200003", created_at="2026-11-25T21:30:00+00:00")  # 00:30 local, 26th
    sync(client, token, late_24th, early_25th, early_26th)
    viewer = signed_in("viewer")

    def receipts(**period) -> list[str]:
        html = text_of(viewer.get("/orders", query_string=period))
        return [number for number in ("T01-200001", "T01-200002", "T01-200003") if number in html]

    assert receipts(**{"from": "2026-11-25", "to": "2026-11-25"}) == ["T01-200002"]
    assert receipts(to="2026-11-25") == ["T01-200001", "T01-200002"]
    assert receipts(**{"from": "2026-11-26"}) == ["T01-200003"]


def test_sync_logs_filter_on_local_days(client, signed_in, token, catalog):
    sync_id = sync(client, token, make_sale())["sync_id"]
    db.session.execute(update(SyncLog).values(started_at=datetime(2026, 11, 24, 21, 30, tzinfo=timezone.utc)))
    db.session.commit()
    viewer = signed_in("viewer")
    link = f'href="/sync-logs/{sync_id}"'
    on_25th = text_of(viewer.get("/sync-logs", query_string={"from": "2026-11-25", "to": "2026-11-25"}))
    assert link in on_25th and "Nov 25, 2026, 12:30:00\u202fAM (Asia/Riyadh)" in on_25th
    assert link not in text_of(viewer.get("/sync-logs", query_string={"to": "2026-11-24"}))
    assert link in text_of(viewer.get("/sync-logs", query_string={"from": "2026-11-25"}))


def test_skipped_sales_are_counted_by_local_day(client, signed_in, token, catalog):
    unknown = make_sale(lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "1.00"}])
    sync(client, token, unknown)
    db.session.execute(update(SyncAttempt).values(received_at=datetime(2026, 11, 24, 21, 30, tzinfo=timezone.utc)))
    db.session.commit()
    viewer = signed_in("viewer")
    on_25th = text_of(viewer.get("/skipped", query_string={"from": "2026-11-25", "to": "2026-11-25"}))
    assert "<td>Nov 25, 2026</td>" in on_25th and "unknown_sku" in on_25th
    assert "Days are in Asia/Riyadh time." in on_25th
    on_24th = text_of(viewer.get("/skipped", query_string={"from": "2026-11-24", "to": "2026-11-24"}))
    assert "No skipped sales need action." in on_24th  # the list opens on what needs action
    export = viewer.get("/skipped/sales.csv", query_string={"from": "2026-11-25", "to": "2026-11-25"})
    assert export.get_data().startswith("\ufeff".encode())
    assert "2026-11-25T00:30:00+03:00" in export.get_data().decode("utf-8-sig")


def test_local_days_across_a_clock_change(client, token, catalog):
    """Paris leaves summer time on 2026-10-25 at 01:00 UTC: each side keeps its own offset (SQLite's CASE)."""
    unknown = [make_sale(lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "1.00"}]) for _ in range(2)]
    sync(client, token, *unknown)
    ids = db.session.scalars(select(SyncAttempt.id).order_by(SyncAttempt.id)).all()
    for attempt_id, at in zip(
        ids,
        (
            datetime(2026, 10, 24, 22, 30, tzinfo=timezone.utc),  # 00:30 CEST, 25th
            datetime(2026, 10, 25, 23, 30, tzinfo=timezone.utc),
        ),
    ):  # 00:30 CET, 26th
        db.session.execute(update(SyncAttempt).where(SyncAttempt.id == attempt_id).values(received_at=at))
    db.session.commit()
    counts = reports.skipped_counts(
        start=datetime(2026, 10, 20, 22, tzinfo=timezone.utc),
        end=datetime(2026, 10, 31, 23, tzinfo=timezone.utc),
        zone="Europe/Paris",
    )
    assert sorted(row.day for row in counts.items) == [date(2026, 10, 25), date(2026, 10, 26)]


def test_orders_are_listed_by_sale_time_in_keyset_pages(client, signed_in, token, catalog):
    # Stored in one order, sold in another; two sales share an instant (ties break on id).
    times = [
        "2026-11-20T10:00:00+00:00",
        "2026-11-22T10:00:00+00:00",
        "2026-11-21T10:00:00+00:00",
        "2026-11-22T10:00:00+00:00",
        "2026-11-19T10:00:00+00:00",
    ]
    results = sync(client, token, *(make_sale(created_at=at) for at in times))["results"]
    ids = [result["order_id"] for result in results]
    expected = [order_id for _, order_id in sorted(zip(times, ids), reverse=True)]  # the tie: higher id first
    assert expected[2:] == [ids[2], ids[0], ids[4]]
    seen, before = [], None
    while True:
        page = reports.find_orders(before=before, per_page=2)
        seen += [row.id for row in page.items]
        if page.older is None:
            break
        before = page.older
    assert seen == expected
    back = reports.find_orders(after=expected[2], per_page=2)
    assert [row.id for row in back.items] == expected[:2]
    html = text_of(signed_in("viewer").get("/orders"))
    assert [html.index(f'href="/orders/{order_id}"') for order_id in expected] == sorted(
        html.index(f'href="/orders/{order_id}"') for order_id in expected
    )


def test_receipt_search_by_its_start_or_without_the_till_prefix(client, signed_in, token, other_token, catalog):
    sync(
        client,
        token,
        make_sale(receipt_number="T01-100002"),
        make_sale(receipt_number="T01-100003"),
        make_sale(receipt_number="T01-900002"),
    )
    sync(client, other_token, make_sale(prefix="T02", receipt_number="T02-100002"))
    viewer = signed_in("viewer")

    def found(query: str) -> set[str]:
        html = text_of(viewer.get("/orders", query_string={"q": query}))
        return {n for n in ("T01-100002", "T01-100003", "T01-900002", "T02-100002") if f"<bdi>{n}</bdi>" in html}

    assert found("100002") == {"T01-100002", "T02-100002"}  # typed without the till's prefix
    assert found("T01-10000") == {"T01-100002", "T01-100003"}  # the start of a number
    assert found("t01-100002") == {"T01-100002"}
    assert found("10000") == {"T01-100002", "T01-100003", "T02-100002"}
    assert found("00002") == set()  # the start of the number, not any part of it
    assert found("%") == set() and found("T01_") == set()  # LIKE wildcards are plain characters


def test_overview_leads_with_sales_today_money_counted_twice_and_silent_tills(
    app, client, signed_in, token, other_token, catalog, tmp_path
):
    now = datetime.now(timezone.utc)
    tea = [{"sku": "TEA", "quantity": "1", "unit_price": "2.00"}]
    sync(
        client, token, make_sale(), make_sale(lines=tea), make_sale(created_at="2020-01-01T10:00:00+00:00")
    )  # long ago: not today
    # T02 rings one basket twice, 30 seconds apart, under new ids and receipts: a double entry to review.
    sync(
        client,
        other_token,
        make_sale(prefix="T02", lines=tea, created_at=(now - timedelta(seconds=60)).isoformat()),
        make_sale(prefix="T02", lines=tea, created_at=(now - timedelta(seconds=30)).isoformat()),
    )
    add_device("T03")  # in service, never synced
    # Older books imported from a legacy system: one group of every kind, certain ones included.
    scanned_books(app, tmp_path)
    run_scan(trigger="test", actor="test")
    # What a fix would void, as the fix plans work it out: the overview must say the same.
    certain = build_plan(targets_for_groups(open_certain_selection(("same_offline_id", "same_invoice_same_content"))))
    review = build_plan(targets_for_groups(open_certain_selection(("suspected_double_entry",))))

    html = text_of(signed_in("viewer").get("/"))
    sales = html.split('id="sales-today"')[1].split("</section>")[0]
    # Today: T01 8.20 + 2.00, T02 2.00 twice (both still counted: the second is not voided yet).
    assert "€14.20" in sales and "4 sales since midnight (Asia/Riyadh)" in sales
    assert '<bdi>T01</bdi></a></td>\n            <td class="num">2</td><td class="num">€10.20</td>' in sales
    assert '<bdi>T02</bdi></a></td>\n            <td class="num">2</td><td class="num">€4.00</td>' in sales
    twice = html.split('id="counted-twice"')[1].split("</section>")[0]
    for plan, words in ((certain, "of certain duplicate groups"), (review, "of groups to review")):
        voided = plan["totals"]["orders_voided"]
        assert voided >= 1
        assert f'<span class="figure">€{Decimal(plan["totals"]["revenue_removed"]["EUR"]):,.2f}</span>' in twice
        assert f"in {voided} order{'s' if voided > 1 else ''} {words}" in twice
    assert any(
        Decimal(action.get("total", "0")) == Decimal("2") for group in review["groups"] for action in group["actions"]
    )
    silent = html.split('id="silent-tills"')[1].split("</section>")[0]
    assert "<bdi>T03</bdi>" in silent and "<bdi>T01</bdi>" not in silent
    assert "more than 60 minutes" in silent


def test_negative_stock_reads_right_on_the_arabic_overview(client, signed_in, token, catalog):
    sync(client, token, make_sale(lines=[{"sku": "COFFEE", "quantity": "500", "unit_price": "2.50"}]))
    viewer = signed_in("viewer")
    post_form(viewer, "/profile", {"locale": "ar"}, token_from="/profile")
    html = text_of(viewer.get("/"))
    assert 'dir="rtl"' in html
    assert f'<td class="num negative">{LRI}-400{PDI}</td>' in html  # not "400-"
    assert f"{LRI}1,250.00{PDI}\u00a0€" in html  # today's revenue, the figure isolated, the symbol after it
