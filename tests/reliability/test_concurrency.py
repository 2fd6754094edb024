"""Exactly-once under concurrency: a real gunicorn with 3 workers, clients in threads, SQLite and PostgreSQL.

Each test checks the contract's invariants (sync-protocol.md) against the database
afterwards: every acknowledged or retried-until-answered sale stored exactly once,
replays answered with the first ids, no shared offline_id or invoice number, one
movement per line and stock equal to opening stock plus movements (and to what
the sales sold).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import psutil
import pytest
import requests

from dashboard.domain.catalog import ProductRow, import_products
from dashboard.domain.devices import add_device
from dashboard.extensions import db
from tests.conftest import make_app
from tests.support.gunicorn import GunicornServer
from tests.support.history import (
    History,
    encode_batch,
    expected_stock,
    post_batch,
    query,
    send_until_answered,
    stored_stock,
    varied_sale,
)
from tests.support.invariants import check_invariants, stored_offline_ids
from tests.support.sales import CATALOG, bearer

pytestmark = pytest.mark.slow

BARRIER_TIMEOUT = 60


def seed(database_url: str, redis_url: str, tmp_path, devices: list[str]) -> dict[str, str]:
    """Register the devices and load the catalogue in the test process; returns name -> token."""
    app = make_app(database_url, redis_url, tmp_path)
    with app.app_context():
        tokens = {name: add_device(name) for name in devices}
        import_products(
            [ProductRow(sku, name, Decimal(price), Decimal(stock)) for sku, (name, price, stock) in CATALOG.items()]
        )
        db.session.remove()
        db.engine.dispose()
    return tokens


@pytest.fixture
def gunicorn(database_url, redis_server):
    """Start gunicorn -w 3 on the test's database; always stopped at teardown."""
    servers: list[GunicornServer] = []

    def start(**env) -> GunicornServer:
        server = GunicornServer(database_url, redis_server.url, workers=3, **env)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
        # Shown by pytest only when the test failed.
        print(f"--- gunicorn log ({server.log_path}) ---\n{server.log()}")


def run_clients(functions) -> list:
    """Run each function in its own thread; re-raise the first failure."""
    with ThreadPoolExecutor(max_workers=len(functions)) as pool:
        futures = [pool.submit(function) for function in functions]
        return [future.result() for future in futures]


def post_expecting_200(session, server, token, orders, history: History, body: bytes | None = None) -> dict:
    response = post_batch(session, server.url, token, orders, body=body)
    assert response.status_code == 200, f"{response.status_code}: {response.text[:500]}\n{server.log()}"
    body = response.json()
    history.record(orders, body)
    return body


def check_stored(database_url: str, sales: list[dict], history: History, *, exactly_one_created: bool):
    """Every sale stored once, nothing else stored, answers agree with the database, stock is exact."""
    counts = check_invariants(database_url)
    stored = stored_offline_ids(database_url)
    assert set(stored) == {sale["offline_id"] for sale in sales}, (
        f"{len(stored)} stored, {len(sales)} made; missing {len({s['offline_id'] for s in sales} - set(stored))}"
    )
    assert counts["orders"] == len(sales)
    assert counts["lines"] == sum(len(sale["lines"]) for sale in sales)
    history.check_against(stored, sales, exactly_one_created=exactly_one_created)
    assert stored_stock(database_url) == expected_stock(sales)
    return stored


def check_owners(database_url: str, sales_by_device: dict[str, list[dict]]) -> None:
    owner = dict(query(database_url, "SELECT o.offline_id, d.name FROM orders o JOIN devices d ON d.id = o.device_id"))
    for name, sales in sales_by_device.items():
        assert {owner[sale["offline_id"]] for sale in sales} == {name}


# 1 ------------------------------------------------------------------------------------------------


