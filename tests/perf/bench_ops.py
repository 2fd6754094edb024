"""Backup and prune on a database the size of months of sync traffic: seconds, bytes, rows a second.

Not a pytest test: run it as a module,

    .venv/bin/python -m tests.perf.bench_ops [--logs 200000] [--backend sqlite|postgres|both]

Seeds a fresh migrated database with --logs old sync calls (empty polls, older than the
retention) and half as many old replay records, plus the same number of recent ones, then
prints for each backend: `flask backup`'s time and file size, and the prune's time, rows
deleted and rows a second (in transactions of 1,000 ids each). Figures, never a verdict.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from dashboard import create_app
from dashboard.backup import backup
from dashboard.domain.devices import add_device
from dashboard.domain.retention import prune
from dashboard.extensions import db
from dashboard.models import SyncAttempt, SyncLog
from tests.conftest import migrate
from tests.support.services import PostgresServer

CHUNK = 10_000


def seed(url: str, logs: int, folder: Path) -> None:
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "REDIS_URL": "redis://127.0.0.1:1"},
        instance_path=str(folder),
    )
    with app.app_context():
        add_device("T01")
        db.session.remove()
        db.engine.dispose()
    engine = create_engine(url)
    old = datetime.now(timezone.utc) - timedelta(days=120)
    recent = datetime.now(timezone.utc) - timedelta(days=1)
    with engine.begin() as conn:
        device = conn.execute(text("SELECT id FROM devices")).scalar_one()
        for when in (old, recent):
            first = conn.execute(text("SELECT coalesce(max(id), 0) FROM sync_logs")).scalar_one() + 1
            for start in range(0, logs, CHUNK):
                conn.execute(
                    insert(SyncLog),
                    [
                        {
                            "device_id": device,
                            "started_at": when + timedelta(seconds=i),
                            "http_status": 200,
                            "received": 1 if i % 2 == 0 else 0,
                            "duplicates": 1 if i % 2 == 0 else 0,
                        }
                        for i in range(start, min(logs, start + CHUNK))
                    ],
                )
            conn.execute(
                insert(SyncAttempt),
                [
                    {
                        "sync_id": first + i,
                        "device_id": device,
                        "position": 0,
                        "offline_id": f"id-{i}",
                        "status": "duplicate",
                        "payload": '{"offline_id": "..."}' + " " * 300,
                        "received_at": when + timedelta(seconds=i),
                    }
                    for i in range(0, logs, 2)
                ],
            )
    if engine.dialect.name == "postgresql":
        # What autovacuum would have done after months of traffic: the planner needs the tables' sizes.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def measure(name: str, url: str, logs: int, folder: Path) -> None:
    started = time.monotonic()
    seed(url, logs, folder)
    print(f"{name}: seeded {2 * logs} sync calls and {logs} replay records in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    made = backup(url, folder / "bench.backup")
    print(f"  backup: {time.monotonic() - started:.2f} s, {made.size / 1e6:.1f} MB")
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "REDIS_URL": "redis://127.0.0.1:1"},
        instance_path=str(folder),
    )
    with app.app_context():
        started = time.monotonic()
        summary = prune(older_than=timedelta(days=90), audit_older_than=timedelta(days=365), actor="bench")
        seconds = time.monotonic() - started
        rows = sum(summary.deleted.values())
        print(f"  prune: {seconds:.2f} s, {rows} rows deleted ({summary.deleted}), {rows / seconds:,.0f} rows/s")
        started = time.monotonic()
        again = prune(older_than=timedelta(days=90), audit_older_than=timedelta(days=365), actor="bench")
        print(
            f"  prune again (nothing old left): {time.monotonic() - started:.3f} s, {sum(again.deleted.values())} rows"
        )
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=200_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tillsync-bench-ops-") as tmp:
        folder = Path(tmp)
        if args.backend in ("sqlite", "both"):
            url = f"sqlite:///{folder / 'bench.db'}"
            migrate(url, folder)
            measure("SQLite", url, args.logs, folder)
        if args.backend in ("postgres", "both"):
            server = PostgresServer().start()
            try:
                admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text("CREATE DATABASE bench"))
                admin.dispose()
                migrate(server.url("bench"), folder)
                measure("PostgreSQL", server.url("bench"), args.logs, folder)
            finally:
                server.stop()


if __name__ == "__main__":
    main()
