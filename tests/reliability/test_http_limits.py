"""Limits as a till meets them through a real gunicorn: long status lists, bodies far over the limit."""

from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import make_app
from tests.support.gunicorn import GunicornServer
from tests.support.sales import bearer, make_sale

pytestmark = pytest.mark.slow  # a real gunicorn per test


@pytest.fixture
def server(database_url, redis_server, tmp_path):
    from dashboard.domain.devices import add_device
    from dashboard.extensions import db

    app = make_app(database_url, redis_server.url, tmp_path)
    with app.app_context():
        token = add_device("T01")
        db.session.remove()
        db.engine.dispose()
    gunicorn = GunicornServer(database_url, redis_server.url, workers=2).start()
    yield gunicorn, token
    gunicorn.stop()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_body_far_over_the_limit_gets_a_json_413_not_a_broken_pipe(server):
    gunicorn, token = server
    body = b'{"orders": [' + b" " * (8 * 1024 * 1024) + b"]}"
    response = requests.post(
        f"{gunicorn.url}/api/v1/sync",
        data=body,
        timeout=60,
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_chunked_body_is_read_whole_and_a_chunked_body_over_the_limit_gets_a_json_413(server):
    """A body sent without a length: stored when within the limit, 413 (never a cut body's 400) past it."""
    gunicorn, token = server
    headers = {**bearer(token), "Content-Type": "application/json"}

    def chunked(body: bytes, size: int = 65536):
        for start in range(0, len(body), size):
            yield body[start : start + size]

    sale = json.dumps({"orders": [make_sale(lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "1.00"}])]})
    small = requests.post(f"{gunicorn.url}/api/v1/sync", data=chunked(sale.encode(), 16), headers=headers, timeout=30)
    assert small.status_code == 200 and small.json()["results"][0]["reason"] == "unknown_sku"
    big = b'{"orders": [' + b" " * (6 * 1024 * 1024) + b"]}"
    response = requests.post(f"{gunicorn.url}/api/v1/sync", data=chunked(big), headers=headers, timeout=60)
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_status_of_many_ids_by_get_and_by_post(server):
    gunicorn, token = server
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(150)]
    by_get = requests.get(
        f"{gunicorn.url}/api/v1/sync/status", params=[("offline_id", i) for i in ids], headers=bearer(token), timeout=30
    )
    assert by_get.status_code == 200 and len(by_get.json()["results"]) == 150
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(500)]
    by_post = requests.post(
        f"{gunicorn.url}/api/v1/sync/status", json={"offline_ids": ids}, headers=bearer(token), timeout=30
    )
    assert by_post.status_code == 200 and len(by_post.json()["results"]) == 500
