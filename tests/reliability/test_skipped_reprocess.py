"""Re-processing a rejected sale exactly once: managers clicking at the same instant through a real
gunicorn with 3 workers, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

from dashboard.domain.catalog import ProductRow, import_products
from dashboard.domain.users import create_user
from dashboard.extensions import db
from dashboard.models import AuditEntry, Order, Product, StockMovement, SyncAttempt, SyncLog
from tests.conftest import make_app
from tests.reliability.test_concurrency import BARRIER_TIMEOUT, gunicorn, run_clients, seed  # noqa: F401
from tests.support.sales import bearer, make_sale

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
CLICKS = 6
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def signed_in(url: str, email: str) -> tuple[requests.Session, str]:
    """A browser-like session signed in as `email`, and the CSRF token its forms carry."""
    session = requests.Session()
    token = _CSRF.search(session.get(url + "/login", timeout=10).text).group(1)
    response = session.post(
        url + "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    return session, _CSRF.search(session.get(url + "/", timeout=10).text).group(1)


def test_simultaneous_reprocess_clicks_store_one_order(database_url, redis_server, tmp_path, gunicorn):  # noqa: F811
    tokens = seed(database_url, redis_server.url, tmp_path, ["T01"])
    app = make_app(database_url, redis_server.url, tmp_path)
    emails = [f"manager{n}@example.com" for n in range(CLICKS)]
    with app.app_context():
        for email in emails:
            create_user(email, PASSWORD, "manager")
        db.session.remove()
    server = gunicorn()
    sale = make_sale(lines=[{"sku": "CROISANT", "quantity": "3", "unit_price": "1.80"}])
    answer = requests.post(
        server.url + "/api/v1/sync", json={"orders": [sale]}, headers=bearer(tokens["T01"]), timeout=10
    ).json()
    assert answer["results"][0]["reason"] == "unknown_sku"
    with app.app_context():
        import_products([ProductRow("CROISANT", "Croissant", Decimal("1.80"), Decimal("20"))])
        attempt_id = db.session.scalar(select(SyncAttempt.id).where(SyncAttempt.offline_id == sale["offline_id"]))
        db.session.remove()

    managers = [signed_in(server.url, email) for email in emails]
    barrier = threading.Barrier(CLICKS)

    def click(session: requests.Session, csrf: str):
        def run() -> str:
            barrier.wait(timeout=BARRIER_TIMEOUT)
            response = session.post(
                f"{server.url}/skipped/sales/{attempt_id}/reprocess", data={"csrf_token": csrf}, timeout=30
            )
            assert response.status_code == 200, response.status_code
            return (
                "stored"
                if "The sale is stored as order" in response.text
                else "refused"
                if "already dealt with" in response.text
                else response.text
            )

        return run

    outcomes = run_clients([click(session, csrf) for session, csrf in managers])
    assert sorted(outcomes) == ["refused"] * (CLICKS - 1) + ["stored"], outcomes

    with app.app_context():
        attempt = db.session.get(SyncAttempt, attempt_id)
        assert attempt.resolution == "reprocessed" and attempt.resolved_by in emails
        assert (
            db.session.scalar(select(func.count()).select_from(Order).where(Order.offline_id == sale["offline_id"]))
            == 1
        )
        assert db.session.scalar(select(func.count()).select_from(SyncAttempt)) == 1
        assert db.session.scalar(select(func.count()).select_from(SyncLog)) == 1
        assert (
            db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "reprocess_sale"))
            == 1
        )
        product_id = db.session.scalar(select(Product.id).where(Product.sku == "CROISANT"))
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(StockMovement)
                .where(StockMovement.product_id == product_id, StockMovement.kind == "sale")
            )
            == 1
        )
        assert db.session.scalar(select(Product.stock_quantity).where(Product.id == product_id)) == Decimal("17")
        db.session.remove()
        db.engine.dispose()
