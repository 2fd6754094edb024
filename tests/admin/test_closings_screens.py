"""The daily-close screens: the grid of tills by day and a day's differences, read by a viewer."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

from dashboard.domain.devices import add_device
from tests.support.sales import bearer, make_sale

DAY = datetime.now(timezone.utc).date() - timedelta(days=1)


def at(hour: int, minute: int = 0) -> str:
    return datetime.combine(DAY, time(hour, minute), tzinfo=timezone.utc).isoformat()


def close(client, token, sales, *, extra_ids=(), extra_total="0"):
    total = sum((Decimal(s["total"]) for s in sales), Decimal(extra_total))
    body = {
        "business_day": DAY.isoformat(),
        "sales_count": len(sales) + len(extra_ids),
        "sales_total": str(total),
        "offline_ids": [s["offline_id"] for s in sales] + list(extra_ids),
    }
    response = client.post("/api/v1/closings", json=body, headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def seed(client, token, other_token):
    """T01: matched. T02: one sale pending (never sent) and one refused. T03: a sale, no close."""
    third = add_device("T03")
    client.post("/api/v1/sync", json={"orders": [make_sale(prefix="T03", created_at=at(8))]}, headers=bearer(third))
    good = [make_sale(created_at=at(9)), make_sale(created_at=at(10))]
    assert client.post("/api/v1/sync", json={"orders": good}, headers=bearer(token)).status_code == 200
    assert close(client, token, good)["status"] == "matched"
    stored = make_sale(prefix="T02", created_at=at(11))
    refused = make_sale(prefix="T02", created_at=at(12), lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "4.00"}])
    client.post("/api/v1/sync", json={"orders": [stored, refused]}, headers=bearer(other_token))
    lost = str(uuid.uuid4())
    assert close(client, other_token, [stored, refused], extra_ids=[lost], extra_total="3.20")["status"] == "differs"
    return lost, refused


def rows(html: str) -> dict[str, str]:
    """Till name -> its status label, in the grid's first day."""
    return dict(
        re.findall(r'<bdi>(T0\d)</bdi></a></td>\s*<td><span class="badge \w+" title="[^"]*">([^<]+)</span>', html)
    )


def test_the_grid_shows_each_tills_close_of_the_day_and_the_money_at_stake(
    client, token, other_token, catalog, signed_in
):
    seed(client, token, other_token)
    viewer = signed_in("viewer")
    response = viewer.get(f"/closings?from={DAY.isoformat()}&to={DAY.isoformat()}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert rows(html) == {"T01": "matched", "T02": "differs", "T03": "no close received"}
    assert "€7.20" in html  # T02: 3.20 not received + 4.00 refused
    assert f'href="/closings/{DAY.isoformat()}?device=' in html


def test_the_grid_is_bounded_to_fourteen_days(client, token, catalog, signed_in):
    html = signed_in("viewer").get(f"/closings?from=2001-01-01&to={DAY.isoformat()}").get_data(as_text=True)
    assert html.count('class="card closing-day"') == 14
    assert "Earlier days" in html


def test_a_days_page_explains_every_difference_with_links(client, token, other_token, catalog, signed_in):
    lost, refused = seed(client, token, other_token)
    html = signed_in("viewer").get(f"/closings/{DAY.isoformat()}").get_data(as_text=True)
    assert html.count('class="card closing-till"') == 3
    assert "Not received yet" in html and f'<bdi dir="ltr">{lost}</bdi>' in html and "not on the server" in html
    assert "Refused by the server" in html and f'<bdi dir="ltr">{refused["offline_id"]}</bdi>' in html
    assert re.search(r'href="/skipped/sales/\d+">skipped sale #\d+</a>', html)
    assert "no close received" in html
    assert "1 close received for this day" in html


def test_a_duplicate_difference_links_to_the_order(client, token, catalog, signed_in):
    sales = [make_sale(created_at=at(9))]
    client.post("/api/v1/sync", json={"orders": sales}, headers=bearer(token))
    extra = make_sale(created_at=at(10))
    client.post("/api/v1/sync", json={"orders": [extra]}, headers=bearer(token))
    close(client, token, sales)
    close(client, token, sales + [extra])  # a second close replaces the first
    html = signed_in("viewer").get(f"/closings/{DAY.isoformat()}?device=1").get_data(as_text=True)
    assert "2 closes received for this day" in html and "current" in html and "replaced" in html


def test_a_bad_day_or_till_is_not_found(client, token, signed_in):
    viewer = signed_in("viewer")
    for path in (
        "/closings/2026-13-01",
        "/closings/yesterday",
        "/closings/1999-01-01",
        f"/closings/{DAY.isoformat()}?device=999",
    ):
        assert viewer.get(path).status_code == 404, path


def test_the_screens_read_right_to_left_in_arabic(client, token, catalog, signed_in):
    viewer = signed_in("viewer")
    for path in ("/closings", f"/closings/{DAY.isoformat()}"):
        response = viewer.get(path, headers={"Accept-Language": "ar"})
        assert response.status_code == 200


def test_the_grid_reads_the_page_at_once_and_agrees_with_each_close_read_alone(client, token, other_token, catalog):
    """The grid's prefetched books and the one-till-one-day queries are two code paths: same answers."""
    from dashboard.domain.reports import closing_day, closing_grid, current_comparison

    seed(client, token, other_token)
    copy = make_sale(created_at=at(13))
    client.post("/api/v1/sync", json={"orders": [copy]}, headers=bearer(token))  # T01 now has one not counted
    fourth = add_device("T04")
    counted = [make_sale(prefix="T04", created_at=at(14)) for _ in range(3)]
    client.post("/api/v1/sync", json={"orders": counted[:2]}, headers=bearer(fourth))
    body = {"business_day": DAY.isoformat(), "sales_count": 3, "sales_total": "24.60"}  # no ids: by count
    assert client.post("/api/v1/closings", json=body, headers=bearer(fourth)).get_json()["status"] == "differs"
    grid = closing_grid(DAY - timedelta(days=1), DAY)
    cells = {cell.device_id: cell for cell in grid.days[0].cells}
    assert grid.days[0].day == DAY and len(cells) == 4 and grid.days[1].cells == ()
    for till in closing_day(DAY)[0]:
        alone = current_comparison(till.device_id, DAY)
        assert till.comparison == alone
        assert (cells[till.device_id].status, cells[till.device_id].at_stake) == (alone.status, alone.at_stake)
    assert sorted(cell.status for cell in cells.values()) == ["differs", "differs", "differs", "not_received"]
