"""The one-command setup without nginx: gunicorn as scripts/run.sh starts it (issue 8, findings 1, 9, 10).

scripts/run.sh runs `gunicorn -w 3 --access-logfile instance/access.log wsgi:app` from the
repository root, so gunicorn.conf.py gives it threaded workers and the longer request line;
tests/support/gunicorn.py starts it the same way.
"""
from __future__ import annotations

import stat

import pytest

from tests.deploy.checks import STATUS_IDS, status_of_500_ids, till_syncs
from tests.support.gunicorn import GunicornServer
from tests.support.slow_clients import SlowClients, health_latencies

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gunicorn(till_database, redis_server, tmp_path_factory):
    database_url, token = till_database
    logs = tmp_path_factory.mktemp("gunicorn-logs")
    server = GunicornServer(database_url, redis_server.url, workers=3,
                            args=("--access-logfile", str(logs / "access.log"),
                                  "--error-logfile", str(logs / "error.log")))
    server.start()
    server.logs = logs
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
