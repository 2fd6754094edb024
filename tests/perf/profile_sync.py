"""Where the time of POST /api/v1/sync goes: cProfile and per-statement SQL timings, in-process.

Not a pytest test. Run it from the repository root:

    .venv/bin/python -m tests.perf.profile_sync [--backend sqlite|postgres] [--stored 0] [--batches 40]

It builds a database the way tests/perf/bench_sync.py does (migrations, devices, catalogue, seeded
orders), then sends batches of 100 sales x 3 lines through the Flask test client (one till, no
gunicorn, no HTTP) under cProfile. It does this first for ingest, then for a replay of the same
batches. For each it prints:
- the wall time per batch,
- the SQL statements by total time (SQLAlchemy cursor events; this covers the database round
  trips, including waiting for locks and for the commit's fsync),
- the top functions by own time and by cumulative time (unless --no-cprofile).

cProfile inflates Python-heavy calls (psycopg's executemany pipeline runs many small Python
functions per row), so read the SQL shares of a --no-cprofile run for the database side.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import shutil
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from sqlalchemy import event

from dashboard.domain.catalog import demo_catalog_rows, import_products
from dashboard.domain.devices import add_device
from dashboard.extensions import db
from tests.conftest import make_app
from tests.perf.bench_sync import BATCH_SIZE, PostgresBackend, SaleMaker, SqliteBackend
from tests.support.services import RedisServer


class SqlTimer:
    """Total time and count per SQL statement shape, from SQLAlchemy's cursor events."""

    def __init__(self, engine):
        self.totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        self.engine = engine
        self.on = False
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._commit_before)

    @staticmethod
    def shape(statement: str) -> str:
        text = re.sub(r"\s+", " ", statement)
        text = re.sub(r"\(\?(, \?)*\)|\(%\(\w+\)s(, %\(\w+\)s)*\)", "(...)", text)
        text = re.sub(r"(\(\.\.\.\)(, )?)+", "(...) ", text)
        text = re.sub(r"__\[POSTCOMPILE_\w+\]", "(...)", text)
        text = re.sub(r"%\(\w+\)s|\?", "?", text)
        return text[:150]

    def write_transactions(self):
        """Time spent inside database.run_write (BEGIN IMMEDIATE to the end of COMMIT), which on
        SQLite is the time every other writer waits: it bounds the ingest rate of all workers together."""
        from dashboard.domain import ingestion

        original = ingestion.run_write

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if self.on:
                    self.in_write[0] += time.perf_counter() - started
                    self.in_write[1] += 1

        self.in_write = [0.0, 0]
        ingestion.run_write = timed

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            entry = self.totals[("executemany: " if executemany else "") + self.shape(statement)]
            entry[0] += time.perf_counter() - conn.info["t0"]
            entry[1] += 1

    def _commit_before(self, conn):
        conn.info["commit_t0"] = time.perf_counter()

    def report(self, wall: float, top: int = 14) -> str:
        lines = [f"    {'share':>6} {'total s':>8} {'calls':>6}  statement"]
        for statement, (total, calls) in sorted(self.totals.items(), key=lambda kv: -kv[1][0])[:top]:
            lines.append(f"    {total / wall:6.1%} {total:8.3f} {calls:6d}  {statement}")
        all_sql = sum(total for total, _ in self.totals.values())
        lines.append(f"    {all_sql / wall:6.1%} {all_sql:8.3f}         all SQL statements (commit not included)")
        return "\n".join(lines)


def profile_phase(
    client, token: str, bodies: list[bytes], expect: str, timer: SqlTimer, top: int, use_cprofile: bool = True
) -> None:
    key = {"created": "created", "duplicate": "duplicates"}[expect]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    timer.totals.clear()
    timer.in_write = [0.0, 0]
    profiler = cProfile.Profile()
    timer.on = True
    started, cpu_started = time.perf_counter(), time.process_time()
    if use_cprofile:
        profiler.enable()
    for body in bodies:
        response = client.post("/api/v1/sync", data=body, headers=headers)
        assert response.status_code == 200 and response.get_json()[key] == BATCH_SIZE, response.get_data()[:300]
    if use_cprofile:
        profiler.disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    timer.on = False
    sales = len(bodies) * BATCH_SIZE
    print(
        f"\n=== {expect}: {len(bodies)} batches, {sales} sales in {wall:.2f} s = {sales / wall:,.0f} sales/s "
        f"(in-process, one till{', under cProfile' if use_cprofile else ''}), {wall / len(bodies) * 1000:.0f} ms per batch; "
        f"this process's CPU {cpu:.2f} s = {cpu / wall:.0%} of the wall time"
    )
    seconds, transactions = timer.in_write
    if transactions:
        print(
            f"  write transactions: {seconds / transactions * 1000:.1f} ms each ({seconds / wall:.0%} of the wall time): "
            f"other writers wait this long, so at most {1 / (seconds / transactions) * BATCH_SIZE:,.0f} sales/s "
            "whatever the number of workers"
        )
    print("  SQL statements by total time (share of the phase's wall time):")
    print(timer.report(wall))
    if not use_cprofile:
        return
    for order, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(order).print_stats(top)
        print(f"  functions by {title}:")
        body = out.getvalue()
        print("    " + "\n    ".join(body[body.find("   ncalls") :].rstrip().splitlines()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.profile_sync")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--stored", type=int, default=0, help="orders stored before profiling (default 0)")
    parser.add_argument("--batches", type=int, default=40, help="batches of 100 sales to profile (default 40)")
    parser.add_argument(
        "--no-cprofile",
        action="store_true",
        help="SQL timings only: cProfile slows down Python-heavy calls (psycopg executemany) a lot",
    )
    parser.add_argument("--top", type=int, default=25, help="functions listed per table (default 25)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="tillsync-profile-"))
    redis = RedisServer()
    backend = None
    try:
        backend = SqliteBackend(workdir) if args.backend == "sqlite" else PostgresBackend(workdir)
        url = backend.create("profile")
        app = make_app(url, redis.url, workdir / "app")
        with app.app_context():
            token = add_device("B01")
            import_products(demo_catalog_rows())
            db.session.remove()
            db.engine.dispose()
        backend.seed(url, args.stored)
        products = [
            (sku, Decimal(str(price)).quantize(Decimal("0.01")))
            for sku, price in backend.query(url, "SELECT sku, price FROM products ORDER BY id")
        ]
        maker = SaleMaker(products, seed=1)
        warmup = [maker.body("B01") for _ in range(3)]
        bodies = [maker.body("B01") for _ in range(args.batches)]
        with app.app_context():
            timer = SqlTimer(db.engine)
            timer.write_transactions()
            client = app.test_client()
            for body in warmup:  # compile statements, fill caches
                client.post("/api/v1/sync", data=body, headers={"Authorization": f"Bearer {token}"})
                client.post("/api/v1/sync", data=body, headers={"Authorization": f"Bearer {token}"})
            print(f"{backend.version()}; {args.stored:,} stored orders")
            profile_phase(client, token, bodies, "created", timer, args.top, not args.no_cprofile)
            profile_phase(client, token, bodies, "duplicate", timer, args.top, not args.no_cprofile)
            db.session.remove()
            db.engine.dispose()
        backend.drop(url)
    finally:
        if backend is not None:
            backend.close()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
