"""The full fault-injection run: a long fleet under random server-side faults, then fix jobs under faults.

Not a pytest test; the CI runs the reduced version, tests/reliability/test_faults.py. Run it as

    .venv/bin/python -m tests.perf.faults_full [--backend sqlite|postgres|both] [--tills 8] [--sales 1500] [--stores 2]

For each backend:

1. fleet: the simulator's tills (each a real Till with its own outbox, in its own thread) sell and
   sync through `gunicorn -w 3 wsgi:app` (rate limit on, so every request also asks Redis), with a
   till time-out of 3 s. From the moment every till has the catalogue (a simulated till whose first
   GET /api/v1/products fails gives up for good) until the fleet is drained, a fault injector picks
   at random, every 0.3 to 1.5 s: a gunicorn worker SIGKILLed (one serving a request when there is one), Redis killed and
   started again after 0.3-1.5 s (its data is lost), and on PostgreSQL `pg_ctl restart -m immediate`
   or a crash with PostgreSQL down for 0.5-2 s. Every request is recorded (sent, ended, answered
   status / timed out / connection error). By default (--stores 2) the tills alternate between the
   default store and Kuwait City (Asia/Kuwait, KWD with 3 decimals): each sells in its store's decimals
   and closes its days in its store's zone. After healing, each store's stock of each product must be
   its opening stock minus what its own tills sold, once, and every till's close of every day matched.
2. fix jobs: a legacy book with --fix-pairs duplicate groups is imported, scanned, previewed and
   approved; the apply job is run by a real `flask worker`, which is SIGKILLed (with its work-horse)
   --job-kills times at random points of the job; after each kill the database must hold the whole
   fix or none of it. The job is then retried with enqueue_apply(), as the app does. While RQ still
   shows the dead job as 'started' that returns the dead job, so the run lets RQ fail it as
   abandoned first: by default by moving Redis past the dead worker's heartbeat (the execution hash
   expired, the registry cleaned, as 90 s later); with --real-abandon-wait the first time by waiting
   for it for real. If enqueue_apply() then raises, RQ's own requeue of the failed job is used and
   the failure is reported. Then Redis is restarted while the job runs, and the job is enqueued
   again until it finishes: the fix must be applied exactly once.

Printed: sales made, acknowledged, stored, lost, duplicated, created twice, answers disagreeing with
the database, request outcomes, faults injected by type (and the requests they made fail), and the
fix-job figures. Exit status 1 if a sale was lost or duplicated or any check failed.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from rq.registry import StartedJobRegistry
from sqlalchemy import create_engine, text

from dashboard.domain.catalog import ProductRow, demo_catalog_rows, import_products
from dashboard.domain.duplicates import run_scan
from dashboard.domain.fix_plans import open_certain_selection
from dashboard.domain.fixes import approve_plan, compute_plan, request_plan
from dashboard.domain.legacy_import import import_legacy_file
from dashboard.domain.stores import add_store, default_store
from dashboard.extensions import db
from dashboard.jobs.duplicates import enqueue_apply
from dashboard.jobs.queue import get_queue, job_status
from tests.conftest import make_app, migrate
from tests.support.fleet_faults import (
    FleetRun,
    RequestHistory,
    busy_worker,
    check_closes,
    fleet_figures,
    opening_stock,
    query,
    recording,
    register_fleet,
    sold_by_store,
    sold_quantities,
    store_stock_taken,
    wait_replaced,
)
from tests.support.gunicorn import GunicornServer
from tests.support.invariants import check_invariants
from tests.support.job_faults import (
    WorkerProcess,
    applied_or_not,
    assert_applied_once,
    fast_forward_past_execution_registry,
    fast_forward_past_heartbeat,
    fix_state,
    open_write_transaction,
    wait_for,
    write_big_legacy_book,
)
from tests.support.sales import CATALOG
from tests.support.services import PostgresServer, RedisServer


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Site:
    """A database (SQLite file, or a PostgreSQL cluster of its own) and a Redis of this run's own."""

    def __init__(self, backend: str, workdir: Path, name: str):
        self.backend, self.workdir = backend, workdir / name
        self.workdir.mkdir(parents=True)
        self.pg: PostgresServer | None = None
        if backend == "sqlite":
            self.url = f"sqlite:///{self.workdir / 'tillsync.db'}"
        else:
            self.pg = PostgresServer().start()
            engine = create_engine(self.pg.url(), isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text("CREATE DATABASE faults"))
            engine.dispose()
            self.url = self.pg.url("faults")
        migrate(self.url, self.workdir / "migrate")
        self.redis = RedisServer()
        self.app = make_app(self.url, self.redis.url, self.workdir)

    def close(self) -> None:
        with self.app.app_context():
            db.engine.dispose()
        self.redis.stop()
        if self.pg is not None:
            self.pg.stop()


