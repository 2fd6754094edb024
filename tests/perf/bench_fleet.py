"""Load benchmark of the fleet simulator: 1, 4 and 16 tills syncing through a real gunicorn.

Not a pytest test (no test_ functions, the file name is not test_*): run it as a module,

    .venv/bin/python -m tests.perf.bench_fleet [--quick] [--backend sqlite|postgres|both] [--tills 1,4,16]

For each backend and each fleet size, on a fresh migrated database with the demo catalogue:

1. fleet: `dashboard.client.simulator.simulate` (no faults) runs the tills, each a real `Till` with
   its own outbox file and thread, selling the bakery's baskets and syncing over HTTP to
   `gunicorn -w 3 wsgi:app` (SYNC_RATE_LIMIT_PER_MINUTE=0). Every POST /api/v1/sync is timed by
   the recording transport (tests/support/fleet_faults.py). Printed: sales/s = sales acknowledged
   by /sync answers / (last answer - first request), the /sync latency percentiles p50/p95/p99
   (nearest rank) and the end-to-end time of the whole fleet run. The tills also record their
   sales (an fsync'd SQLite outbox) in that window, as a real fleet does.
2. in-process: the very request bodies that got a 200 in step 1, in the order they were answered,
   are given to `dashboard.domain.ingestion.ingest_batch` one after the other, in an app context,
   on another fresh database of the same backend with the same devices and catalogue. Every sale
   must be `created` again. Printed: its sales/s, and ratio = fleet sales/s / in-process sales/s.

The validity of each run is checked (every outbox drained, every sale created once, the contract's
invariants on the database); the exit status is 1 if any run was invalid. The share of the machine's
CPU used by other processes during each fleet run is printed ("others' CPU"; > 10 % is marked *):
on a shared machine such figures are lower bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, select, text

from dashboard.client.simulator import simulate
from dashboard.domain.catalog import demo_catalog_rows, import_products
from dashboard.domain.devices import add_device
from dashboard.domain.ingestion import IngestRules, ingest_batch
from dashboard.extensions import db
from dashboard.models import Device
from tests.conftest import make_app, migrate
from tests.perf.bench_sync import CpuWatch
from tests.support.fleet_faults import RequestHistory, percentile, recording, register_fleet
from tests.support.gunicorn import GunicornServer
from tests.support.invariants import check_invariants
from tests.support.services import PostgresServer, RedisServer

NOISY = 0.10


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------------------- databases


class Databases:
    """Fresh migrated databases of one backend: SQLite files copied from a template, or PostgreSQL
    databases made from a template database on a cluster of the benchmark's own."""

    def __init__(self, backend: str, workdir: Path):
        self.backend, self.workdir = backend, workdir
        self.count = 0
        self.server: PostgresServer | None = None
        if backend == "sqlite":
            self.template = workdir / "template.db"
            migrate(f"sqlite:///{self.template}", workdir / "migrate-sqlite")
        else:
            self.server = PostgresServer().start()
            self._admin("CREATE DATABASE fleet_template")
            migrate(self.server.url("fleet_template"), workdir / "migrate-pg")

    def _admin(self, statement: str) -> None:
        engine = create_engine(self.server.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()

    def fresh(self) -> str:
        self.count += 1
        if self.backend == "sqlite":
            path = self.workdir / f"fleet-{self.count}.db"
            shutil.copy(self.template, path)
            return f"sqlite:///{path}"
        name = f"fleet_{self.count}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE fleet_template")
        return self.server.url(name)

    def own_pids(self) -> list[int]:
        if self.server is None:
            return []
        try:
            return [int((self.server.data / "postmaster.pid").read_text().split()[0])]
        except (OSError, ValueError, IndexError):
            return []

    def version(self) -> str:
        if self.server is None:
            import sqlite3

            return f"SQLite {sqlite3.sqlite_version}"
        engine = create_engine(self.server.url())
        try:
            with engine.connect() as conn:
                return conn.execute(text("SHOW server_version")).scalar()
        finally:
            engine.dispose()

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def seeded_app(database_url: str, redis_url: str, workdir: Path):
    app = make_app(database_url, redis_url, workdir)
    with app.app_context():
        import_products(demo_catalog_rows())
        db.session.remove()
    return app


