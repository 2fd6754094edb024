"""One till's latency while three others flood the server (issue 8, finding 2): limits off vs on, side by side.

Not a pytest test: run it as a module,

    .venv/bin/python -m tests.perf.bench_flood [--seconds 20] [--workers 3]

On a fresh migrated SQLite database with the demo catalogue, a real gunicorn
(as scripts/run.sh starts it, with gunicorn.conf.py) serves four tills. Three
"flooders" each post batches of 500 sales × 150 lines as fast as answers come
back; one "calm" till posts a one-sale batch every 0.25 s and times each
request. Printed for each run: the calm till's p50/p95/max latency, its
failures, and the flooders' accepted and refused (429) requests. The two runs
differ only in the work limits: off (SYNC_*_PER_MINUTE=0) and the defaults.
Loopback only; every loop is bounded by --seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

from dashboard.domain.devices import add_device
from tests.conftest import migrate
from tests.perf.bench_fleet import seeded_app
from tests.support.fleet_faults import percentile
from tests.support.gunicorn import GunicornServer
from tests.support.services import RedisServer

DEFAULT_LIMITS = {
    "SYNC_SALES_PER_MINUTE": "5000",
    "SYNC_LINES_PER_MINUTE": "25000",
    "SYNC_BYTES_PER_MINUTE": str(20 * 1024 * 1024),
}
NO_LIMITS = {name: "0" for name in DEFAULT_LIMITS}


def sale(lines: int) -> dict:
    line = {"sku": "BREAD", "quantity": "1", "unit_price": "1.00"}
    return {
        "offline_id": str(uuid.uuid4()),
        "created_at": "2026-11-29T10:00:00+00:00",
        "lines": [line] * lines,
        "total": f"{lines}.00",
    }


def flood(url: str, token: str, until: float, counts: dict) -> None:
    session = requests.Session()
    while time.monotonic() < until:
        body = {"orders": [sale(150) for _ in range(500)]}
        try:
            status = session.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=120).status_code
        except requests.RequestException:
            status = "error"
        counts[status] = counts.get(status, 0) + 1
        if status == 429:
            time.sleep(1)  # what a till does on Retry-After, shortened so the flood stays a flood


def calm(url: str, token: str, until: float, latencies: list, failures: list) -> None:
    session = requests.Session()
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            response = session.post(
                url, json={"orders": [sale(2)]}, headers={"Authorization": f"Bearer {token}"}, timeout=60
            )
            if response.status_code != 200:
                failures.append(response.status_code)
        except requests.RequestException as exc:
            failures.append(type(exc).__name__)
        latencies.append(time.monotonic() - started)
        time.sleep(0.25)


def run(label: str, limits: dict, args, redis_url: str, workdir: Path) -> None:
    database = workdir / f"{label}.db"
    url = f"sqlite:///{database}"
    migrate(url, workdir / f"migrate-{label}")
    app = seeded_app(url, redis_url, workdir / f"app-{label}")
    with app.app_context():
        tokens = [add_device(f"{label}-{n}") for n in range(4)]
    server = GunicornServer(url, redis_url, workers=args.workers, timeout=120, **limits).start()
    try:
        until = time.monotonic() + args.seconds
        sync_url = server.url + "/api/v1/sync"
        counts: list[dict] = [{} for _ in range(3)]
        latencies: list[float] = []
        failures: list = []
        threads = [threading.Thread(target=flood, args=(sync_url, tokens[n], until, counts[n])) for n in range(3)]
        threads.append(threading.Thread(target=calm, args=(sync_url, tokens[3], until, latencies, failures)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.stop()
    accepted = sum(c.get(200, 0) for c in counts)
    refused = sum(c.get(429, 0) for c in counts)
    print(
        f"{label:<12} {len(latencies):>6} {percentile(latencies, 50) * 1000:>9.0f} "
        f"{percentile(latencies, 95) * 1000:>9.0f} {max(latencies) * 1000:>9.0f} {len(failures):>8} "
        f"{accepted:>9} {refused:>8}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    redis = RedisServer()  # started by its constructor
    try:
        with tempfile.TemporaryDirectory(prefix="bench-flood-") as tmp:
            print(
                f"{'limits':<12} {'calls':>6} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9} {'failed':>8} "
                f"{'flood ok':>9} {'flood 429':>8}"
            )
            run("off", NO_LIMITS, args, redis.url, Path(tmp))
            redis.flush()
            run("defaults", DEFAULT_LIMITS, args, redis.url, Path(tmp))
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
