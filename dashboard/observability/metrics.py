"""Prometheus metrics. Counters and histograms live in each process; under gunicorn they are
aggregated across workers through PROMETHEUS_MULTIPROC_DIR (set up by gunicorn.conf.py).

What lives in Redis or the database (queue depth, failed jobs, open duplicate
groups) is read at scrape time instead, so every worker reports the same value.
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

SYNC_ENDPOINTS = {"api.sync"}

SYNC_REQUESTS = Counter(
    "tillsync_sync_requests",
    "Sync requests (POST /api/v1/sync) by HTTP status and error code",
    ["http_status", "error"],
)
SYNC_SALES = Counter("tillsync_sync_sales", "Sales answered by a sync, by status and reason", ["status", "reason"])
WRITE_RETRIES = Counter(
    "tillsync_db_write_retries", "Write transactions run again after a transient failure", ["error"]
)
UNAVAILABLE = Counter(
    "tillsync_unavailable_responses", "Requests answered 503, by endpoint and error code", ["endpoint", "error"]
)
REQUEST_SECONDS = Histogram(
    "tillsync_request_duration_seconds",
    "Time to answer a request, by endpoint",
    ["endpoint", "method", "status_class"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def observe_response(
    *, endpoint: str | None, method: str, status: int, error: str | None, seconds: float | None
) -> None:
    """Called once per request, after the answer is made."""
    # Endpoint names, not paths: a path can hold any id a client makes up, which would grow labels forever.
    name = endpoint or "unrouted"
    if seconds is not None:
        REQUEST_SECONDS.labels(name, method, f"{status // 100}xx").observe(seconds)
    if name in SYNC_ENDPOINTS:
        SYNC_REQUESTS.labels(str(status), error or "").inc()
    if status == 503:
        UNAVAILABLE.labels(name, error or "").inc()


def count_sales(results: Iterable) -> None:
    """Count a sync's answers, one increment per (status, reason)."""
    for (status, reason), number in Tally((result.status, result.reason or "") for result in results).items():
        SYNC_SALES.labels(status, reason).inc(number)


def count_write_retry(error: Exception | None) -> None:
    WRITE_RETRIES.labels(type(error).__name__ if error is not None else "").inc()


class _Snapshot:
    """Gauges measured now: built by the /metrics view from Redis and the database."""

    def __init__(self, gauges: list[GaugeMetricFamily]):
        self.gauges = gauges

    def collect(self):
        return iter(self.gauges)


def exposition(gauges: list[GaugeMetricFamily]) -> bytes:
    """The text a scrape gets: every process's counters, plus the gauges measured now."""
    live = CollectorRegistry(auto_describe=False)
    live.register(_Snapshot(gauges))
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prometheus_client import multiprocess

        processes = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(processes, path=directory)
        return generate_latest(processes) + generate_latest(live)
    return generate_latest(REGISTRY) + generate_latest(live)
