"""`flask backup` while tills sync, then `flask restore` into a fresh database: every sale a till was told
was stored is there, and the restored books keep the contract's invariants."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import requests

from dashboard.domain.devices import add_device
from dashboard.extensions import db
from tests.conftest import UNUSED_REDIS, make_app
from tests.ops.helpers import empty_database
from tests.support.gunicorn import REPO, GunicornServer
from tests.support.invariants import check_invariants, stored_offline_ids
from tests.support.sales import bearer, load_catalog, make_sale


def flask(database_url: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    """An operator's command, run as one: its own process, the database given by URL."""
    # Backups never use Redis, but a PostgreSQL configuration must name one (config.Settings).
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test",
        "REDIS_URL": UNUSED_REDIS,
        "TILLSYNC_INSTANCE_PATH": str(tmp_path / "cli-instance"),
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


class Fleet:
    """Tills syncing new sales in a loop; remembers when each sale was acknowledged."""

    def __init__(self, url: str, tokens: list[str]):
        self.url, self.tokens = url, tokens
        self.acked: list[tuple[float, str]] = []
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._till, args=(token, f"T{n:02d}")) for n, token in enumerate(tokens, 1)
        ]

    def _till(self, token: str, prefix: str) -> None:
        session = requests.Session()
        while not self.stop.is_set():
            sales = [make_sale(prefix=prefix) for _ in range(5)]
            answer = session.post(self.url + "/api/v1/sync", json={"orders": sales}, headers=bearer(token), timeout=60)
            assert answer.status_code == 200, answer.text
            done = time.monotonic()
            for sale, result in zip(sales, answer.json()["results"]):
                if result["status"] in ("created", "duplicate"):
                    self.acked.append((done, sale["offline_id"]))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


@pytest.mark.slow
def test_backup_under_live_sync_traffic_restores_every_acknowledged_sale(
    backend, database_url, redis_server, tmp_path, request
):
    app = make_app(database_url, redis_server.url, tmp_path)
    with app.app_context():
        load_catalog()
        tokens = [add_device(f"T{n:02d}") for n in (1, 2, 3)]
        db.session.remove()
        db.engine.dispose()
    backup_file = tmp_path / "tillsync.backup"
    server = GunicornServer(database_url, redis_server.url, workers=2).start()
    try:
        with Fleet(server.url, tokens) as fleet:
            while len(fleet.acked) < 200:
                time.sleep(0.05)
            started = time.monotonic()
            made = flask(database_url, tmp_path, "backup", str(backup_file))
            finished = time.monotonic()
            while not any(at > finished for at, _ in fleet.acked):  # the tills went on syncing throughout
                time.sleep(0.05)
    finally:
        server.stop()
    assert made.returncode == 0, made.stderr[-3000:]
    assert "SECRET_KEY" in made.stdout
    assert oct(backup_file.stat().st_mode & 0o777) == "0o600"
    during = [oid for at, oid in fleet.acked if started <= at <= finished]
    acknowledged_before = {oid for at, oid in fleet.acked if at < started}

    restored_folder = tmp_path / "restored"
    restored_folder.mkdir()
    fresh = empty_database(backend, request, restored_folder)
    restored = flask(fresh, tmp_path, "restore", str(backup_file))
    assert restored.returncode == 0, restored.stderr[-3000:]
    assert "SECRET_KEY" in restored.stdout
    found = stored_offline_ids(fresh)
    assert acknowledged_before <= set(found), f"{len(acknowledged_before - set(found))} acknowledged sales lost"
    check_invariants(fresh)
    print(
        f"{len(acknowledged_before)} sales acknowledged before the backup, {len(during)} during it; "
        f"{len(found)} in the restored database"
    )

    # The restored database is at the head migration and serves: a migrated server is ready for tills.
    assert flask(fresh, tmp_path, "db", "current").stdout.strip().endswith("(head)")

    # A database that holds data is not overwritten unless asked.
    refused = flask(database_url, tmp_path, "restore", str(backup_file))
    assert refused.returncode != 0 and "already holds data" in refused.stderr
    assert len(stored_offline_ids(database_url)) >= len(found)
    forced = flask(database_url, tmp_path, "restore", "--force", str(backup_file))
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert set(stored_offline_ids(database_url)) == set(found)
    check_invariants(database_url)


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path):
    junk = tmp_path / "junk.backup"
    junk.write_text("not a database")
    done = flask(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path, "restore", str(junk))
    assert done.returncode != 0 and "Nothing was restored" in done.stderr


def test_a_restored_sqlite_file_is_private_and_a_backup_is_refused_for_a_missing_file(tmp_path):
    from dashboard.backup import BackupError, backup, restore

    with pytest.raises(BackupError, match="no such database file"):
        backup(f"sqlite:///{tmp_path / 'missing.db'}", tmp_path / "out.backup")
    source = tmp_path / "source.db"
    import sqlite3

    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    made = backup(f"sqlite:///{source}", tmp_path / "out.backup")
    target = tmp_path / "restored.db"
    restore(f"sqlite:///{target}", made.path)
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    conn.close()