def test_one_batch_replayed_by_ten_clients_at_once(database_url, redis_server, tmp_path, gunicorn):
    tokens = seed(database_url, redis_server.url, tmp_path, ["T01"])
    server = gunicorn()
    rng = random.Random(1)
    rounds = [[varied_sale(rng, "T01") for _ in range(40)] for _ in range(3)]
    history = History()
    clients = 10
    barrier = threading.Barrier(clients)

    def client():
        bodies = []
        with requests.Session() as session:
            for batch in rounds:  # a new batch each round, sent by all ten at the same moment
                body = encode_batch(batch)
                barrier.wait(timeout=BARRIER_TIMEOUT)
                response = post_batch(session, server.url, tokens["T01"], batch, body=body)
                assert response.status_code == 200, f"{response.status_code}: {response.text[:500]}"
                history.record(batch, response.json())
                bodies.append(response.json())
        return bodies

    answers = run_clients([client] * clients)

    all_sales = [sale for batch in rounds for sale in batch]
    for number, batch in enumerate(rounds):
        bodies = [per_client[number] for per_client in answers]
        # Across the ten answers each sale was created exactly once, and duplicate in the nine others.
        for sale in batch:
            assert Counter(history.statuses(sale["offline_id"])) == {"created": 1, "duplicate": clients - 1}, (
                history.results[sale["offline_id"]]
            )
        assert sum(body["created"] for body in bodies) == len(batch)
        assert sum(body["duplicates"] for body in bodies) == len(batch) * (clients - 1)
        assert all(body["conflicts"] == body["rejected"] == 0 for body in bodies)
    stored = check_stored(database_url, all_sales, history, exactly_one_created=True)
    # Device policy: every sale keeps its receipt number.
    assert {stored[s["offline_id"]][1] for s in all_sales} == {s["receipt_number"] for s in all_sales}

    # A later replay still gets the first answer (invariant 6), and changes nothing.
    with requests.Session() as session:
        again = post_expecting_200(session, server, tokens["T01"], rounds[0], history)
    assert again["duplicates"] == len(rounds[0]) and again["created"] == 0
    check_stored(database_url, all_sales, history, exactly_one_created=True)


# 2 ------------------------------------------------------------------------------------------------


def test_raced_and_overlapping_batches_do_not_deadlock(database_url, redis_server, tmp_path, gunicorn):
    devices = ["T01", "T02"]
    tokens = seed(database_url, redis_server.url, tmp_path, devices)
    server = gunicorn()
    rng = random.Random(2)
    pools = {name: [varied_sale(rng, name) for _ in range(60)] for name in devices}
    clients_per_device = 3
    plans = []
    for name, pool in pools.items():
        new_batch = pool[:20]  # one new batch, raced by every client of the device
        for _ in range(clients_per_device):
            # Windows of 20 sales overlapping by 10, in a different order for each client and inside each batch.
            windows = [
                rng.sample(pool[start : start + 20], len(pool[start : start + 20])) for start in range(0, 60, 10)
            ]
            rng.shuffle(windows)
            plans.append((tokens[name], [rng.sample(new_batch, len(new_batch))] + windows))
    rounds = len(plans[0][1])
    barrier = threading.Barrier(len(plans))
    history = History()

    def client(token, batches):
        bodies = []
        with requests.Session() as session:
            for batch in batches:  # every client sends its k-th batch at the same moment
                body = encode_batch(batch)
                barrier.wait(timeout=BARRIER_TIMEOUT)
                bodies.append(post_expecting_200(session, server, token, batch, history, body))
        return bodies

    answers = run_clients([lambda plan=plan: client(*plan) for plan in plans])

    assert history.answered == len(plans) * rounds  # every request answered 200: no deadlock, no 503
    all_sales = [sale for pool in pools.values() for sale in pool]
    check_stored(database_url, all_sales, history, exactly_one_created=True)
    check_owners(database_url, pools)
    # In the first round, the new batch raced by three clients of its device was created once per sale.
    for d, pool in enumerate(pools.values()):
        first_round = [answers[d * clients_per_device + k][0] for k in range(clients_per_device)]
        statuses = defaultdict(Counter)
        for body in first_round:
            for result in body["results"]:
                statuses[result["offline_id"]][result["status"]] += 1
        assert set(statuses) == {sale["offline_id"] for sale in pool[:20]}
        for offline_id, counted in statuses.items():
            assert counted == {"created": 1, "duplicate": clients_per_device - 1}, (offline_id, counted)