# --------------------------------------------------------------------------------------- one measurement


@dataclass
class Point:
    backend: str
    tills: int
    sales: int = 0
    requests: int = 0
    window: float = 0.0
    fleet_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    inproc_seconds: float = 0.0
    others_cpu: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sales / self.window if self.window else 0.0

    @property
    def inproc_rate(self) -> float:
        return self.sales / self.inproc_seconds if self.inproc_seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.rate / self.inproc_rate if self.inproc_rate else 0.0

    def p(self, pct: float) -> float:
        return percentile(self.latencies, pct) * 1000 if self.latencies else 0.0


def measure(databases: Databases, tills: int, args, redis_url: str, workdir: Path, cpu: CpuWatch) -> Point:
    point = Point(databases.backend, tills)
    database_url = databases.fresh()
    app = seeded_app(database_url, redis_url, workdir / f"app-{databases.count}")
    fleet = register_fleet(app, tills, f"B{tills}")
    with app.app_context():
        db.engine.dispose()
    server = GunicornServer(database_url, redis_url, workers=args.workers).start()
    history = RequestHistory(keep_bodies=True)
    for till in fleet:
        history.tills_by_token[till.token] = till.name
    try:
        before, started = cpu.start(), time.monotonic()
        with recording(history):
            report = simulate(
                server.url,
                fleet,
                sales=args.sales,
                seed=args.seed,
                faults=[],
                outbox_dir=workdir / f"outboxes-{databases.count}",
                batch_size=args.batch_size,
                timeout=args.timeout,
            )
        point.fleet_seconds = time.monotonic() - started
        point.others_cpu = cpu.foreign_share(before, point.fleet_seconds)
    finally:
        server.stop()
    syncs = history.sync_records()
    answered = sorted((r for r in syncs if r.ok), key=lambda r: r.ended)
    summary = report.as_dict()
    if not report.drained or summary["acknowledged"] != tills * args.sales:
        point.problems.append(f"fleet not drained: {summary['per_till']}")
    if len(answered) != len(syncs):
        point.problems.append(f"{len(syncs) - len(answered)} /sync requests failed: {history.outcomes()}")
    created = history.statuses()
    if created != {"created": tills * args.sales}:
        point.problems.append(f"statuses {dict(created)}, expected {tills * args.sales} created")
    try:
        counts = check_invariants(database_url)
        if counts["orders"] != tills * args.sales:
            point.problems.append(f"{counts['orders']} orders stored for {tills * args.sales} sales")
    except AssertionError as exc:
        point.problems.append(f"invariants: {exc}")
    point.sales = sum(len(r.offline_ids) for r in answered)
    point.requests = len(answered)
    point.latencies = [r.latency for r in answered]
    if answered:
        point.window = max(r.ended for r in answered) - min(r.sent for r in answered)
    point.inproc_seconds = ingest_in_process(
        databases, [(r.till, r.body) for r in answered], fleet, redis_url, workdir / f"inproc-{databases.count}", point
    )
    return point


