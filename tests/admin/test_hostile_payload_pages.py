"""What a till sent is shown safely on every page and export, whatever it holds (issue 8, findings 2 and 3).

Lone surrogates (JSON escapes no database driver encodes) and multi-megabyte
extra fields in rejected or conflicting sales are kept escaped and capped, so
the skipped-sales pages, the CSV export, the sync log and the order page all
answer. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import select

from dashboard.domain.text import PAYLOAD_RECORD_LIMIT
from dashboard.extensions import db
from dashboard.models import Order, SyncAttempt
from tests.api.test_hostile_sales import body_with, post
from tests.support.sales import make_sale


def test_lone_surrogates_and_huge_payloads_are_kept_safely_and_every_page_shows_them(client, token, catalog, signed_in):
    surrogate = make_sale(lines=[{"sku": "CROISANT", "quantity": "1", "unit_price": "1.80"}])
    big = make_sale(lines=[{"sku": "CROISANT", "quantity": "1", "unit_price": "1.80"}], note="x" * 200_000)
    stored = make_sale()
    body = body_with([surrogate, big, stored], {0: ("x", '"\\ud800 and \\u0000"')})
    response = post(client, token, body)
    assert [r["status"] for r in response.get_json()["results"]] == ["rejected", "rejected", "created"]
    # Another till sends the stored sale's offline_id with a surrogate: its conflict is shown on the first's page.
    reuse = {**stored, "cashier": "Other"}
    response = post(client, token, body_with([reuse], {0: ("x", '"\\udfff"')}))
    assert response.get_json()["results"][0]["status"] == "conflict"

    payloads = dict(db.session.execute(select(SyncAttempt.offline_id, SyncAttempt.payload)).all())
    assert len(payloads[big["offline_id"]]) < PAYLOAD_RECORD_LIMIT + 200
    assert "SHA-256 of the whole" in payloads[big["offline_id"]]
    manager = signed_in("manager")
    order_id = response.get_json()["results"][0].get("order_id") or db.session.scalar(
        select(Order.id).where(Order.offline_id == stored["offline_id"])
    )
    sync_ids = db.session.scalars(select(SyncAttempt.sync_id)).all()
    pages = ["/skipped/sales", "/skipped", f"/orders/{order_id}"] + [f"/sync-logs/{i}" for i in set(sync_ids)]
    for url in pages:
        page = manager.get(url)
        assert page.status_code == 200, url
    surrogate_shown = manager.get("/skipped/sales").get_data(as_text=True)
    assert "\\ud800 and \\u0000" in surrogate_shown
    assert "\\udfff" in manager.get(f"/orders/{order_id}").get_data(as_text=True)
    export = manager.get("/skipped/sales.csv")
    assert export.status_code == 200
    assert surrogate["offline_id"] in export.get_data(as_text=True)


def test_ids_beyond_a_database_key_are_not_found(signed_in):
    manager = signed_in("admin")
    for url in (
        "/orders/9223372036854775808",
        "/duplicates/99999999999999999999999",
        "/sync-logs/18446744073709551616",
        "/fix-plans/2147483648",
        "/orders/2147483647",
    ):
        assert manager.get(url).status_code == 404, url
