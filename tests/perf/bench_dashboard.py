"""Dashboard page times and the duplicate scan's time and peak memory, at 10,000 and 1,000,000 orders.

Not a pytest test: run it as a module,

    .venv/bin/python -m tests.perf.bench_dashboard [--quick] [--backend sqlite|postgres|both] [--sizes 10000,1000000]

For each backend and size it builds a database with the project's migrations,
the demo catalogue, a few tills and users, then seeds the orders set-wise (the
seeding of tests/perf/bench_sync.py) plus sync log and skipped-sale rows in
proportion, and a handful of real duplicates through a legacy import. Then:

- every main page is requested through the app (in-process, a signed-in
  admin), 5 times, and the median server time is printed; the goal is each
  page at most twice its time at the smallest size;
- the duplicate scan runs in a fresh child process, which prints its wall
  time and its peak resident memory (VmHWM); the goal is a scan that
  streams: memory flat as orders grow (largest size at most 1.5x the smallest).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import make_app
from tests.perf.bench_sync import PostgresBackend, SqliteBackend
from tests.support.services import RedisServer

REPO = Path(__file__).resolve().parents[2]
PAGE_GOAL = 2.0
MEMORY_GOAL = 1.5
PASSWORD = "benchmark password"

PAGES = [
    ("overview", "/"),
    ("sync logs", "/sync-logs"),
    ("sync logs, refused", "/sync-logs?status=refused"),
    ("sync log page", "/sync-logs/{sync_id}"),
    ("skipped sales", "/skipped"),
    ("skipped list", "/skipped/sales"),
    ("orders", "/orders"),
    ("order search", "/orders?q={invoice}"),
    ("order page", "/orders/{order_id}"),
    ("duplicates", "/duplicates"),
    ("audit log", "/audit"),
    ("devices", "/devices"),
]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _seed_sync_history(backend, url: str, count: int) -> None:
    """Sync calls (one per 100 orders) and skipped sales (one per 50 orders), spread over a year."""
    calls, skipped = max(count // 100, 1), max(count // 50, 1)
    if backend.name == "sqlite":
        import sqlite3

        series = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n}) "
        stamp = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (c.i * 7 % 525600) || ' minutes')"
        conn = sqlite3.connect(backend.path(url), isolation_level=None)
        run = conn.execute
    else:
        import psycopg

        series = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n}) "
        stamp = "now() - (c.i * 7 % 525600) * interval '1 minute'"
        conn = psycopg.connect(backend._conninfo(backend.dbname(url)), autocommit=True)
        run = conn.execute
    try:
        run(
            series.format(n=calls) + "INSERT INTO sync_logs (device_id, batch_id, started_at, duration_ms, "
            "http_status, received, created, duplicates, conflicts, rejected) "
            f"SELECT 1 + c.i % 3, 'seed-' || c.i, {stamp}, 40, CASE WHEN c.i % 97 = 0 THEN 422 ELSE 200 END, "
            "100, 98, 2, CASE WHEN c.i % 13 = 0 THEN 1 ELSE 0 END, CASE WHEN c.i % 11 = 0 THEN 1 ELSE 0 END "
            "FROM c"
        )
        run(
            series.format(n=skipped) + "INSERT INTO sync_attempts (sync_id, device_id, position, offline_id, "
            "status, reason, message, order_id, payload, received_at) "
            f"SELECT 1 + c.i % {calls}, 1 + c.i % 3, c.i % 100, 'seed-' || c.i, 'rejected', "
            "CASE c.i % 4 WHEN 0 THEN 'unknown_sku' WHEN 1 THEN 'total_mismatch' WHEN 2 THEN 'duplicate' "
            f"ELSE 'conflict' END, 'seeded', NULL, '{{\"seed\": true}}', {stamp} FROM c"
        )
        run("ANALYZE")
    finally:
        conn.close()


def build(backend, size: int, redis_url: str, workdir: Path) -> tuple[str, dict]:
    """A database of `size` orders with history and a few duplicates; returns its URL and ids for the pages."""
    from dashboard.domain.catalog import demo_catalog_rows, import_products
    from dashboard.domain.devices import add_device
    from dashboard.domain.duplicates import run_scan
    from dashboard.domain.legacy_import import import_legacy_file
    from dashboard.domain.users import create_user
    from dashboard.extensions import db
    from tests.domain.legacy_data import RECORDS

    url = backend.create(f"dash_{backend.name}_{size}")
    app = make_app(url, redis_url, Path(tempfile.mkdtemp(dir=workdir)))
    with app.app_context():
        import_products(demo_catalog_rows())
        for name in ("T01", "T02", "T03"):
            add_device(name)
        create_user("admin@bench.example", PASSWORD, "admin")
        db.session.remove()
        db.engine.dispose()
    started = time.monotonic()
    backend.seed(url, size)
    _seed_sync_history(backend, url, size)
    log(f"{backend.name}: seeded {size:,} orders in {time.monotonic() - started:.1f} s")
    catalogue = {"TEA", "COFFEE", "BREAD", "CROISSANT"}
    with app.app_context():
        # The legacy cases name skus of the tests' catalogue; map them onto the bakery's.
        bakery = {"TEA": "TEA", "COFFEE": "COFFEE", "BREAD": "BREAD", "CROISSANT": "MEDIALUNA"}
        lines = []
        for record in RECORDS:
            record = json.loads(json.dumps(record))
            for line in record["lines"] + record["movements"]:
                if line.get("sku") in catalogue:
                    line["sku"] = bakery[line["sku"]]
            lines.append(json.dumps(record))
        import io

        import_legacy_file(io.StringIO("\n".join(lines)), "bench.jsonl", actor="bench")
        run_scan(trigger="bench", actor="bench")
        from sqlalchemy import text

        ids = {
            "sync_id": db.session.execute(text("SELECT MAX(id) FROM sync_logs")).scalar(),
            "order_id": size // 2 or 1,
            "invoice": f"SEED-{size // 2:08d}",
        }
        db.session.remove()
        db.engine.dispose()
    return url, ids


def time_pages(url: str, redis_url: str, ids: dict, workdir: Path, repeat: int = 5) -> dict[str, float]:
    """Median milliseconds of each page, requested in-process by a signed-in admin."""
    app = make_app(url, redis_url, Path(tempfile.mkdtemp(dir=workdir)), WTF_CSRF_ENABLED=False)
    times: dict[str, float] = {}
    with app.app_context():
        from dashboard.extensions import db

        client = app.test_client()
        answer = client.post("/login", data={"email": "admin@bench.example", "password": PASSWORD})
        assert answer.status_code in (302, 303), answer.status_code
        for name, path in PAGES:
            path = path.format(**ids)
            samples = []
            for _ in range(repeat):
                start = time.perf_counter()
                response = client.get(path)
                samples.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{path} answered {response.status_code}")
            times[name] = statistics.median(samples)
        db.session.remove()
        db.engine.dispose()
    return times


SCAN_CHILD = """
import json, sys, time
from tests.conftest import make_app
from pathlib import Path
app = make_app(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
with app.app_context():
    from dashboard.domain.duplicates import run_scan
    start = time.monotonic()
    summary = run_scan(trigger="bench", actor="bench")
    seconds = time.monotonic() - start
# VmHWM is this process's own peak (ru_maxrss would carry over the parent's from before exec).
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024, "found": summary.found}))
"""


def time_scan(url: str, redis_url: str, workdir: Path) -> dict:
    """The scan in a fresh process: its wall time and peak resident memory."""
    done = subprocess.run(
        [sys.executable, "-c", SCAN_CHILD, url, redis_url, tempfile.mkdtemp(dir=workdir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.perf.bench_dashboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="sizes 2,000 and 20,000")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sizes", help="comma-separated order counts (default 10000,1000000)")
    args = parser.parse_args(argv)
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([2_000, 20_000] if args.quick else [10_000, 1_000_000])
    )
    names = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    workdir = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    workdir.chmod(0o755)
    redis = RedisServer()
    results: dict[str, dict[int, tuple[dict, dict]]] = {}
    try:
        for name in names:
            backend = SqliteBackend(workdir) if name == "sqlite" else PostgresBackend(workdir)
            try:
                for size in sizes:
                    url, ids = build(backend, size, redis.url, workdir)
                    pages = time_pages(url, redis.url, ids, workdir)
                    scan = time_scan(url, redis.url, workdir)
                    log(f"{name} {size:,}: scan {scan['seconds']:.1f} s, peak {scan['peak_mb']:.0f} MB")
                    results.setdefault(name, {})[size] = (pages, scan)
                    backend.drop(url)
            finally:
                backend.close()
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return report(results, sizes)


def report(results, sizes) -> int:
    small, large = sizes[0], sizes[-1]
    ok = True
    print(f"Dashboard page times (median of 5, ms, in-process, signed-in admin): {small:,} vs {large:,} orders")
    for name, by_size in results.items():
        print(f"\n{name}")
        print(f"  {'page':22} {f'{small:,}':>10} {f'{large:,}':>12} {'ratio':>7}  goal <= {PAGE_GOAL}x")
        for page, _ in PAGES:
            a, b = by_size[small][0][page], by_size[large][0][page]
            passed = b <= PAGE_GOAL * max(a, 1.0)
            ok &= passed
            print(f"  {page:22} {a:10.1f} {b:12.1f} {b / a:7.2f}  {'pass' if passed else 'MISS'}")
        print(f"  {'duplicate scan':22} {'orders':>10} {'seconds':>12} {'peak MB':>9}")
        for size in sizes:
            scan = by_size[size][1]
            print(f"  {'':22} {size:10,} {scan['seconds']:12.1f} {scan['peak_mb']:9.0f}")
        growth = by_size[large][1]["peak_mb"] / by_size[small][1]["peak_mb"]
        ok &= growth <= MEMORY_GOAL
        print(
            f"  scan memory at {large:,} / at {small:,}: {growth:.2f}x  goal <= {MEMORY_GOAL}x  "
            f"{'pass' if growth <= MEMORY_GOAL else 'MISS'}"
        )
    print(f"\noverall: {'all goals met' if ok else 'some goals MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
