"""Prometheus metrics added up across gunicorn's workers, and JSON logs that carry the request id."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from dashboard.domain.devices import add_device
from dashboard.extensions import db
from tests.conftest import make_app
from tests.support.gunicorn import GunicornServer
from tests.support.sales import bearer, load_catalog, make_sale

METRICS_TOKEN = "scrape-secret"


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if found == {key: str(value) for key, value in labels.items()}:
            return float(match.group(3))
    return 0.0


@pytest.fixture
def served(database_url, redis_server, tmp_path):
    app = make_app(database_url, redis_server.url, tmp_path)
    with app.app_context():
        load_catalog()
        token = add_device("T01")
        db.session.remove()
        db.engine.dispose()
    server = GunicornServer(
        database_url, redis_server.url, workers=2, METRICS_TOKEN=METRICS_TOKEN, args=("--access-logfile", "-")
    ).start()
    try:
        yield server, token
    finally:
        server.stop()


def log_entries(server) -> list[dict]:
    return [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]


def scrape(server) -> str:
    # A new connection each time: any of the workers may answer.
    response = requests.get(
        server.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}", "Connection": "close"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


@pytest.mark.slow
def test_metrics_add_up_every_worker_and_logs_carry_the_request_id(served):
    server, token = served
    syncs, request_ids = 0, []
    # Until both workers have answered syncs (the access log names the answering process).
    deadline = time.monotonic() + 60
    while True:
        request_id = f"till-T01-{syncs:04d}"
        sale = make_sale()
        answer = requests.post(
            server.url + "/api/v1/sync",
            json={"orders": [sale, sale]},
            headers={**bearer(token), "X-Request-ID": request_id, "Connection": "close"},
            timeout=10,
        )
        assert answer.status_code == 200 and answer.headers["X-Request-ID"] == request_id
        syncs += 1
        request_ids.append((request_id, answer.json()["sync_id"]))
        pids = {e["pid"] for e in log_entries(server) if e.get("event") == "access" and e["path"] == "/api/v1/sync"}
        if len(pids) == 2 and syncs >= 6:
            break
        assert time.monotonic() < deadline, "the syncs never reached both workers"
    refused = requests.post(server.url + "/api/v1/sync", json={"orders": []}, timeout=10)
    assert refused.status_code == 401

    for _ in range(4):  # whichever worker answers the scrape, it counts everyone's work
        text = scrape(server)
        assert sample(text, "tillsync_sync_requests_total", http_status="200", error="") == syncs
        assert sample(text, "tillsync_sync_requests_total", http_status="401", error="missing_token") == 1
        assert sample(text, "tillsync_sync_sales_total", status="created", reason="") == syncs
        assert sample(text, "tillsync_sync_sales_total", status="duplicate", reason="") == syncs
        assert (
            sample(
                text, "tillsync_request_duration_seconds_count", endpoint="api.sync", method="POST", status_class="2xx"
            )
            == syncs
        )
        assert sample(text, "tillsync_redis_up") == 1 and sample(text, "tillsync_database_up") == 1
        assert sample(text, "tillsync_queue_jobs", state="failed") == 0

    entries = log_entries(server)
    for request_id, sync_id in request_ids:
        access = [e for e in entries if e.get("event") == "access" and e.get("request_id") == request_id]
        assert len(access) == 1 and access[0]["status"] == 200 and access[0]["method"] == "POST"
        stored = [e for e in entries if e.get("event") == "sync" and e.get("request_id") == request_id]
        assert len(stored) == 1
        assert stored[0]["device"] == "T01" and stored[0]["sync_id"] == sync_id
        assert (stored[0]["created"], stored[0]["duplicates"]) == (1, 1)


def test_unsafe_or_missing_request_ids_are_replaced(client):
    for sent in ("a" * 129, "two words", 'quote"d', "ünïcode", ""):
        answer = client.get("/healthz", headers={"X-Request-ID": sent})
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"]), sent
    assert client.get("/healthz").headers["X-Request-ID"] != client.get("/healthz").headers["X-Request-ID"]
    kept = "7f1c2b9e-0000-4000-8000-000000000001:span.42"
    assert client.get("/healthz", headers={"X-Request-ID": kept}).headers["X-Request-ID"] == kept


def test_metrics_are_closed_without_a_token_setting_and_ask_for_the_token_when_set(app, client):
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics").get_json()["error"] == "metrics_disabled"
    app.config["METRICS_TOKEN"] = METRICS_TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200


def test_app_log_lines_are_json_with_the_request_id(app, client, token, catalog):
    import io
    import logging

    # The handler the app installed on the root logger, writing to a buffer for this test.
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "tillsync")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        answer = client.post(
            "/api/v1/sync", json={"orders": [make_sale()]}, headers={**bearer(token), "X-Request-ID": "req-json-1"}
        )
    finally:
        handler.setStream(previous)
    assert answer.status_code == 200
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]  # every line is one JSON object
    lines = [line for line in lines if line.get("request_id") == "req-json-1"]
    synced = [line for line in lines if line.get("event") == "sync"]
    assert synced and synced[0]["device"] == "T01" and synced[0]["sync_id"] == answer.get_json()["sync_id"]
    assert synced[0]["level"] == "INFO" and synced[0]["logger"] == "dashboard.api.sync"


def counted(name: str, **labels) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_write_retries_are_counted(app):
    from sqlalchemy.exc import OperationalError

    from dashboard.database import run_write

    failures = iter([True, False])

    def unit():
        if next(failures):  # the database dropped the first attempt, as a restart would
            raise OperationalError("INSERT ...", {}, Exception("server closed the connection unexpectedly"))
        return "stored"

    before = counted("tillsync_db_write_retries_total", error="OperationalError")
    assert run_write(unit) == "stored"
    assert counted("tillsync_db_write_retries_total", error="OperationalError") == before + 1


def test_503_answers_are_counted_by_endpoint_and_code(tmp_path, redis_server):
    app = make_app(f"sqlite:///{tmp_path / 'empty.db'}", redis_server.url, tmp_path)
    with app.app_context():
        labels = {"endpoint": "api.sync", "error": "schema_not_ready"}
        before = counted("tillsync_unavailable_responses_total", **labels)
        app.test_client().post("/api/v1/sync", json={"orders": []}, headers=bearer("x"))
        assert counted("tillsync_unavailable_responses_total", **labels) == before + 1
        db.engine.dispose()


def test_an_operators_metrics_folder_is_emptied_at_start_and_kept(database_url, redis_server, tmp_path):
    """Files of a previous run would be added to this run's counts: gunicorn.conf.py removes them."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    stale = folder / "counter_999999.db"
    stale.write_bytes(b"left by a previous run")
    server = GunicornServer(
        database_url, redis_server.url, workers=1, METRICS_TOKEN=METRICS_TOKEN, PROMETHEUS_MULTIPROC_DIR=str(folder)
    ).start()
    try:
        assert not stale.exists()
        labels = {"endpoint": "admin.healthz", "method": "GET", "status_class": "2xx"}
        before = sample(scrape(server), "tillsync_request_duration_seconds_count", **labels)
        requests.get(server.url + "/healthz", timeout=10)
        assert sample(scrape(server), "tillsync_request_duration_seconds_count", **labels) == before + 1
        assert any(folder.glob("*.db"))  # the worker's own files
    finally:
        server.stop()
    assert folder.is_dir()  # the operator's folder is theirs to remove