def ingest_in_process(
    databases: Databases, bodies: list[tuple[str, bytes]], fleet, redis_url: str, workdir: Path, point: Point
) -> float:
    """Seconds ingest_batch takes for these bodies, one after the other, on a fresh database."""
    database_url = databases.fresh()
    app = seeded_app(database_url, redis_url, workdir)
    # Parsed as the API parses them, before timing.
    batches = [(device, json.loads(body, parse_float=Decimal)) for device, body in bodies]
    total, created = 0.0, 0
    with app.app_context():
        for till in fleet:
            add_device(till.name)
        device_ids = dict(db.session.execute(select(Device.name, Device.id)).all())
        db.session.remove()
        for device, payload in batches:
            started = time.perf_counter()
            outcome = ingest_batch(
                device_id=device_ids[device],
                batch_id=payload.get("batch_id"),
                orders=payload["orders"],
                started=time.monotonic(),
                rules=IngestRules.from_config(app.config),
            )
            total += time.perf_counter() - started
            created += sum(1 for result in outcome.as_json()["results"] if result["status"] == "created")
        db.session.remove()
        db.engine.dispose()
    if created != point.sales:
        point.problems.append(f"in-process: {created} created for {point.sales} sales")
    return total


# --------------------------------------------------------------------------------------- report


def print_table(points: list[Point], args, versions: list[str], seconds: float) -> None:
    print()
    print(
        f"Fleet load: {args.sales} sales per till, batches of {args.batch_size}, gunicorn -w {args.workers}, "
        f"{os.cpu_count()} CPUs; {'; '.join(versions)}"
    )
    header = (
        f"{'backend':<9}{'tills':>6}{'sales':>8}{'/sync reqs':>11}{'sales/s':>10}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'in-process/s':>14}{'ratio':>8}{'fleet s':>9}{'others CPU':>12}"
    )
    print(header)
    print("-" * len(header))
    for p in points:
        flag = "*" if p.others_cpu > NOISY else " "
        print(
            f"{p.backend:<9}{p.tills:>6}{p.sales:>8}{p.requests:>11}{p.rate:>10.0f}{p.p(50):>9.1f}{p.p(95):>9.1f}"
            f"{p.p(99):>9.1f}{p.inproc_rate:>14.0f}{p.ratio:>8.2f}{p.fleet_seconds:>9.1f}"
            f"{p.others_cpu:>11.0%}{flag}"
        )
    print()
    print(
        "sales/s: sales acknowledged by /sync answers / (last answer - first request); p50/p95/p99: latency of "
        "POST /api/v1/sync as the till saw it;"
    )
    print(
        "in-process/s: the same request bodies through ingest_batch, one after the other, on a fresh database; "
        "ratio = sales/s / in-process/s. * : other processes used > 10 % of the CPU."
    )
    for p in points:
        for problem in p.problems:
            print(f"INVALID {p.backend} {p.tills} tills: {problem}")
    print(f"total {seconds:.0f} s")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 sales per till, batches of 10")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--tills", default="1,4,16", help="comma-separated fleet sizes")
    parser.add_argument("--sales", type=int, help="sales per till (default 1000, quick 100)")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    args.tills = [int(n) for n in args.tills.split(",")]
    if args.sales is None:
        args.sales = 100 if args.quick else 1000
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="tillsync-fleet-bench-"))
    cpu = CpuWatch()
    points: list[Point] = []
    versions: list[str] = []
    redis = None
    open_dbs: list[Databases] = []
    try:
        redis = RedisServer()
        for backend in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
            log(f"{backend}: migrating a template database ...")
            databases = Databases(backend, workdir / backend)
            open_dbs.append(databases)
            cpu.roots = [os.getpid(), *databases.own_pids()]
            versions.append(databases.version())
            for tills in args.tills:
                log(f"{backend}: {tills} tills x {args.sales} sales ...")
                point = measure(databases, tills, args, redis.url, workdir / backend, cpu)
                points.append(point)
                log(
                    f"{backend} {tills} tills: {point.rate:.0f} sales/s, p50 {point.p(50):.1f} ms, "
                    f"p99 {point.p(99):.1f} ms, in-process {point.inproc_rate:.0f}/s"
                    + (f"  INVALID: {point.problems}" if point.problems else "")
                )
            open_dbs.remove(databases)
            databases.close()
        print_table(points, args, versions, time.perf_counter() - started)
        return 0 if all(not p.problems for p in points) else 1
    finally:
        for databases in open_dbs:
            databases.close()
        if redis is not None:
            redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
