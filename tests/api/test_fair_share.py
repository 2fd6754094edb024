"""Fair share per till (issue 8, finding 2): limits on work, not only requests; a cap on payments.

A till that floods the server with huge batches gets 429 with Retry-After
once it has used its share of the minute, and other tills are not affected;
a till that has been quiet always gets one batch of any allowed size through,
so an outbox catching up is slowed, never stuck. Counted in a real Redis.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.domain.devices import add_device
from dashboard.domain.sales import MAX_PAYMENTS
from dashboard.extensions import db
from dashboard.models import Order
from tests.conftest import make_app
from tests.support.invariants import check_invariants
from tests.support.sales import bearer, load_catalog, make_sale

LINES = [{"sku": "COFFEE", "quantity": "1", "unit_price": "2.50"}] * 10


@pytest.fixture
def limited(database_url, redis_server, tmp_path):
    """An app allowing 15 lines a minute per till, counted in the session's real Redis."""
    redis_server.flush()  # device ids repeat across test databases; the counters must not
    app = make_app(database_url, redis_server.url, tmp_path, SYNC_LINES_PER_MINUTE=15)
    with app.app_context():
        load_catalog()
        yield app, (add_device("T01"), add_device("T02"))
        db.session.remove()
        db.engine.dispose()
    redis_server.flush()


def _fresh_minute(needed: float = 10.0) -> None:
    if 60 - time.time() % 60 < needed:
        time.sleep(60 - time.time() % 60 + 0.05)


def test_a_flooding_till_is_slowed_and_the_others_are_not(limited):
    app, (flooder, other) = limited
    client = app.test_client()
    _fresh_minute()
    # A quiet till's first batch goes through whatever its size (20 lines > 15 a minute).
    first = client.post(
        "/api/v1/sync", json={"orders": [make_sale(lines=LINES), make_sale(lines=LINES)]}, headers=bearer(flooder)
    )
    assert first.status_code == 200 and first.get_json()["created"] == 2
    flood = client.post("/api/v1/sync", json={"orders": [make_sale(lines=LINES)]}, headers=bearer(flooder))
    assert flood.status_code == 429 and flood.get_json()["error"] == "rate_limited"
    assert 0 < int(flood.headers["Retry-After"]) <= 60 and "lines" in flood.get_json()["message"]
    calm = client.post("/api/v1/sync", json={"orders": [make_sale()]}, headers=bearer(other))
    assert calm.status_code == 200 and calm.get_json()["created"] == 1
    assert db.session.scalar(select(func.count()).select_from(Order)) == 3
    check_invariants(db.engine)


def test_too_many_payments_reject_that_sale_alone(client, token, catalog):
    sale = make_sale()
    share = Decimal(sale["total"]) / (MAX_PAYMENTS + 1)
    many = [{"method": "cash", "amount": str(share.quantize(Decimal("0.0001")))}] * (MAX_PAYMENTS + 1)
    hostile = {**make_sale(), "payments": many}
    response = client.post("/api/v1/sync", json={"orders": [hostile, sale]}, headers=bearer(token))
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["rejected", "created"]
    assert results[0]["reason"] == "invalid_order" and f"at most {MAX_PAYMENTS}" in results[0]["message"]
    check_invariants(db.engine)