# --------------------------------------------------------------------------------------- 1. the fleet


@dataclass
class FaultLog:
    windows: list[tuple[str, float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def count(self) -> Counter:
        return Counter(kind for kind, _s, _e in self.windows)


def inject_faults(
    site: Site, server: GunicornServer, fleet: FleetRun, faults: FaultLog, kinds: list[str], rng: random.Random
) -> None:
    """Random server-side faults until the fleet is done."""
    while not fleet.done.wait(rng.uniform(0.3, 1.5)):
        kind = rng.choice(kinds)
        began = time.monotonic()
        try:
            if kind == "worker_kill":
                pid, _busy = busy_worker(server, timeout=0.5)
                os.kill(pid, signal.SIGKILL)
                wait_replaced(server, pid)
            elif kind == "redis_restart":
                site.redis.kill()
                time.sleep(rng.uniform(0.3, 1.5))
                site.redis.socket.unlink(missing_ok=True)
                site.redis.start()
            elif kind == "pg_restart":
                site.pg.restart_immediate()
            elif kind == "pg_outage":
                site.pg.pg_ctl("stop", "-m", "immediate", "-w")
                time.sleep(rng.uniform(0.5, 2.0))
                site.pg.pg_ctl("start", "-w", "-l", str(site.pg.root / "log"))
        except Exception as exc:  # noqa: BLE001 - reported, the run goes on
            faults.errors.append(f"{kind}: {exc!r}")
        faults.windows.append((kind, began, time.monotonic()))


# The second store of a two-store run: another time zone, and a currency with 3 decimals.
SECOND_STORE = dict(code="KWI", name="Kuwait City", time_zone="Asia/Kuwait", currency="KWD")


def run_fleet(site: Site, args, seed: int) -> dict:
    with site.app.app_context():
        import_products(demo_catalog_rows())
        stores: tuple[str, ...] = ()
        if args.stores == 2:  # the tills alternate between the default store and Kuwait City
            stores = (default_store().code, add_store(actor="faults", **SECOND_STORE).code)
        db.session.remove()
    tills = register_fleet(site.app, args.tills, "F", stores)
    with site.app.app_context():
        db.engine.dispose()
    opening = opening_stock(site.url)
    server = GunicornServer(site.url, site.redis.url, workers=3, SYNC_RATE_LIMIT_PER_MINUTE="1000000").start()
    history, faults = RequestHistory(), FaultLog()
    kinds = ["worker_kill", "redis_restart"] + (["pg_restart", "pg_outage"] if site.pg else [])
    try:
        with recording(history, timeout=3.0):
            fleet = FleetRun(
                server.url,
                tills,
                sales=args.sales,
                seed=seed,
                outbox_dir=site.workdir / "outboxes",
                history=history,
                faults=args.client_faults,
                batch_size=5,
                timeout=args.timeout,
            )
            fleet.start()
            fleet.wait_for_catalogue()
            injector = threading.Thread(
                target=inject_faults, name="faults", args=(site, server, fleet, faults, kinds, random.Random(seed))
            )
            injector.start()
            report = fleet.join()
            injector.join()
    finally:
        server.stop()
        gunicorn_log = server.log()
    figures = fleet_figures(site.url, report, history)
    problems = list(figures.problems) + faults.errors
    try:
        check_invariants(site.url)
    except AssertionError as exc:
        problems.append(f"invariants: {exc}")
    sold = sold_quantities(report)
    stock = {sku: Decimal(str(q)) for sku, q in query(site.url, "SELECT sku, stock_quantity FROM products")}
    if not stores:
        wrong = {
            sku: (stock[sku], opening[sku] - sold.get(sku, 0))
            for sku in opening
            if stock[sku] != opening[sku] - sold.get(sku, 0)
        }
    else:  # each store's stock of each product went down by what that store's tills sold, once
        taken, sold_here = store_stock_taken(site.url), sold_by_store(report)
        wrong = {key: (taken.get(key), sold_here.get(key)) for key in set(taken) | set(sold_here)}
        wrong = {key: pair for key, pair in wrong.items() if pair[0] != pair[1]}
    if wrong:
        problems.append(f"stock is not opening stock minus each sale once: {wrong}")
    closes = 0
    try:
        closes = check_closes(site.app, report)
    except AssertionError as exc:
        problems.append(f"a till's close is not matched after healing: {exc}")
    if not report.drained:
        problems.append(f"not drained: {[t for t in report.as_dict()['per_till'] if t['error'] or t['pending']]}")
    # A failed request is put down to the fault windows it overlaps (a window runs to 0.5 s after the fault).
    failed = history.failed()
    in_window = [
        r for r in failed if any(r.sent <= ended + 0.5 and r.ended >= began for _k, began, ended in faults.windows)
    ]
    failed_by_fault = {"in": len(in_window), "outside": len(failed) - len(in_window)}
    return {
        "figures": figures,
        "report": report.as_dict(),
        "outcomes": history.outcomes(),
        "faults": faults.count(),
        "failed_by_fault": failed_by_fault,
        "problems": problems,
        "seconds": fleet.finished - fleet.started,
        "closes_matched": closes,
        "per_store": report.as_dict()["per_store"],
        "gunicorn_log": gunicorn_log,
    }


# --------------------------------------------------------------------------------------- 2. fix jobs


def run_fix_jobs(site: Site, args, seed: int) -> dict:
    rng = random.Random(seed)
    book = write_big_legacy_book(site.workdir / "legacy.jsonl", args.fix_pairs)
    app = site.app
    started = time.monotonic()
    with app.app_context():
        import_products(
            [ProductRow(sku, name, Decimal(price), Decimal(stock)) for sku, (name, price, stock) in CATALOG.items()]
        )
        with book.path.open() as stream:
            import_legacy_file(stream, "legacy.jsonl")
        run_scan(trigger="faults_full", actor="manager")
        plan_id = request_plan(open_certain_selection(), "manager")
        approve_plan(plan_id, compute_plan(plan_id), "boss")
        job = enqueue_apply(plan_id, "boss")
        db.session.remove()
    log(f"  fix: {args.fix_pairs} groups imported, scanned and previewed in {time.monotonic() - started:.0f} s")
    result = {
        "kills": 0,
        "killed_in_transaction": 0,
        "after_kill": Counter(),
        "half_applied": 0,
        "redis_restarts": 0,
        "enqueues": 1,
        "stale_retry_returned_dead_job": 0,
        "problems": [],
        "retry_raised": 0,
        "blocked_waits": [],
        "abandon_waits": [],
    }

    def check_whole() -> str:
        try:
            return applied_or_not(fix_state(site.url, plan_id), book)
        except AssertionError as exc:
            result["half_applied"] += 1
            result["problems"].append(f"half a fix in the database: {exc}")
            return "half"

    def retry_apply(dead, *, real_time: bool):
        """enqueue_apply() until it does not raise (see the report); the time it stayed blocked is noted."""
        first, raised = time.monotonic(), False
        while True:
            try:
                job = enqueue_apply(plan_id, "boss")
                result["enqueues"] += 1
                if raised and real_time:
                    result["blocked_waits"].append(round(time.monotonic() - first))
                return job
            except ValueError as exc:
                if not raised:
                    raised = True
                    result["retry_raised"] += 1
                    result["problems"].append(f"enqueue_apply() of the failed, abandoned job raised {exc!r}")
                if time.monotonic() - first > 300:
                    raise
                if real_time:
                    time.sleep(5)
                else:
                    fast_forward_past_execution_registry(get_queue(), dead.id)

    for _number in range(args.job_kills):
        if check_whole() == "applied":
            break
        worker = WorkerProcess(site.url, site.redis.url, app.instance_path)
        threshold = rng.uniform(0.0, 1.0)
        try:
            with app.app_context():
                wait_for(
                    lambda job=job, threshold=threshold: (
                        (lambda s: s.status == "started" and s.progress >= threshold)(job_status(job.id))
                        or job_status(job.id).status in ("finished", "failed")
                    ),
                    600,
                    "the apply job",
                )
            evidence = open_write_transaction(site.url)
            worker.kill()
        finally:
            worker.stop()
        result["kills"] += 1
        result["killed_in_transaction"] += bool(evidence)
        outcome = check_whole()
        result["after_kill"][outcome] += 1
        log(
            f"  fix: worker killed at progress >= {threshold:.2f} ({'in' if evidence else 'outside'} a write "
            f"transaction): the fix is {outcome}"
        )
        with app.app_context():
            retry = enqueue_apply(plan_id, "boss")
            result["enqueues"] += 1
            if job_status(retry.id).status != "started":
                job = retry
                continue
            # The retry is the dead job (see the report): wait for RQ to fail it as abandoned.
            result["stale_retry_returned_dead_job"] += 1
            real = args.real_abandon_wait and not result["abandon_waits"]
            if real:
                # The real thing: wait until the dead worker's last heartbeat has expired; a new
                # worker's registry maintenance at start-up then fails the job as abandoned.
                waited = time.monotonic()
                registry = StartedJobRegistry(queue=get_queue())
                expiry = max(
                    (score for _m, score in registry.connection.zrange(registry.key, 0, -1, withscores=True)), default=0
                )
                time.sleep(max(0.0, expiry - time.time()) + 1)
                WorkerProcess(site.url, site.redis.url, app.instance_path, burst=True).wait(300)
                result["abandon_waits"].append(round(time.monotonic() - waited))
            else:
                fast_forward_past_heartbeat(get_queue(), job.id)
            if job_status(job.id).status != "failed":
                result["problems"].append(f"the killed job is {job_status(job.id).status} after RQ's clean-up")
            job = retry_apply(job, real_time=real)

    # Redis restarted while the job runs; enqueued again until it finishes.
    worker = WorkerProcess(site.url, site.redis.url, app.instance_path)
    try:
        with app.app_context():
            if check_whole() != "applied":
                wait_for(lambda: job_status(job.id).status in ("started", "finished", "failed"), 120, "the job")
                time.sleep(rng.uniform(0.2, 1.5))
            site.redis.restart()
            result["redis_restarts"] += 1
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                check_whole()
                status = job_status(job.id).status
                if status == "finished":
                    break
                if status in ("missing", "failed"):
                    time.sleep(2)  # the database tells what happened; enqueue again
                    if job_status(job.id).status in ("missing", "failed"):
                        job = retry_apply(job, real_time=True)
                time.sleep(0.2)
            final = job.latest_result().return_value if job.latest_result() else None
    finally:
        worker.stop()
    try:
        assert_applied_once(fix_state(site.url, plan_id), book)
        result["applied_once"] = True
    except AssertionError as exc:
        result["applied_once"] = False
        result["problems"].append(f"not applied exactly once at the end: {exc}")
    result["final_result"] = final
    result["groups"] = book.pairs
    result["seconds"] = time.monotonic() - started
    return result


# --------------------------------------------------------------------------------------- report


def print_figures(results: list[tuple[str, dict, dict]], args, seconds: float) -> None:
    print()
    print(
        f"Full fault run: {args.tills} tills x {args.sales} sales, batches of 5, gunicorn -w 3, till time-out 3 s, "
        f"client faults: {','.join(args.client_faults) or 'none'}"
    )
    rows = [
        ("sales made", lambda f: f["figures"].sales_made),
        ("acknowledged", lambda f: f["figures"].acknowledged),
        ("stored", lambda f: f["figures"].stored),
        ("lost", lambda f: f["figures"].lost),
        ("duplicated", lambda f: f["figures"].duplicated),
        ("created twice", lambda f: f["figures"].created_twice),
        ("answers != database", lambda f: f["figures"].answer_mismatches),
        ("/sync+other requests", lambda f: sum(f["outcomes"].values())),
        ("  answered 200", lambda f: f["outcomes"].get("answered_200", 0)),
        ("  answered 503", lambda f: f["outcomes"].get("answered_503", 0)),
        (
            "  other answers",
            lambda f: sum(
                v
                for k, v in f["outcomes"].items()
                if k.startswith("answered") and k not in ("answered_200", "answered_503")
            ),
        ),
        ("  connection errors", lambda f: f["outcomes"].get("connection_error", 0)),
        ("  timed out", lambda f: f["outcomes"].get("timeout", 0)),
        ("faults injected", lambda f: sum(f["faults"].values())),
        ("  gunicorn worker SIGKILL", lambda f: f["faults"].get("worker_kill", 0)),
        ("  redis restart", lambda f: f["faults"].get("redis_restart", 0)),
        ("  pg restart -m immediate", lambda f: f["faults"].get("pg_restart", 0)),
        ("  pg down 0.5-2 s", lambda f: f["faults"].get("pg_outage", 0)),
        ("failed requests in fault windows", lambda f: f["failed_by_fault"]["in"]),
        ("failed requests outside them", lambda f: f["failed_by_fault"]["outside"]),
        ("till days closed, matched", lambda f: f["closes_matched"]),
        ("fleet seconds", lambda f: round(f["seconds"], 1)),
    ]
    for backend, fleet, _j in results:
        for store in fleet["per_store"]:
            print(
                f"{backend} store {store['store'] or '-'}: {store['tills']} tills, {store['sales_made']} sales made, "
                f"{store['acknowledged']} acknowledged, {store['days_closed']} till days closed"
            )
    names = [backend for backend, _f, _j in results]
    print(f"{'':<34}" + "".join(f"{name:>12}" for name in names))
    for label, value in rows:
        print(f"{label:<34}" + "".join(f"{value(fleet):>12}" for _b, fleet, _j in results))
    print()
    print(f"Fix jobs: --fix-pairs {args.fix_pairs}, --job-kills {args.job_kills}")
    job_rows = [
        ("worker+horse SIGKILLs", "kills"),
        ("  inside the write transaction", "killed_in_transaction"),
        ("  fix not applied after kill", lambda j: j["after_kill"].get("not applied", 0)),
        ("  fix applied after kill", lambda j: j["after_kill"].get("applied", 0)),
        ("half-applied states seen", "half_applied"),
        ("retry returned the dead job", "stale_retry_returned_dead_job"),
        ("retry of failed job raised", "retry_raised"),
        ("  real seconds it stayed blocked", lambda j: ",".join(map(str, j["blocked_waits"])) or "-"),
        ("real abandon waits (s)", lambda j: ",".join(map(str, j["abandon_waits"])) or "-"),
        ("redis restarts during job", "redis_restarts"),
        ("enqueues", "enqueues"),
        ("applied exactly once at end", "applied_once"),
        ("seconds", lambda j: round(j["seconds"])),
    ]
    for label, key in job_rows:
        get = key if callable(key) else (lambda j, k=key: j[k])
        print(f"{label:<34}" + "".join(f"{str(get(jobs)):>12}" for _b, _f, jobs in results))
    problems = [(b, p) for b, fleet, jobs in results for p in fleet["problems"] + jobs["problems"]]
    for backend, problem in problems:
        print(f"PROBLEM {backend}: {problem}")
    print(f"{'OK' if not problems else 'FAILED'}: total {seconds:.0f} s")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--tills", type=int, default=8)
    parser.add_argument(
        "--stores",
        type=int,
        choices=[1, 2],
        default=2,
        help="2: the tills alternate between the default store and Kuwait City (Asia/Kuwait, KWD)",
    )
    parser.add_argument("--sales", type=int, default=1500, help="sales per till")
    parser.add_argument("--client-faults", default="", help="simulator faults too, e.g. drop,replay")
    parser.add_argument("--fix-pairs", type=int, default=1500, help="duplicate groups in the legacy book")
    parser.add_argument("--job-kills", type=int, default=3)
    parser.add_argument(
        "--real-abandon-wait",
        action="store_true",
        help="wait for RQ's heartbeat to expire (about 90 s) instead of moving its clock, once",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    args.client_faults = [f for f in args.client_faults.split(",") if f]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="tillsync-faults-"))
    results, sites = [], []
    try:
        for backend in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
            log(f"{backend}: fleet of {args.tills} tills x {args.sales} sales under faults ...")
            site = Site(backend, workdir, f"{backend}-fleet")
            sites.append(site)
            try:
                fleet = run_fleet(site, args, args.seed)
            except Exception:  # noqa: BLE001 - reported as a failed run
                fleet = {"figures": None, "problems": [traceback.format_exc()]}
            site.close()
            sites.remove(site)
            if fleet["figures"] is None:
                print(fleet["problems"][0])
                return 1
            log(
                f"{backend}: fleet done in {fleet['seconds']:.0f} s; faults {dict(fleet['faults'])}; "
                f"lost {fleet['figures'].lost}, duplicated {fleet['figures'].duplicated}"
            )
            log(f"{backend}: fix jobs under faults ...")
            site = Site(backend, workdir, f"{backend}-jobs")
            sites.append(site)
            jobs = run_fix_jobs(site, args, args.seed)
            site.close()
            sites.remove(site)
            results.append((backend, fleet, jobs))
        print_figures(results, args, time.perf_counter() - started)
        ok = all(
            not f["problems"] and not j["problems"] and f["figures"].lost == f["figures"].duplicated == 0
            for _b, f, j in results
        )
        return 0 if ok else 1
    finally:
        for site in sites:
            try:
                site.close()
            except Exception as exc:  # noqa: BLE001 - keep cleaning
                print(f"clean-up: {exc}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
