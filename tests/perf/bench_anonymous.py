"""One till's latency while 24 anonymous callers flood the sync endpoint (issue 8, finding 5).

Not a pytest test: run it as a module,

    .venv/bin/python -m tests.perf.bench_anonymous [--seconds 20] [--threads 24]

On a fresh migrated SQLite database, a real gunicorn (gunicorn.conf.py, as
scripts/run.sh starts it) serves one "calm" till (which synced once before, from
the flood's own address) posting a one-sale batch every
0.25 s and timing each. Three runs, side by side: quiet (no flood); a flood of
--threads callers with unknown tokens and the per-address limit off
(SYNC_AUTH_FAILURES_PER_MINUTE=0: each call costs a token lookup); the same
flood with the default limit (429 before any database work). Printed for each:
the calm till's p50/p95/max, the flood's answers by status, and what the
refusals wrote: sync_logs rows (none: only the calm till's calls are logged)
and the refused calls counted once flushed. Loopback only; bounded by --seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import requests
from sqlalchemy import func, select

from dashboard.domain import refusals
from dashboard.domain.devices import add_device
from dashboard.extensions import db
from dashboard.models import RefusedCalls, SyncLog
from dashboard.redis_conn import get_redis
from tests.conftest import migrate
from tests.perf.bench_fleet import seeded_app
from tests.perf.bench_flood import calm
from tests.support.fleet_faults import percentile
from tests.support.gunicorn import UNLIMITED, GunicornServer
from tests.support.services import RedisServer


def anonymous(url: str, until: float, counts: dict) -> None:
    session = requests.Session()
    while time.monotonic() < until:
        try:
            status = session.post(
                url, json={"orders": []}, headers={"Authorization": "Bearer guess"}, timeout=30
            ).status_code
        except requests.RequestException:
            status = "error"
        counts[status] = counts.get(status, 0) + 1


def run(label: str, threads: int, limit: str, args, redis_url: str, workdir: Path) -> None:
    url = f"sqlite:///{workdir / label}.db"
    migrate(url, workdir / f"migrate-{label}")
    app = seeded_app(url, redis_url, workdir / f"app-{label}")
    with app.app_context():
        token = add_device(f"{label}-calm")
    settings = {**UNLIMITED, "SYNC_AUTH_FAILURES_PER_MINUTE": limit}
    server = GunicornServer(url, redis_url, workers=args.workers, timeout=60, **settings).start()
    counts: list[dict] = [{} for _ in range(threads)]
    latencies: list[float] = []
    failures: list = []
    try:
        sync_url = server.url + "/api/v1/sync"
        # The calm till has synced before, as a shop's till has: its token is known when the flood
        # starts, from the same address (loopback), so only the guesses are held back.
        assert (
            requests.post(
                sync_url, json={"orders": []}, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ).status_code
            == 200
        )
        until = time.monotonic() + args.seconds
        workers = [threading.Thread(target=anonymous, args=(sync_url, until, counts[n])) for n in range(threads)]
        workers.append(threading.Thread(target=calm, args=(sync_url, token, until, latencies, failures)))
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        server.stop()
    with app.app_context():
        refusals.flush(get_redis())
        logged = db.session.scalar(select(func.count()).select_from(SyncLog))
        counted = db.session.scalar(select(func.sum(RefusedCalls.count))) or 0
    answers = {}
    for count in counts:
        for status, n in count.items():
            answers[status] = answers.get(status, 0) + n
    flood = " ".join(f"{status}:{n}" for status, n in sorted(answers.items(), key=str)) or "-"
    print(
        f"{label:<18} {len(latencies):>6} {percentile(latencies, 50) * 1000:>8.0f} "
        f"{percentile(latencies, 95) * 1000:>8.0f} {max(latencies) * 1000:>8.0f} {len(failures):>7} "
        f"{logged:>8} {counted:>8}  {flood}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=24)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    redis = RedisServer()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-anonymous-") as tmp:
            print(
                f"{'run':<18} {'calls':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'failed':>7} "
                f"{'logged':>8} {'counted':>8}  flood answers"
            )
            for label, threads, limit in (
                ("quiet", 0, "0"),
                ("flood, no limit", args.threads, "0"),
                ("flood, default", args.threads, "30"),
            ):
                redis.flush()
                run(label.replace(", ", "-").replace(" ", "-"), threads, limit, args, redis.url, Path(tmp))
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
