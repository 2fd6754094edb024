"""The built wheel runs the product with no checkout: migrations, a till's sync, a dashboard page,
and what an operator does next: web and worker up, /readyz green, /metrics scraped, JSON logs with
the request id, a prune, a backup restored into a fresh database.

It is built from this repository, installed into a fresh virtualenv (the runtime lock file's
exact versions), and every command runs from an empty directory outside the repository, as an
operator who only has the wheel would run it, on PostgreSQL and Redis given by URL.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.support.sales import CATALOG, bearer, make_sale
from tests.support.services import free_port, wait_for_http

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "a long wheel password 42"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel built from this checkout, and nothing else of the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            REPO,
            "-w",
            work / "dist",
        ],
        cwd=work,
    )
    wheel = next((work / "dist").glob("tillsync-*.whl"))
    venv = work / "venv"
    run([sys.executable, "-m", "venv", venv])
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    run([*pip, "--require-hashes", "-r", REPO / "requirements.lock"], cwd=work)
    run([*pip, "--no-deps", wheel], cwd=work)
    return venv


def test_the_wheel_carries_what_the_product_needs(installed):
    where = run(
        [installed / "bin" / "python", "-c", "import dashboard, pathlib; print(dashboard.__file__)"],
        cwd=installed.parent,
    ).stdout.strip()
    package = Path(where).parent
    assert str(installed) in where and not where.startswith(str(REPO))
    for name in (
        "shipped/templates/admin/overview.html",
        "shipped/static/app.css",
        "shipped/migrations/env.py",
        "shipped/migrations/alembic.ini",
        "shipped/migrations/versions/0001_initial_schema.py",
        "translations/ar/LC_MESSAGES/messages.mo",
        "data/bakery.csv",
        "wsgi.py",
        "gunicorn_conf.py",
    ):
        assert (package / name).is_file(), name


def test_from_the_wheel_migrate_sync_and_sign_in(installed, pg_server, redis_server, tmp_path):
    admin = create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE wheel_test"))
    admin.dispose()
    here = tmp_path / "operator"  # no checkout here, and no gunicorn.conf.py or wsgi.py to pick up
    here.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "FLASK_APP")}
    env.update(
        DATABASE_URL=pg_server.url("wheel_test"),
        # A database of its own in the session's Redis: no other test's worker counts as this one's.
        REDIS_URL=redis_server.url + "?db=7",
        SECRET_KEY="wheel-test",
        TILLSYNC_INSTANCE_PATH=str(tmp_path / "instance"),
        SYNC_RATE_LIMIT_PER_MINUTE="0",
        METRICS_TOKEN="scrape-me",
    )
    tillsync = installed / "bin" / "tillsync"

    def command(*args: str, **kwargs) -> str:
        return run([tillsync, *args], cwd=here, env=env, **kwargs).stdout

    command("db", "upgrade")
    catalogue = here / "catalogue.csv"
    with catalogue.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sku", "name", "price", "stock_quantity"])
        writer.writerows([sku, *values] for sku, values in CATALOG.items())
    assert "4 products created" in command("products", "import", str(catalogue))
    assert "products created" in command("demo", "catalog")  # the shipped demo data loads
    token = command("devices", "add", "T-WHEEL").strip().splitlines()[-1]
    command("users", "create", "owner@example.com", "--role", "admin", "--password-stdin", input=PASSWORD + "\n")

    port = free_port()
    log = (tmp_path / "web.log").open("w+")
    web = subprocess.Popen(
        [tillsync, "web", "-b", f"127.0.0.1:{port}", "-w", "2", "--access-logfile", "-"],
        cwd=here,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/healthz", timeout=60)
        sale = make_sale(prefix="WHEEL")
        answer = requests.post(url + "/api/v1/sync", json={"orders": [sale]}, headers=bearer(token), timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"][0]["status"] == "created"

        session = requests.Session()
        csrf = _CSRF.search(session.get(url + "/login", timeout=10).text).group(1)
        signed = session.post(
            url + "/login",
            data={"email": "owner@example.com", "password": PASSWORD, "csrf_token": csrf},
            allow_redirects=False,
            timeout=10,
        )
        assert signed.status_code == 302, signed.text[:500]
        orders = session.get(url + "/orders", timeout=10)
        assert orders.status_code == 200 and sale["receipt_number"] in orders.text
        assert session.get(url + "/static/app.css", timeout=10).status_code == 200

        # Not ready until a worker's heartbeat is seen; then every check is green.
        not_yet = requests.get(url + "/readyz", timeout=10)
        assert not_yet.status_code == 503 and not not_yet.json()["checks"]["worker"]["ok"], not_yet.text
        worker = subprocess.Popen(
            [tillsync, "worker"],
            cwd=here,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            ready = None
            for _ in range(60):
                ready = requests.get(url + "/readyz", timeout=10)
                if ready.status_code == 200:
                    break
                time.sleep(1)
            assert ready is not None and ready.status_code == 200, ready.text if ready is not None else None
            assert {name for name, check in ready.json()["checks"].items() if check["ok"]} >= {
                "database",
                "redis",
                "worker",
            }
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)

        # Prometheus: closed without the token, the sync counted with it.
        assert requests.get(url + "/metrics", timeout=10).status_code == 401
        scraped = requests.get(url + "/metrics", headers={"Authorization": "Bearer scrape-me"}, timeout=10)
        assert scraped.status_code == 200
        assert re.search(r'tillsync_sync_sales_total\{[^}]*status="created"[^}]*\} 1\.0', scraped.text), scraped.text[
            :2000
        ]

        # JSON logs: the request id a caller sends comes back, and is on the access log's line.
        traced = requests.get(url + "/healthz", headers={"X-Request-ID": "wheel-trace-42"}, timeout=10)
        assert traced.headers["X-Request-ID"] == "wheel-trace-42"

        # gunicorn writes a request's access line after it has sent the answer, so the line can come
        # a moment after the answer does: read the log until it is there.
        def traced_line_logged() -> bool:
            log.seek(0)
            lines = [json.loads(line) for line in log.read().splitlines() if line.startswith("{")]
            return any(line.get("request_id") == "wheel-trace-42" for line in lines)

        deadline = time.monotonic() + 10
        while not traced_line_logged() and time.monotonic() < deadline:
            time.sleep(0.05)
        log.seek(0)
        written = log.read()
        assert "Using worker: gthread" in written  # the shipped gunicorn settings, not gunicorn's defaults
        assert traced_line_logged(), written[-3000:]
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
        log.close()

    # Retention and backups, as the runbook says, from the wheel's command.
    assert json.loads(command("logs", "prune", "--older-than", "90d", "--format", "json"))["deleted"] is not None
    backup = tmp_path / "tillsync.dump"
    command("backup", str(backup))
    admin = create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE wheel_restored"))
    admin.dispose()
    restored_env = {**env, "DATABASE_URL": pg_server.url("wheel_restored")}
    run([tillsync, "restore", str(backup)], cwd=here, env=restored_env)
    restored = create_engine(pg_server.url("wheel_restored"))
    with restored.connect() as conn:
        assert conn.execute(text("SELECT offline_id FROM orders")).scalars().all() == [sale["offline_id"]]
    restored.dispose()

    # The worker and the admin commands read the same settings from the same environment.
    command("worker", "--burst")
    assert "T-WHEEL" in command("devices", "list")
