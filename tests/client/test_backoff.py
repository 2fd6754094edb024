"""Back-off and retry on a bad network or a busy server, and never a sale lost or stored twice."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from dashboard.client import Till, TransientError
from dashboard.client.faults import closed_port_url
from tests.client.fakes import FlakyProxy
from tests.client.helpers import BASKET, stored_ids
from tests.support.invariants import check_invariants


def test_connection_refused_backs_off_exponentially_with_jitter_then_gives_up_keeping_every_sale(
    tmp_path, site, device
):
    sleeps: list[float] = []
    offline = Till(
        tmp_path / "outbox.db",
        closed_port_url(),
        device.token,
        device.name,
        max_attempts=6,
        backoff=0.1,
        max_backoff=1.0,
        sleep=sleeps.append,
        rng=random.Random(7),
    )
    sold = [offline.record_sale(BASKET, cashier="Amal") for _ in range(4)]
    report = offline.sync()
    assert not report.ok and not report.needs_attention and report.error.startswith("gave up after 6")
    assert "cannot reach the server" in report.error
    assert (report.requests, report.retries, report.pending) == (6, 5, 4)
    assert len(sleeps) == 5
    for attempt, slept in enumerate(sleeps):
        ceiling = min(1.0, 0.1 * 2**attempt)
        assert ceiling / 2 <= slept <= ceiling  # exponential, capped, jittered
    assert sleeps[-1] > sleeps[0] * 2
    assert len(set(sleeps)) == len(sleeps)
    assert [sale.offline_id for sale in offline.pending()] == sold
    offline.close()

    # The network is back: the same outbox, the same sales, each stored once.
    online = Till(tmp_path / "outbox.db", site.server.url, device.token, device.name, sleep=sleeps.append)
    report = online.sync()
    assert report.ok and report.created == 4
    assert set(stored_ids(site.database_url, device.name)) == set(sold)


@pytest.mark.parametrize("status,retry_after", [(503, "5"), (429, "1"), (500, None)])
def test_busy_server_is_retried_after_a_pause_honouring_retry_after(tmp_path, site, device, status, retry_after):
    proxy = FlakyProxy(site.server.url, fail_first=3, status=status, retry_after=retry_after)
    sleeps: list[float] = []
    try:
        till = Till(
            tmp_path / "outbox.db",
            proxy.url,
            device.token,
            device.name,
            backoff=0.01,
            max_backoff=0.05,
            sleep=sleeps.append,
            rng=random.Random(3),
        )
        sold = [till.record_sale(BASKET, cashier="Amal") for _ in range(5)]
        report = till.sync()
    finally:
        proxy.close()
    assert report.ok and report.created == 5 and report.retries == 3
    assert [seen[2] for seen in proxy.seen] == [status] * 3 + [200]
    assert len(sleeps) == 3
    if retry_after:
        # The server's Retry-After wins over the shorter computed pause, up to max_backoff.
        assert sleeps == [0.05] * 3
    else:
        assert all(min(0.05, 0.01 * 2**n) / 2 <= slept <= min(0.05, 0.01 * 2**n) for n, slept in enumerate(sleeps))
    assert set(stored_ids(site.database_url, device.name)) == set(sold)


def test_answer_lost_to_a_timeout_is_retried_and_stored_once(tmp_path, site, device):
    """The server stores the batch but its answer comes after the till stopped waiting."""
    proxy = FlakyProxy(site.server.url, hold_first=1, hold=2.0)
    try:
        till = Till(
            tmp_path / "outbox.db",
            proxy.url,
            device.token,
            device.name,
            timeout=0.5,
            backoff=0.01,
            sleep=lambda _seconds: None,
        )
        sold = [till.record_sale(BASKET, cashier="Amal") for _ in range(3)]
        report = till.sync()
    finally:
        proxy.close()
    assert report.ok and report.retries == 1 and report.requests == 2
    assert (report.created, report.duplicate) == (0, 3)  # the first answer was lost; the replay says duplicate
    stored = stored_ids(site.database_url, device.name)
    assert set(stored) == set(sold)
    assert {(s.offline_id, s.order_id, s.invoice_number) for s in till.synced()} == {
        (offline_id, *stored[offline_id]) for offline_id in sold
    }
    check_invariants(site.database_url)


class BreaksOnBigBodies:
    """A network path to a server that closes the connection on bodies over `limit` bytes, before
    answering 413 (as gunicorn does for bodies far over SYNC_MAX_BODY_BYTES): the till sees a broken pipe."""

    def __init__(self, limit: int):
        self.limit, self.sizes, self.order_ids = limit, [], itertools.count(1)

    def post_sync(self, body: bytes) -> dict:
        self.sizes.append(len(body))
        if len(body) > self.limit:
            raise TransientError("cannot reach the server: [Errno 32] Broken pipe")
        return {
            "results": [
                {
                    "offline_id": order["offline_id"],
                    "status": "created",
                    "order_id": next(self.order_ids),
                    "invoice_number": order["receipt_number"],
                }
                for order in json.loads(body)["orders"]
            ]
        }

    def sync_status(self, offline_ids):
        return [
            {"offline_id": offline_id, "status": "unknown", "order_id": None, "invoice_number": None}
            for offline_id in offline_ids
        ]


def test_big_batch_that_breaks_the_connection_is_retried_smaller(tmp_path):
    network = BreaksOnBigBodies(limit=1500)
    till = Till(
        tmp_path / "outbox.db",
        "http://unused",
        "token",
        "T01",
        batch_size=8,
        transport=network,
        sleep=lambda _seconds: None,
    )
    till.large_body_bytes = 1000
    sold = [till.record_sale(BASKET, cashier="Amal") for _ in range(8)]
    report = till.sync()
    assert report.ok and report.created == 8 and report.retries >= 1
    assert network.sizes[0] > 1500 and all(size <= 1500 for size in network.sizes[report.retries :])
    assert [sale.offline_id for sale in till.synced()] == sold
