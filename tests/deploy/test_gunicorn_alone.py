"""The one-command setup without nginx: gunicorn as scripts/run.sh starts it (issue 8, findings 1, 9, 10).

scripts/run.sh runs `gunicorn -w 3 --access-logfile instance/access.log wsgi:app` from the
repository root, so gunicorn.conf.py gives it threaded workers and the longer request line;
tests/support/gunicorn.py starts it the same way.
"""

from __future__ import annotations

import socket
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import bindparam, create_engine, text

from tests.deploy.checks import STATUS_IDS, status_of_500_ids, till_syncs
from tests.support.gunicorn import GunicornServer
from tests.support.invariants import check_invariants
from tests.support.sales import bearer, make_sale
from tests.support.slow_clients import SlowClients, health_latencies

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gunicorn(till_database, redis_server, tmp_path_factory):
    database_url, token = till_database
    logs = tmp_path_factory.mktemp("gunicorn-logs")
    server = GunicornServer(
        database_url,
        redis_server.url,
        workers=3,
        args=("--access-logfile", str(logs / "access.log"), "--error-logfile", str(logs / "error.log")),
    )
    server.start()
    server.logs = logs
    server.database_url = database_url
    yield server, token
    server.stop()


def test_gunicorn_conf_is_what_the_tests_gunicorn_runs(gunicorn):
    server, _ = gunicorn
    assert "Using worker: gthread" in (server.logs / "error.log").read_text()


def test_a_few_slow_clients_do_not_stop_gunicorn_alone(gunicorn):
    server, token = gunicorn
    slow = [SlowClients(server.url, 3, "header").start(), SlowClients(server.url, 3, "body", token=token).start()]
    try:
        latencies = health_latencies(server.url, samples=10, spacing=0.1)
        assert max(latencies) < 1.0, latencies
        assert till_syncs(server.url, token) < 1.0
        assert [clients.open_count() for clients in slow] == [3, 3]
    finally:
        for clients in slow:
            clients.stop()


def test_status_of_500_ids_by_get_through_gunicorn_alone(gunicorn):
    server, token = gunicorn
    response = status_of_500_ids(server.url, token)
    assert response.status_code == 200, response.text[:300]
    assert [r["offline_id"] for r in response.json()["results"]] == STATUS_IDS


def test_log_files_are_readable_by_their_owner_only(gunicorn):
    server, token = gunicorn
    till_syncs(server.url, token)  # something in the access log
    for name in ("access.log", "error.log"):
        mode = stat.S_IMODE((server.logs / name).stat().st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"


def test_threads_racing_on_sqlite_store_each_sale_once(gunicorn):
    """Many threads of one worker write at once: BEGIN IMMEDIATE and a session per request keep it exact."""
    server, token = gunicorn
    sales = [make_sale() for _ in range(20)]

    def send(_):
        response = requests.post(f"{server.url}/api/v1/sync", json={"orders": sales}, headers=bearer(token), timeout=60)
        assert response.status_code == 200, response.text[:300]
        return [result["status"] for result in response.json()["results"]]

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(send, range(12)))
    assert sum(statuses.count("created") for statuses in answers) == len(sales)
    assert all(set(statuses) <= {"created", "duplicate"} for statuses in answers)
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            query = text("SELECT COUNT(*) FROM orders WHERE offline_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            )
            stored = conn.execute(query, {"ids": [sale["offline_id"] for sale in sales]}).scalar()
        assert stored == len(sales)
        check_invariants(engine)
    finally:
        engine.dispose()


def test_an_over_long_request_line_is_the_apis_json_414(gunicorn):
    """gunicorn refuses a line over 32 KB before Flask sees it; a till still reads the contract's JSON error."""
    server, token = gunicorn
    query = "&".join(["offline_id=" + "f" * 36] * 1000)  # about 48 KB
    response = requests.get(f"{server.url}/api/v1/sync/status?{query}", headers=bearer(token), timeout=30)
    assert response.status_code == 414
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "uri_too_long" and "POST" in response.json()["message"]
    assert till_syncs(server.url, token) < 5.0  # the worker that refused it serves on


def test_other_refusals_of_gunicorn_are_left_as_they_were(gunicorn):
    """Only the 414 is rewritten: a malformed request line still gets gunicorn's own 400."""
    server, _ = gunicorn
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET  /api/v1/products HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"Content-Type: text/html" in answer, answer[:300]
