"""Refused calls are counted, not logged a row each, and anonymous callers are limited per address
before any database work (issue 8, finding 5), on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from dashboard.domain import refusals
from dashboard.domain.devices import add_device
from dashboard.extensions import db
from dashboard.models import RefusedCalls, SyncLog
from dashboard.redis_conn import get_redis
from tests.conftest import make_app
from tests.support.sales import bearer, load_catalog, make_sale

FAILURES_ALLOWED = 5


@pytest.fixture
def guarded(database_url, redis_server, tmp_path):
    """An app that answers 429 to an address after 5 calls without a valid token in a minute."""
    redis_server.flush()
    app = make_app(database_url, redis_server.url, tmp_path, SYNC_AUTH_FAILURES_PER_MINUTE=FAILURES_ALLOWED)
    with app.app_context():
        load_catalog()
        yield app, add_device("T01")
        db.session.remove()
        db.engine.dispose()
    redis_server.flush()


@contextmanager
def statements_sent():
    """Every SQL statement the app sends to the database while the block runs."""
    sent: list[str] = []

    def note(conn, cursor, statement, *args):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def wait_for_a_fresh_minute(needed: float = 15.0) -> None:
    if 60 - time.time() % 60 < needed:
        time.sleep(60 - time.time() % 60 + 0.05)


def counted() -> Counter:
    refusals.flush(get_redis())
    return Counter({(row.source, row.error_code): row.count for row in db.session.scalars(select(RefusedCalls))})


def post(client, token, address, orders=()):
    return client.post(
        "/api/v1/sync",
        json={"orders": list(orders)},
        headers=bearer(token) if token else {},
        environ_base={"REMOTE_ADDR": address},
    )


def test_an_anonymous_flood_is_counted_and_stopped_before_the_database(guarded):
    app, token = guarded
    client = app.test_client()
    wait_for_a_fresh_minute()
    # The shop's till syncs from the address the flood will come from, before the flood begins.
    assert post(client, token, "203.0.113.9", [make_sale()]).json["results"][0]["status"] == "created"
    never_seen = add_device("T02")
    logged_before = db.session.scalar(select(func.count()).select_from(SyncLog))
    answers = [post(client, "guess-%d" % n, "203.0.113.9").status_code for n in range(FAILURES_ALLOWED)]
    answers.append(post(client, None, "203.0.113.9").status_code)
    assert answers == [401] * FAILURES_ALLOWED + [429]
    with statements_sent() as sent:
        flood = [post(client, "guess", "203.0.113.9") for _ in range(30)]
    assert {response.status_code for response in flood} == {429}
    assert all(
        response.json["error"] == "rate_limited" and 1 <= int(response.headers["Retry-After"]) <= 60
        for response in flood
    )
    assert sent == [], "a refused anonymous call reached the database"
    # The till that authenticated before keeps syncing from the flooded address; a token never
    # seen there waits, like the guesses, for the next minute.
    assert post(client, token, "203.0.113.9", [make_sale()]).json["results"][0]["status"] == "created"
    assert post(client, never_seen, "203.0.113.9", [make_sale(prefix="T02")]).status_code == 429
    # Another address is not held back.
    assert post(client, "guess", "203.0.113.10").status_code == 401
    assert post(client, never_seen, "203.0.113.10", [make_sale(prefix="T02")]).status_code == 200
    # 38 refusals: no log row each, but every one counted, by address (or till) and reason.
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(SyncLog)) == logged_before + 2
    # (T02's refusal came before its token was looked up, so it is counted by address too.)
    assert counted() == {
        ("address:203.0.113.9", "unknown_token"): 5,
        ("address:203.0.113.9", "rate_limited"): 32,
        ("address:203.0.113.10", "unknown_token"): 1,
    }


def test_counts_add_up_across_flushes_without_counting_twice(guarded):
    app, token = guarded
    client = app.test_client()
    wait_for_a_fresh_minute()
    too_many = [{"not": "a sale"}] * 501  # over the batch limit: the whole call is refused, 422
    for _ in range(2):
        assert post(client, token, "198.51.100.1", too_many).status_code == 422
    first = counted()
    assert sum(first.values()) == 2
    assert counted() == first, "a second flush with nothing new changed the counts"
    for _ in range(3):
        assert post(client, token, "198.51.100.1", too_many).status_code == 422
    counted()
    db.session.remove()
    rows = db.session.scalars(select(RefusedCalls)).all()
    # One row for the minute, the till and the reason, its count added to by the second flush.
    assert [(row.error_code, row.http_status, row.count, row.address) for row in rows] == [
        ("batch_too_large", 422, 5, None)
    ]
    assert rows[0].device_id is not None and rows[0].source == f"device:{rows[0].device_id}"


@pytest.mark.parametrize(
    "address, source",
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("", "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_an_ipv6_caller_is_one_source_per_64(address, source):
    assert refusals.caller_source(address) == source
