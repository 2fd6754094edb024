"""Each screen renders real data, on SQLite and PostgreSQL; search, CSV export and escaping."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from dashboard.domain.devices import add_device
from dashboard.domain.duplicates import run_scan
from dashboard.extensions import db
from dashboard.models import Device, DuplicateGroup, StockLevel
from tests.support.sales import bearer, make_sale


def text_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_overview_shows_today_and_what_needs_a_look(app, client, signed_in, synced, token):
    add_device("T-silent")
    # T01 sells more coffee than it has: stock goes negative and the overview says so.
    big = make_sale(lines=[{"sku": "COFFEE", "quantity": "150", "unit_price": "2.50"}])
    assert client.post("/api/v1/sync", json={"orders": [big]}, headers=bearer(token)).status_code == 200
    # Two receipt numbers each used by two different sales: two invoice collisions, found by a real scan.
    baskets = [
        [{"sku": sku, "quantity": "1", "unit_price": price}] for sku, price in (("TEA", "2.00"), ("CROISSANT", "1.80"))
    ]
    collisions = [make_sale(receipt_number=f"T01-00050{n}", lines=lines) for n in (1, 2) for lines in baskets]
    for sale in collisions:
        assert client.post("/api/v1/sync", json={"orders": [sale]}, headers=bearer(token)).status_code == 200
    run_scan(trigger="schedule", actor="test")
    db.session.add(DuplicateGroup(kind="same_offline_id", group_key="x", confidence="certain", status="fixed"))
    db.session.commit()

    html = text_of(signed_in("viewer").get("/"))
    tiles = html.split('aria-label="Today"')[1].split("</section>")[0]
    # Six calls today: 6 sales created, 1 replay, 1 conflict, 1 rejection.
    assert '<span class="figure">6</span><span>sales synced today' in tiles
    assert '<span class="figure">1</span><span>replays absorbed today' in tiles
    assert '<span class="figure">1</span><span>conflicts today' in tiles
    assert '<span class="figure">1</span><span>rejections today' in tiles
    assert '<code class="code-detail">invoice_collision</code></span></a></td><td class="num">2</td>' in html
    assert "same_offline_id" not in html.split("Open duplicate groups")[1].split("Last duplicate scan")[0]
    assert "T-silent" in html.split("Silent tills")[1].split("</section>")[0]
    assert ">T01<" not in html.split("Silent tills")[1].split("</section>")[0]
    assert '<code>COFFEE</code></td><td>Coffee</td><td class="num negative">-52</td>' in html
    # The last scan's findings in words, not JSON.
    scan = html.split("Last duplicate scan")[1].split("</section>")[0]
    assert '<code class="code-detail">invoice_collision</code></span>: 2 groups found</li>' in scan
    assert "Two sales, one invoice number" in scan and "(daily schedule), finished." in scan
    assert "{" not in scan and "duplicate_lines" not in scan
    assert 'class="bar-created"' in html and '<svg class="chart"' in html


def test_silent_till_threshold_is_configurable(app, signed_in, synced):
    db.session.execute(
        update(Device)
        .where(Device.name == "T01")
        .values(last_seen_at=datetime.now(timezone.utc) - timedelta(minutes=30))
    )
    db.session.commit()
    viewer = signed_in("viewer")
    assert "T01" not in text_of(viewer.get("/")).split("Silent tills")[1].split("</section>")[0]
    app.config["TILL_STALE_MINUTES"] = 10
    assert "T01" in text_of(viewer.get("/")).split("Silent tills")[1].split("</section>")[0]


def test_overview_with_no_data_at_all(signed_in):
    html = text_of(signed_in("viewer").get("/?span=14d"))
    assert "No duplicate scan has run yet." in html
    assert "No product has negative stock." in html
    assert html.count('class="bar-empty"') == 14


def logged_calls(html: str) -> int:
    """How many sync calls a sync-log page lists (links to their detail pages)."""
    return len(re.findall(r'href="/sync-logs/[0-9]', html))


def test_sync_logs_list_filters_and_detail(client, signed_in, synced, other_token, catalog):
    assert (
        client.post("/api/v1/sync", json={"orders": [make_sale(prefix="T02")]}, headers=bearer(other_token)).status_code
        == 200
    )
    assert client.post("/api/v1/sync", json={"orders": []}, headers=bearer("no such token")).status_code == 401
    viewer = signed_in("viewer")
    html = text_of(viewer.get("/sync-logs"))
    # The refused call is counted apart (refused_calls), not listed as a logged call.
    assert logged_calls(html) == 2
    assert "<code>batch-1</code>" in html and 'href="/sync-logs/refused' in html and "unknown_token" not in html
    t01 = db.session.scalar(select(Device.id).where(Device.name == "T01"))
    only_t01 = text_of(viewer.get(f"/sync-logs?device={t01}"))
    assert logged_calls(only_t01) == 1 and "<code>batch-1</code>" in only_t01
    # The filter the page used to offer leads to the refused calls, which name the reason and the caller.
    old_link = viewer.get("/sync-logs?status=refused")
    assert old_link.status_code == 302 and old_link.headers["Location"].startswith("/sync-logs/refused")
    refused = text_of(viewer.get(old_link.headers["Location"]))
    assert "Unknown token" in refused and '<code class="code-detail">unknown_token</code>' in refused
    assert "<bdi>127.0.0.1</bdi>" in refused and '<td class="num">1</td>' in refused
    with_conflicts = text_of(viewer.get("/sync-logs?status=conflicts"))
    assert logged_calls(with_conflicts) == 1 and "batch-1" in with_conflicts

    detail = text_of(viewer.get(f"/sync-logs/{synced.sync_id}"))
    assert "4 received: 1 created, 1 replays, 1 conflicts, 1 rejected" in detail
    assert f'href="/orders/{synced.created_order_id}">#{synced.created_order_id}</a>' in detail
    assert synced.invoice_number in detail
    for status, reason in [("rejected", "unknown_sku"), ("conflict", "offline_id_reused")]:
        assert f'<span class="badge {status}">' in detail and f'<code class="code-detail">{reason}</code>' in detail
    # A replay is counted on the call (migration 0008), not listed with a copy of its payload.
    assert "1 replay was answered from the stored sale; it is counted here, not listed below." in detail
    assert '<span class="badge duplicate">' not in detail
    assert "line 1: no product with sku &#39;NOPE&#39;" in detail
    assert viewer.get("/sync-logs/999999").status_code == 404


def test_skipped_sales_counts_list_and_payload(signed_in, synced):
    viewer = signed_in("viewer")
    # By default only what needs a manager: the rejection and the conflict, not the harmless replay.
    html = text_of(viewer.get("/skipped"))
    rows = html.split("<tbody>")[1].split("</tbody>")[0]
    for reason in ("offline_id_reused", "unknown_sku"):
        assert f'<code class="code-detail">{reason}</code>' in rows
    assert '<code class="code-detail">duplicate</code>' not in rows and rows.count("<tr>") == 2
    # Replays are counted on their sync call (migration 0008), not kept as skipped sales.
    html = text_of(viewer.get("/skipped?state=all"))
    rows = html.split("<tbody>")[1].split("</tbody>")[0]
    for reason in ("offline_id_reused", "unknown_sku"):
        assert f'<code class="code-detail">{reason}</code>' in rows
    assert "Unknown product" in rows and "Sent again" not in rows
    assert rows.count("<tr>") == 2
    today = datetime.now(timezone.utc).date().isoformat()
    t01 = db.session.scalar(select(Device.id).where(Device.name == "T01"))
    link = f"/skipped/sales?state=all&amp;reason=unknown_sku&amp;device={t01}&amp;from={today}&amp;to={today}"
    assert link in rows
    sales = text_of(viewer.get(link.replace("&amp;", "&")))
    assert sales.count('class="payload"') == 1
    assert "&#34;sku&#34;: &#34;NOPE&#34;" in sales  # the payload, pretty-printed and escaped
    assert "unknown_sku" in sales and "offline_id_reused" not in sales
    assert text_of(viewer.get("/skipped/sales")).count('class="payload"') == 2
    assert text_of(viewer.get("/skipped/sales?state=all")).count('class="payload"') == 2
    only_conflicts = text_of(viewer.get("/skipped?reason=offline_id_reused"))
    assert only_conflicts.split("<tbody>")[1].split("</tbody>")[0].count("<tr>") == 1


def test_skipped_sales_csv_export(client, signed_in, token, catalog):
    hostile = make_sale(
        offline_id='=HYPERLINK("http://evil.example")', lines=[{"sku": "COFFEE", "quantity": "1", "unit_price": "2.50"}]
    )
    unknown = make_sale(lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "1.00"}])
    body = client.post("/api/v1/sync", json={"orders": [hostile, unknown]}, headers=bearer(token)).get_json()
    assert [result["status"] for result in body["results"]] == ["rejected", "rejected"]
    response = signed_in("viewer").get("/skipped/sales.csv?reason=unknown_sku")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment;" in response.headers["Content-Disposition"]
    assert response.get_data().startswith("\ufeff".encode())  # UTF-8 with a BOM, for spreadsheets
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert len(rows) == 1
    row = rows[0]
    assert (row["device"], row["status"], row["reason"], row["offline_id"]) == (
        "T01",
        "rejected",
        "unknown_sku",
        unknown["offline_id"],
    )
    assert row["sync_id"] == str(body["sync_id"]) and row["position"] == "1"
    assert json.loads(row["payload"]) == unknown
    everything = list(
        csv.DictReader(io.StringIO(signed_in("viewer").get("/skipped/sales.csv").get_data().decode("utf-8-sig")))
    )
    assert len(everything) == 2
    formula = next(row for row in everything if row["position"] == "0")
    assert formula["offline_id"] == '\'=HYPERLINK("http://evil.example")'  # never a live formula


def test_a_skipped_sales_export_covers_at_most_366_days(client, signed_in, token, catalog):
    """What needs action is listed whatever its age, but one download is bounded: the 366 days ending
    the period asked for (today without one), named in the file name."""
    from dashboard.admin.i18n import local_today
    from dashboard.models import SyncAttempt

    sales = [make_sale(lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "1.00"}]) for _ in range(2)]
    assert client.post("/api/v1/sync", json={"orders": sales}, headers=bearer(token)).status_code == 200
    two_years_ago = datetime.now(timezone.utc) - timedelta(days=730)
    db.session.execute(
        update(SyncAttempt).where(SyncAttempt.offline_id == sales[0]["offline_id"]).values(received_at=two_years_ago)
    )
    db.session.commit()
    viewer = signed_in("viewer")
    assert "An export covers at most 366 days" in text_of(viewer.get("/skipped/sales"))

    def exported(query: str) -> tuple[str, set[str]]:
        response = viewer.get("/skipped/sales.csv" + query)
        assert response.status_code == 200
        rows = csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig")))
        return response.headers["Content-Disposition"], {row["offline_id"] for row in rows}

    today = local_today()
    name, ids = exported("")
    assert ids == {sales[1]["offline_id"]}
    assert f"skipped-sales-action-{(today - timedelta(days=365)).isoformat()}-{today.isoformat()}.csv" in name
    old_day = two_years_ago.date()
    name, ids = exported(f"?from=2000-01-01&to={old_day.isoformat()}")
    assert ids == {sales[0]["offline_id"]}
    assert f"-{(old_day - timedelta(days=365)).isoformat()}-{old_day.isoformat()}.csv" in name
    # The page itself still lists both: an old rejection is still money missing from the books.
    assert all(sale["offline_id"] in text_of(viewer.get("/skipped/sales")) for sale in sales)


def test_orders_search_finds_by_each_number(signed_in, synced, client, token):
    other = make_sale(receipt_number="T01-000900")
    assert client.post("/api/v1/sync", json={"orders": [other]}, headers=bearer(token)).status_code == 200
    viewer = signed_in("viewer")
    latest = text_of(viewer.get("/orders"))
    assert latest.count('href="/orders/') == 2
    for query in (synced.invoice_number, synced.receipt_number, synced.offline_id, synced.offline_id.upper()):
        html = text_of(viewer.get("/orders", query_string={"q": query}))
        assert html.count('href="/orders/') == 1, query
        assert f'href="/orders/{synced.created_order_id}"' in html
        assert "T01-000900" not in html
    nothing = text_of(viewer.get("/orders", query_string={"q": "T01-999999"}))
    assert "No order matches." in nothing and 'href="/orders/' not in nothing


def test_order_page_shows_lines_movements_payments_and_provenance(signed_in, synced):
    html = text_of(signed_in("viewer").get(f"/orders/{synced.created_order_id}"))
    assert f"Order #{synced.created_order_id}" in html
    assert "<code>COFFEE</code></td><td>Coffee</td>" in html and "<code>BREAD</code></td><td>Bread</td>" in html
    assert '<td class="num">€2.50</td>' in html and '<td class="num">€3.20</td>' in html
    assert html.count('<td class="num negative">-2</td>') == 1 and html.count('<td class="num negative">-1</td>') == 1
    assert '<td>cash</td><td class="num">€8.20</td>' in html
    assert f'href="/sync-logs/{synced.sync_id}">sync call #{synced.sync_id}</a>' in html
    assert "Later sends of this offline id" in html
    assert "Id used by another sale" in html and '<code class="code-detail">offline_id_reused</code>' in html
    # The replay in the same call is counted on the call (migration 0008), not listed here.
    assert "Sent again" not in html and '<code class="code-detail">duplicate</code>' not in html
    assert signed_in("viewer").get("/orders/424242").status_code == 404


def test_duplicates_lists_open_groups(signed_in, synced):
    db.session.add_all(
        [
            DuplicateGroup(kind="invoice_collision", group_key="a", confidence="review", order_count=2),
            DuplicateGroup(kind="same_offline_id", group_key="b", confidence="certain", order_count=3),
            DuplicateGroup(kind="same_offline_id", group_key="c", confidence="certain", status="dismissed"),
        ]
    )
    db.session.commit()
    viewer = signed_in("viewer")
    html = text_of(viewer.get("/duplicates"))
    rows = html.split("<tbody>")[1]
    assert rows.count("<tr>") == 2 and "to review" in rows and "certain" in rows
    only = text_of(viewer.get("/duplicates?kind=same_offline_id")).split("<tbody>")[1]
    assert only.count("<tr>") == 1 and '<td class="num order-count">3</td>' in only


def test_hostile_names_and_payloads_are_shown_escaped(client, signed_in, catalog):
    hostile = "<script>alert(1)</script>"
    admin = signed_in("admin")
    page = admin.post("/devices", data={"name": hostile, "csrf_token": _token(admin)})
    assert page.status_code == 200
    token = page.get_data(as_text=True).split('id="token">')[1].split("<")[0]
    sale = make_sale(cashier='<img src=x onerror="alert(2)">', receipt_number="<b>R1</b>")
    bad = make_sale(
        cashier="<iframe src=javascript:alert(3)>",
        lines=[{"sku": "<svg onload=alert(4)>", "quantity": "1", "unit_price": "1.00"}],
    )
    body = client.post("/api/v1/sync", json={"orders": [sale, bad]}, headers=bearer(token)).get_json()
    order_id = body["results"][0]["order_id"]
    viewer = signed_in("viewer")
    pages = {
        url: viewer.get(url).get_data(as_text=True)
        for url in (
            "/",
            "/sync-logs",
            f"/sync-logs/{body['sync_id']}",
            "/skipped",
            "/skipped/sales",
            "/orders",
            f"/orders/{order_id}",
        )
    }
    pages["/devices"] = admin.get("/devices").get_data(as_text=True)
    for url, html in pages.items():
        for raw in ("<script>alert", "<img src=x", "<iframe", "<svg onload", "<b>R1"):
            assert raw not in html, (url, raw)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages["/devices"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages["/sync-logs"]
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in pages[f"/orders/{order_id}"]
    assert "&lt;b&gt;R1&lt;/b&gt;" in pages["/orders"]
    assert "&lt;iframe src=javascript:alert(3)&gt;" in pages["/skipped/sales"]
    assert "&lt;svg onload=alert(4)&gt;" in pages[f"/sync-logs/{body['sync_id']}"]


def _token(client) -> str:
    from tests.admin.conftest import csrf_token

    return csrf_token(client, "/devices")


def test_negative_stock_count_is_of_all_products(signed_in, catalog):
    # Stock is held per store: the overview counts the stores' levels below zero.
    db.session.execute(update(StockLevel).values(quantity=-3))
    db.session.commit()
    html = text_of(signed_in("viewer").get("/"))
    assert "4 products below zero." in html
