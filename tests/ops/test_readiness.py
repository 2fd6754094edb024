"""/readyz and the tills' answer when the service is not ready: unmigrated database, Redis down, no worker."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import pytest

from dashboard.extensions import db
from tests.conftest import make_app
from tests.ops.helpers import empty_database
from tests.support.gunicorn import REPO
from tests.support.sales import bearer, make_sale


@pytest.fixture
def unmigrated_app(backend, request, tmp_path, redis_server):
    app = make_app(empty_database(backend, request, tmp_path), redis_server.url, tmp_path)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_unmigrated_database_is_not_ready_and_tills_hear_a_non_retryable_code(unmigrated_app, caplog):
    client = unmigrated_app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.get_json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] is False
    assert "flask db upgrade" in body["checks"]["database"]["detail"]
    assert client.get("/healthz").status_code == 200  # alive, though not ready

    with caplog.at_level(logging.ERROR, logger="dashboard.observability.schema"):
        answer = client.post("/api/v1/sync", json={"orders": [make_sale()]}, headers=bearer("any"))
    assert answer.status_code == 503
    assert answer.get_json()["error"] == "schema_not_ready"
    assert "Retry-After" not in answer.headers  # not "come back in 5 s": an operator must act
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and getattr(r, "event", "") == "schema_not_ready"]
    assert errors and "flask db upgrade" in errors[0].getMessage()
    # Every API address answers the same, not a 500 or a retryable database_unavailable.
    for path in ("/api/v1/products", "/api/v1/sync/status?offline_id=x"):
        response = client.get(path, headers=bearer("any"))
        assert (response.status_code, response.get_json()["error"]) == (503, "schema_not_ready"), path


def test_database_behind_the_head_migration_is_not_ready(tmp_path, redis_server):
    from flask_migrate import upgrade

    url = f"sqlite:///{tmp_path / 'behind.db'}"
    app = make_app(url, redis_server.url, tmp_path)
    with app.app_context():
        upgrade(revision="0005")
        client = app.test_client()
        ready = client.get("/readyz").get_json()
        assert ready["checks"]["database"]["ok"] is False
        assert ready["checks"]["database"]["detail"].startswith("at 0005, the code needs ")
        assert (
            client.post("/api/v1/sync", json={"orders": []}, headers=bearer("x")).get_json()["error"]
            == "schema_not_ready"
        )
        upgrade()  # the operator runs the migrations: the same process is ready without a restart
        assert client.get("/readyz").get_json()["checks"]["database"]["ok"] is True
        assert (
            client.post("/api/v1/sync", json={"orders": []}, headers=bearer("x")).get_json()["error"] == "unknown_token"
        )
        db.session.remove()
        db.engine.dispose()


def test_redis_down_is_not_ready(database_url, tmp_path):
    dead = f"unix://{tmp_path / 'no-redis.sock'}"
    app = make_app(database_url, dead, tmp_path)
    with app.app_context():
        body = app.test_client().get("/readyz")
        assert body.status_code == 503
        checks = body.get_json()["checks"]
        assert checks["database"]["ok"] is True
        assert checks["redis"] == {"ok": False, "detail": "unreachable"}
        assert checks["worker"]["ok"] is False
        db.session.remove()
        db.engine.dispose()


def test_ready_only_once_a_worker_heartbeat_is_seen(app, redis_server):
    redis_server.flush()
    client = app.test_client()
    before = client.get("/readyz")
    assert before.status_code == 503
    checks = before.get_json()["checks"]
    assert checks["database"]["ok"] and checks["redis"]["ok"]
    assert checks["worker"]["ok"] is False and "flask worker" in checks["worker"]["detail"]

    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": "test",
        "TILLSYNC_INSTANCE_PATH": app.instance_path,
        "DUPLICATE_SCAN_INTERVAL_HOURS": "0",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while (answer := client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, answer.get_json()
            time.sleep(0.2)
        assert answer.get_json() == {
            "status": "ready",
            "checks": {
                "database": {"ok": True, "detail": answer.get_json()["checks"]["database"]["detail"]},
                "redis": {"ok": True, "detail": "reachable"},
                "worker": {"ok": True, "detail": "1 alive"},
            },
        }
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_reference_till_stops_at_once_on_an_unmigrated_server_and_keeps_its_sales(tmp_path, redis_server):
    """The till neither loops on retries nor loses the sale; the server's log says why, as JSON at ERROR."""
    import json

    from dashboard.client import Till
    from tests.client.helpers import BASKET
    from tests.support.gunicorn import GunicornServer

    server = GunicornServer(f"sqlite:///{tmp_path / 'empty.db'}", redis_server.url, workers=1).start()
    try:
        sleeps = []
        till = Till(tmp_path / "outbox.db", server.url, "some-token", "T01", sleep=sleeps.append)
        sold = till.record_sale(BASKET, cashier="Amal")
        report = till.sync()
        assert report.needs_attention and "schema_not_ready" in report.error
        assert (report.requests, report.retries, sleeps) == (1, 0, [])
        assert [sale.offline_id for sale in till.pending()] == [sold]
    finally:
        server.stop()
    entries = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    errors = [e for e in entries if e.get("event") == "schema_not_ready"]
    assert errors and errors[0]["level"] == "ERROR" and errors[0]["request_id"]


def test_an_unreachable_database_answers_503_retryable_and_is_logged(tmp_path, redis_server, caplog):
    from tests.support.services import free_port

    app = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone", redis_server.url, tmp_path)
    with app.app_context(), caplog.at_level(logging.ERROR, logger="dashboard.api.errors"):
        client = app.test_client()
        answer = client.post("/api/v1/sync", json={"orders": []}, headers=bearer("x"))
        assert answer.status_code == 503 and answer.get_json()["error"] == "database_unavailable"
        assert answer.headers["Retry-After"] == "5"
        ready = client.get("/readyz").get_json()
        assert ready["checks"]["database"] == {"ok": False, "detail": "unreachable"}
        db.engine.dispose()
    logged = [r for r in caplog.records if getattr(r, "event", "") == "database_unavailable"]
    assert logged and logged[0].levelno == logging.ERROR and "answered 503" in logged[0].getMessage()
