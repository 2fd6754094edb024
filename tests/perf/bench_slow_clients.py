"""/healthz latency and a till's sync while slow clients hold connections: before and after issue 8.

Not a pytest test: run it as a module (about two minutes),

    .venv/bin/python -m tests.perf.bench_slow_clients

On one migrated SQLite database with the test catalogue and one till, it starts in turn:

1. before: gunicorn as scripts/run.sh started it before issue 8: 3 sync workers, request
   line 8,190 (`-k sync --threads 1 --limit-request-line 8190` on top of gunicorn.conf.py);
   with 6 slow clients (3 sending headers slowly, 3 sending a body slowly).
2. after, one-command setup: gunicorn as scripts/run.sh starts it now (gunicorn.conf.py:
   3 workers x 8 threads); the same 6 slow clients.
3. after, one-command setup overwhelmed: the same gunicorn with 200 + 200 slow clients,
   to show where it stops coping alone (what the nginx topology is for).
4. after, production topology: deploy/nginx/tillsync.conf in front of that gunicorn,
   with 200 slow-header and 200 slow-body clients (from 20 loopback addresses).

For each it prints the /healthz latency (10 samples; a sample that got no answer in 3 s
counts as 3 s), a one-sale sync's time, and the status of GET /api/v1/sync/status with
500 offline_ids. Slow clients send a few bytes every second and never finish.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import requests

from tests.conftest import migrate
from tests.deploy.checks import status_of_500_ids
from tests.deploy.conftest import register_till
from tests.support.gunicorn import GunicornServer
from tests.support.nginx import NginxServer
from tests.support.sales import bearer, make_sale
from tests.support.services import RedisServer
from tests.support.slow_clients import SlowClients, health_latencies, summary

TIMEOUT = 3.0
OLD_GUNICORN = ("-k", "sync", "--threads", "1", "--limit-request-line", "8190")


def sync_time(url: str, token: str) -> str:
    started = time.monotonic()
    try:
        response = requests.post(
            f"{url}/api/v1/sync", json={"orders": [make_sale()]}, headers=bearer(token), timeout=10
        )
    except requests.RequestException as exc:
        return f"no answer in 10 s ({type(exc).__name__})"
    return f"{response.status_code} in {(time.monotonic() - started) * 1000:.0f} ms"


def status_500(url: str, token: str) -> str:
    try:
        response = status_of_500_ids(url, token)
    except requests.RequestException as exc:
        return f"no answer ({type(exc).__name__})"
    return f"{response.status_code} {response.headers.get('Content-Type', '').split(';')[0]}"


def measure(name: str, url: str, token: str, heads: int, bodies: int, sources: int = 1) -> None:
    slow = [
        SlowClients(url, heads, "header", sources=sources).start(),
        SlowClients(url, bodies, "body", sources=sources, token=token).start(),
    ]
    try:
        time.sleep(1.0)  # the slow clients settle in
        latencies = health_latencies(url, samples=10, spacing=0.1, timeout=TIMEOUT)
        unanswered = sum(1 for value in latencies if value >= TIMEOUT)
        sync = sync_time(url, token)
        held = sum(clients.open_count() for clients in slow)
    finally:
        for clients in slow:
            clients.stop()
    print(
        f"{name}\n  slow clients: {heads} header + {bodies} body, {held} still held at the end\n"
        f"  /healthz: {summary(latencies)}, {unanswered}/10 unanswered in {TIMEOUT:.0f} s\n"
        f"  one-sale sync: {sync}\n"
        f"  GET /api/v1/sync/status with 500 ids (no slow clients): {status_500(url, token)}",
        flush=True,
    )


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    workdir = Path(tempfile.mkdtemp(prefix="bench-slow-"))
    redis_server = RedisServer()
    database = workdir / "tillsync.db"
    migrate(f"sqlite:///{database}", workdir / "migrate")
    url = f"sqlite:///{database}"
    token = register_till(url, redis_server.url, workdir)
    try:
        old = GunicornServer(url, redis_server.url, workers=3, args=OLD_GUNICORN).start()
        try:
            measure("1. before: gunicorn -w 3 sync workers, no nginx", old.url, token, 3, 3)
        finally:
            old.stop()
        new = GunicornServer(url, redis_server.url, workers=3, TRUSTED_PROXY_HOPS="1").start()
        try:
            measure("2. after: gunicorn -w 3 x 8 threads (gunicorn.conf.py), no nginx", new.url, token, 3, 3)
            measure(
                "3. after, overwhelmed: gunicorn alone, 200 + 200 slow clients", new.url, token, 200, 200, sources=20
            )
            nginx = NginxServer(f"127.0.0.1:{new.port}").start()
            try:
                measure(
                    "4. after: nginx (deploy/nginx/tillsync.conf) -> gunicorn", nginx.url, token, 200, 200, sources=20
                )
            finally:
                nginx.stop()
        finally:
            new.stop()
    finally:
        redis_server.stop()


if __name__ == "__main__":
    main()