# 3 ------------------------------------------------------------------------------------------------


def test_dropped_answers_then_retries_store_each_sale_once(database_url, redis_server, tmp_path, gunicorn):
    tokens = seed(database_url, redis_server.url, tmp_path, ["T01", "T02"])
    server = gunicorn()
    rng = random.Random(3)
    names = list(tokens)
    batches = [(names[i % 2], [varied_sale(rng, names[i % 2]) for _ in range(8)]) for i in range(12)]
    clients = 6
    # Client c owns batches 2c and 2c+1 and also sends its neighbour's first one: overlapping retries.
    plans = [[batches[2 * c], batches[2 * c + 1], batches[(2 * c + 2) % len(batches)]] for c in range(clients)]
    history = History()
    dropped: list[str] = []
    deadline = time.monotonic() + 60

    def client(plan, seed_):
        crng = random.Random(seed_)
        with requests.Session() as session:
            for name, batch in plan:
                for _ in range(crng.randint(1, 2)):
                    try:
                        # The body is sent in full (under the connect timeout); the answer is not waited for.
                        response = post_batch(session, server.url, tokens[name], batch, timeout=(5, 0.001))
                    except requests.exceptions.ReadTimeout:
                        dropped.append(batch[0]["offline_id"])
                    else:  # answered within a millisecond: fine, but it is an answer like any other
                        assert response.status_code == 200, response.text[:500]
                        history.record(batch, response.json())
                    time.sleep(crng.uniform(0.05, 0.3))
                send_until_answered(session, server.url, tokens[name], batch, history, deadline=deadline)

    run_clients([lambda plan=plan, c=c: client(plan, c) for c, plan in enumerate(plans)])

    print(f"dropped answers: {len(dropped)}; retry failures: {dict(history.errors)}")
    assert len(dropped) >= clients, f"only {len(dropped)} answers were dropped"
    all_sales = [sale for _name, batch in batches for sale in batch]
    stored = check_stored(database_url, all_sales, history, exactly_one_created=False)
    # The dropped requests did reach the server: some sales were stored by one, and their first answer
    # seen by the till was a duplicate that gives the ids of that unseen creation.
    first_seen_duplicate = [s for s in all_sales if "created" not in history.statuses(s["offline_id"])]
    print(f"sales stored by a request whose answer was dropped: {len(first_seen_duplicate)}/{len(all_sales)}")
    assert first_seen_duplicate, "no dropped request was ever stored: the test dropped nothing"
    # The status endpoint, for a till that crashed before any answer, agrees with the database.
    with requests.Session() as session:
        for name in names:
            mine = [sale["offline_id"] for owner, batch in batches if owner == name for sale in batch]
            response = session.get(
                server.url + "/api/v1/sync/status",
                params={"offline_id": mine},
                headers=bearer(tokens[name]),
                timeout=30,
            )
            assert response.status_code == 200, response.text[:500]
            assert [row["offline_id"] for row in response.json()["results"]] == mine
            for row in response.json()["results"]:
                assert row["status"] == "synced"
                assert (row["order_id"], row["invoice_number"]) == stored[row["offline_id"]]


# 4 ------------------------------------------------------------------------------------------------


def _serving(server: GunicornServer, pid: int) -> bool:
    """Whether the worker holds a client connection right now, i.e. is serving a request."""
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == server.port for c in connections)


