"""Keyset pages: newest first, no row lost or repeated between pages, ties on time broken by id."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import insert

from dashboard.domain import reports
from dashboard.extensions import db
from dashboard.models import Device, SyncLog


def _walk_older(per_page: int, **filters) -> list[list[int]]:
    pages, before = [], None
    while True:
        page = reports.sync_logs(before=before, per_page=per_page, **filters)
        pages.append([row.id for row in page.items])
        if page.older is None:
            return pages
        before = page.older


def test_sync_log_pages_cover_every_row_once_even_with_equal_times(app, token):
    device_id = db.session.execute(db.select(Device.id)).scalar_one()
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    # 11 calls, several sharing a start time: the order is (started_at, id), newest first.
    times = [
        start,
        start,
        start + timedelta(seconds=1),
        start + timedelta(seconds=1),
        start + timedelta(seconds=1),
        start + timedelta(seconds=2),
        start + timedelta(seconds=3),
        start + timedelta(seconds=3),
        start + timedelta(seconds=4),
        start + timedelta(seconds=5),
        start + timedelta(seconds=5),
    ]
    ids = [
        db.session.execute(
            insert(SyncLog).values(device_id=device_id, started_at=at, http_status=200).returning(SyncLog.id)
        ).scalar_one()
        for at in times
    ]
    db.session.commit()
    expected = [log_id for _, log_id in sorted(zip(times, ids), reverse=True)]

    pages = _walk_older(4)
    assert [len(page) for page in pages] == [4, 4, 3]
    assert [log_id for page in pages for log_id in page] == expected

    # Walking back towards newer rows from the last page gives the same pages.
    last = reports.sync_logs(before=pages[1][-1], per_page=4)
    assert [row.id for row in last.items] == pages[2] and last.older is None
    middle = reports.sync_logs(after=last.newer, per_page=4)
    assert [row.id for row in middle.items] == pages[1]
    first = reports.sync_logs(after=middle.newer, per_page=4)
    assert [row.id for row in first.items] == pages[0] and first.newer is None

    # A filter keeps its own order: only the calls of this device, the same rows.
    assert [log_id for page in _walk_older(3, device_id=device_id) for log_id in page] == expected


def test_an_unknown_cursor_starts_from_the_newest(app, token):
    device_id = db.session.execute(db.select(Device.id)).scalar_one()
    for _ in range(3):
        db.session.add(SyncLog(device_id=device_id, http_status=200))
    db.session.commit()
    page = reports.sync_logs(before=987654, per_page=2)
    assert len(page.items) == 2 and page.newer is None and page.older is not None


def test_orders_pages_in_the_dashboard(signed_in, client, token, catalog):
    from tests.support.sales import bearer, make_sale

    sales = [make_sale() for _ in range(55)]
    assert client.post("/api/v1/sync", json={"orders": sales}, headers=bearer(token)).status_code == 200
    viewer = signed_in("viewer")
    first = viewer.get("/orders").get_data(as_text=True)
    assert first.count('href="/orders/') == 50 and 'rel="next"' in first and 'rel="prev"' not in first
    older_link = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = viewer.get(older_link).get_data(as_text=True)
    assert second.count('href="/orders/') == 5 and 'rel="prev"' in second and 'rel="next"' not in second
    first_ids = {part.split('"')[0] for part in first.split('href="/orders/')[1:]}
    second_ids = {part.split('"')[0] for part in second.split('href="/orders/')[1:]}
    assert len(first_ids | second_ids) == 55 and not first_ids & second_ids