def _busy_worker(server: GunicornServer, timeout: float) -> int | None:
    """A worker serving a request right now; None if none did in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in server.worker_pids():
            if _serving(server, pid):
                return pid
        time.sleep(0.005)
    return None


def _wait_replaced(server: GunicornServer, killed: int, before: set[int]) -> None:
    """Wait until the master has replaced the killed worker, and (for a while) until the new one serves.

    `before` is the set of workers taken before the kill (the master may fork the replacement at once).
    Waiting keeps at most one worker booting at a time: the burst goes on, on the others, meanwhile.
    """
    deadline = time.monotonic() + 30
    while True:
        new = [pid for pid in server.worker_pids() if pid not in before]
        if new:
            break
        assert time.monotonic() < deadline, f"gunicorn did not replace worker {killed}:\n{server.log()}"
        time.sleep(0.01)
    serving_deadline = time.monotonic() + 10  # a slow boot on a busy machine is not the server's fault
    while not _serving(server, new[0]) and time.monotonic() < serving_deadline:
        time.sleep(0.01)


KILLS = 4


def test_worker_killed_mid_burst_loses_and_doubles_nothing(database_url, redis_server, tmp_path, gunicorn):
    devices = ["T01", "T02"]
    tokens = seed(database_url, redis_server.url, tmp_path, devices)
    server = gunicorn()
    rng = random.Random(4)
    clients = 8
    own = [[[varied_sale(rng, devices[c % 2]) for _ in range(25)] for _ in range(4)] for c in range(clients)]
    # Each client also sends batches of two other clients of the same device, racing them.
    plans = [own[c] + [own[(c + 2) % clients][0], own[(c + 4) % clients][1]] for c in range(clients)]
    history = History()
    started, killing_done = threading.Event(), threading.Event()
    kills: list[int] = []
    deadline = time.monotonic() + 90

    def killer():
        try:
            assert started.wait(30), "no client got an answer"
            krng = random.Random(44)
            # A kill may land just after a worker wrote its answer: then go on (bounded) until one cut a request.
            while (
                (len(kills) < KILLS or not history.errors)
                and len(kills) < 3 * KILLS
                and time.monotonic() < deadline - 30
            ):
                time.sleep(krng.uniform(0.05, 0.25))
                pid = _busy_worker(server, timeout=5)
                if pid is not None:
                    before = set(server.worker_pids())
                    server.kill_worker(pid)
                    kills.append(pid)
                    _wait_replaced(server, pid, before)
        finally:
            killing_done.set()

    def client(c):
        crng = random.Random(c)
        token = tokens[devices[c % 2]]
        with requests.Session() as session:
            for batch in plans[c]:
                send_until_answered(session, server.url, token, batch, history, deadline=deadline)
                started.set()
            # Keep the burst going (replays of sent batches) until the killing is over.
            while not killing_done.is_set() and time.monotonic() < deadline - 15:
                send_until_answered(session, server.url, token, crng.choice(plans[c]), history, deadline=deadline)
                time.sleep(0.05)  # leave some CPU to the worker that boots

    run_clients([killer] + [lambda c=c: client(c) for c in range(clients)])

    print(f"killed workers: {kills}; failed attempts: {dict(history.errors)}; answers: {history.answered}")
    assert len(kills) >= KILLS, f"only {len(kills)} workers were caught serving a request and killed"
    assert sum(history.errors.values()) > 0, "no request was interrupted by the kills"
    all_sales = [sale for batches in own for batch in batches for sale in batch]
    check_stored(database_url, all_sales, history, exactly_one_created=False)
    check_owners(
        database_url,
        {
            name: [s for c in range(clients) if devices[c % 2] == name for batch in own[c] for s in batch]
            for name in devices
        },
    )
    # The server is whole again and still answers replays with the first ids.
    assert len(server.wait_for_workers()) == server.workers
    with requests.Session() as session:
        for c in range(0, clients, 3):
            body = post_expecting_200(session, server, tokens[devices[c % 2]], own[c][0], history)
            assert body["duplicates"] == len(own[c][0])
    history.check_against(stored_offline_ids(database_url), all_sales, exactly_one_created=False)


# 5 ------------------------------------------------------------------------------------------------


def test_concurrent_receipt_number_collisions_keep_every_sale(database_url, redis_server, tmp_path, gunicorn):
    devices = ["T01", "T02", "T03", "T04"]
    tokens = seed(database_url, redis_server.url, tmp_path, devices)
    server = gunicorn(INVOICE_POLICY="device")
    rng = random.Random(5)
    rounds = [[f"POS-{r * 8 + n:06d}" for n in range(1, 9)] for r in range(2)]
    sales_by_device: dict[str, list[dict]] = defaultdict(list)
    # round -> device -> batch: one sale per shared number, plus two sales with a number of their own.
    batches = []
    for numbers in rounds:
        batch_of = {}
        for name in devices:
            batch = [varied_sale(rng, name, receipt_number=number) for number in numbers]
            batch += [varied_sale(rng, name) for _ in range(2)]
            sales_by_device[name] += batch
            batch_of[name] = batch
        batches.append(batch_of)
    senders_per_device = 2
    barrier = threading.Barrier(len(devices) * senders_per_device)
    history = History()

    def client(name, seed_):
        crng = random.Random(seed_)
        with requests.Session() as session:
            for batch_of in batches:
                batch = crng.sample(batch_of[name], len(batch_of[name]))  # each sender in its own order
                body = encode_batch(batch)
                barrier.wait(timeout=BARRIER_TIMEOUT)
                post_expecting_200(session, server, tokens[name], batch, history, body)

    run_clients([lambda name=name, s=s: client(name, s) for name in devices for s in range(senders_per_device)])

    all_sales = [sale for sales in sales_by_device.values() for sale in sales]
    stored = check_stored(database_url, all_sales, history, exactly_one_created=True)  # none dropped
    check_owners(database_url, sales_by_device)
    flagged = dict(query(database_url, "SELECT offline_id, receipt_number_collision FROM orders"))
    shared = {number for numbers in rounds for number in numbers}
    by_number = defaultdict(list)
    for sale in all_sales:
        by_number[sale["receipt_number"]].append(sale)
    for number, sales in by_number.items():
        invoices = [stored[s["offline_id"]][1] for s in sales]
        keepers = [s for s, invoice in zip(sales, invoices) if invoice == number]
        assert len(keepers) == 1, f"{number}: {len(keepers)} sales kept it as invoice number: {invoices}"
        if number not in shared:
            assert len(sales) == 1
        else:
            assert len(sales) == len(devices)
            assert len(set(invoices)) == len(devices), f"{number}: invoice numbers not distinct: {invoices}"
        for sale in sales:
            created = [r for r in history.results[sale["offline_id"]] if r["status"] == "created"]
            assert len(created) == 1
            if sale is keepers[0]:
                assert "reason" not in created[0], created[0]
                assert not flagged[sale["offline_id"]]
            else:
                assert created[0].get("reason") == "receipt_number_collision", created[0]
                assert created[0]["invoice_number"].startswith("S-"), created[0]
                assert flagged[sale["offline_id"]]
    collisions = sum(1 for f in flagged.values() if f)
    assert collisions == len(shared) * (len(devices) - 1)


def test_daily_closes_raced_by_many_clients_keep_one_current_close(database_url, redis_server, tmp_path, gunicorn):
    """Ten copies of one close and three different closes of one day, all at once: one row per distinct
    close, exactly one current, every other one replaced (POST /api/v1/closings)."""
    from datetime import datetime, timedelta, timezone

    tokens = seed(database_url, redis_server.url, tmp_path, ["T01"])
    server = gunicorn()
    day = (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()
    bodies = [{"business_day": day, "sales_count": n, "sales_total": f"{n}.00"} for n in (1, 2, 3)]
    barrier = threading.Barrier(13, timeout=BARRIER_TIMEOUT)

    def send(body):
        def call():
            with requests.Session() as session:
                barrier.wait()
                response = session.post(f"{server.url}/api/v1/closings", json=body, headers=bearer(tokens["T01"]))
                assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
                return response.json()

        return call

    answers = run_clients([send(bodies[0]) for _ in range(10)] + [send(body) for body in bodies])
    assert len({a["closing_id"] for a in answers[:10]} | {answers[10]["closing_id"]}) == 1
    rows = query(database_url, "SELECT sales_count, replaced_at IS NULL, replaced_by_id FROM closings ORDER BY id")
    assert sorted(count for count, _current, _by in rows) == [1, 2, 3]
    assert sum(1 for _count, current, _by in rows if current) == 1
    assert all(by is not None for _count, current, by in rows if not current)
