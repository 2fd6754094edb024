"""Fault injection against the real thing: a gunicorn with several workers, the fleet simulator's tills,
PostgreSQL and SQLite, Redis and a real RQ worker, with server-side faults injected mid-run.

- gunicorn workers SIGKILLed while they serve the fleet (SQLite and PostgreSQL);
- PostgreSQL crash-restarted (`pg_ctl restart -m immediate`) twice mid-run, and Redis killed for a
  while in between, with the rate limit (the one Redis use on the sync path) switched on;
- the RQ worker (and its work-horse) SIGKILLed while a large duplicate-fix job is writing;
- Redis restarted (losing every job) before and while a fix job runs.

Every request of every till is recorded (sent, ended, answered status / timed out / connection
error; tests/support/fleet_faults.py). After healing, each test checks that faults really happened
(requests failed during the fault windows), and then that every sale made is acknowledged and stored
exactly once with the order id and invoice number its till recorded, every acknowledged sale is
stored, no invoice number is shared, stock equals opening stock plus movements and opening stock
minus each sale once; and, for jobs, that a fix is wholly applied or not at all, and finishes
exactly once when retried.

This is the reduced CI version; `python -m tests.perf.faults_full` runs the long one and prints figures.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from rq.job import Job
from sqlalchemy import create_engine, text

from dashboard.domain.catalog import ProductRow, demo_catalog_rows, import_products
from dashboard.domain.duplicates import run_scan
from dashboard.domain.fix_plans import open_certain_selection
from dashboard.domain.fixes import approve_plan, compute_plan, request_plan
from dashboard.domain.legacy_import import import_legacy_file
from dashboard.extensions import db
from dashboard.jobs.duplicates import enqueue_apply
from dashboard.jobs.queue import get_queue, job_status
from tests.conftest import make_app, migrate
from tests.support.fleet_faults import (
    ANSWERED,
    CONNECTION_ERROR,
    TIMEOUT,
    FleetRun,
    RequestHistory,
    WorkerKiller,
    check_closes,
    check_fleet,
    opening_stock,
    query,
    recording,
    register_fleet,
)
from tests.support.gunicorn import GunicornServer
from tests.support.job_faults import (
    WorkerProcess,
    applied_or_not,
    assert_applied_once,
    assert_not_applied,
    fast_forward_past_heartbeat,
    fix_state,
    open_write_transaction,
    wait_for,
    write_big_legacy_book,
)
from tests.support.sales import CATALOG
from tests.support.services import PostgresServer, RedisServer

pytestmark = pytest.mark.slow

TILLS = 4
BATCH = 5
FAILURE_KINDS = {CONNECTION_ERROR, TIMEOUT}  # besides answers with a 5xx status


# --------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def servers():
    """Start gunicorn -w 3 servers; all stopped at teardown, their logs printed (shown if the test failed)."""
    started: list[GunicornServer] = []

    def start(database_url: str, redis_url: str, **env) -> GunicornServer:
        server = GunicornServer(database_url, redis_url, workers=3, **env)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
        print(f"--- gunicorn log ({server.log_path}) ---\n{server.log()}")


@pytest.fixture
def own_redis():
    """A Redis of this test's own, so restarting it, or job ids starting again at 1, touch no other test."""
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def own_pg(tmp_path):
    """A PostgreSQL cluster of this test's own (it is crash-restarted); returns (server, migrated database URL)."""
    server = PostgresServer().start()
    try:
        admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE faults"))
        admin.dispose()
        url = server.url("faults")
        migrate(url, tmp_path / "migrate")
        yield server, url
    finally:
        print(
            f"--- postgres log ---\n{(server.root / 'log').read_text(errors='replace')[-3000:]}"
            if (server.root / "log").exists()
            else ""
        )
        server.stop()


def fleet_app(database_url: str, redis_url: str, tmp_path):
    """The app on this database, with the demo catalogue the simulator sells from."""
    app = make_app(database_url, redis_url, tmp_path)
    with app.app_context():
        import_products(demo_catalog_rows())
        db.session.remove()
    return app


def failure_kind(record) -> str:
    return f"{record.outcome}_{record.status}" if record.outcome == ANSWERED else record.outcome


def assert_failures_are_transient(failures) -> None:
    """Under server faults a till may see a broken connection, a time-out or a 503, never anything else."""
    odd = [r for r in failures if not (r.outcome in FAILURE_KINDS or (r.outcome == ANSWERED and r.status == 503))]
    assert not odd, f"answers outside the contract during faults: {[(failure_kind(r), r.error) for r in odd[:10]]}"


# --------------------------------------------------------------------------------------- gunicorn workers killed

KILLS = 5
KILL_SALES = 500


def test_fleet_through_gunicorn_worker_kills(database_url, redis_server, tmp_path, servers):
    app = fleet_app(database_url, redis_server.url, tmp_path)
    server = servers(database_url, redis_server.url)
    tills = register_fleet(app, TILLS, "K")
    opening = opening_stock(database_url)
    history = RequestHistory()
    with recording(history):
        fleet = FleetRun(
            server.url,
            tills,
            sales=KILL_SALES,
            seed=21,
            outbox_dir=tmp_path / "outboxes",
            history=history,
            batch_size=BATCH,
            timeout=150,
        ).start()
        fleet.wait_for_catalogue()
        fleet.wait_for_answers(2 * TILLS)
        kills = WorkerKiller(server, fleet, kills=KILLS, seed=21).run()
        report = fleet.join()

    failures = history.failed()
    print(
        f"kills (pid, busy): {[(k.pid, k.busy) for k in kills]}; outcomes: {dict(history.outcomes())}; "
        f"fleet {fleet.finished - fleet.started:.1f} s"
    )
    assert len(kills) == KILLS, f"the fleet ended after {len(kills)} kills: make it sell more"
    assert any(k.busy for k in kills), "no kill hit a worker that was serving a request"
    assert failures, "no request was interrupted by the kills"
    assert_failures_are_transient(failures)
    # Every failed request was in flight when a worker died: the server failed nowhere else.
    stray = [r for r in failures if not any(r.sent <= k.at + 0.05 and r.ended >= k.at for k in kills)]
    assert not stray, f"requests failed away from any kill: {[(failure_kind(r), r.error) for r in stray[:5]]}"
    figures = check_fleet(database_url, report, history, opening=opening, sales_per_till=KILL_SALES)
    print(f"figures: {figures.as_dict()}; till-days closed and matched: {check_closes(app, report)}")
    assert len(server.wait_for_workers()) == server.workers  # whole again


# --------------------------------------------------------------------------------------- PostgreSQL and Redis down

PG_SALES = 400
PG_OUTAGE = 3.0  # seconds PostgreSQL stays down in the second fault: longer than the server's write retries (DB_WRITE_RETRIES), so a request sent as it goes down is answered 503


def test_fleet_through_postgres_crash_restarts_and_a_redis_outage(own_pg, own_redis, tmp_path, servers):
    pg, database_url = own_pg
    app = fleet_app(database_url, own_redis.url, tmp_path)
    # The rate limit on: every request asks Redis, which must not stop a sync when it is down.
    server = servers(database_url, own_redis.url, SYNC_RATE_LIMIT_PER_MINUTE="1000000")
    tills = register_fleet(app, TILLS, "P")
    with app.app_context():
        db.engine.dispose()
    opening = opening_stock(database_url)
    started_at = lambda: query(database_url, "SELECT pg_postmaster_start_time()")[0][0]  # noqa: E731
    history = RequestHistory()
    postmasters = [started_at()]
    in_flight: list[int] = []

    def pg_fault(crash) -> tuple[float, float]:
        """Inject a PostgreSQL fault while a sync is in flight; (start, healed) where healed is when the
        first request sent after it got a 200."""
        in_flight.append(history.wait_in_flight())
        began = time.monotonic()
        crash()
        back = time.monotonic()
        fleet.wait_for_answers(history.answered_syncs() + TILLS)
        healed = min((r.ended for r in history.sync_records() if r.ok and r.sent >= back), default=time.monotonic())
        postmasters.append(started_at())
        return began, healed

    def outage():
        pg.pg_ctl("stop", "-m", "immediate", "-w")
        time.sleep(PG_OUTAGE)
        pg.pg_ctl("start", "-w", "-l", str(pg.root / "log"))

    # A short till time-out: a request kept waiting by the server's retries is abandoned and sent again.
    with recording(history, timeout=3.0):
        fleet = FleetRun(
            server.url,
            tills,
            sales=PG_SALES,
            seed=22,
            outbox_dir=tmp_path / "outboxes",
            history=history,
            batch_size=BATCH,
            timeout=150,
        ).start()
        fleet.wait_for_catalogue()
        fleet.wait_for_answers(2 * TILLS)
        restart_window = pg_fault(pg.restart_immediate)  # pg_ctl restart -m immediate
        own_redis.kill()
        down = time.monotonic()
        wait_for(
            lambda: (
                fleet.done.is_set() or sum(1 for r in history.sync_records() if r.ok and r.sent >= down) >= 2 * TILLS
            ),
            60,
            "syncs answered while Redis is down",
        )
        up = time.monotonic()
        own_redis.socket.unlink(missing_ok=True)
        own_redis.start()
        outage_window = pg_fault(outage)  # crashed, down for PG_OUTAGE s, started
        report = fleet.join()

    retried = server.log().count("write transaction failed")
    in_restart = [r for r in history.overlapping(*restart_window) if not r.ok]
    in_outage = [r for r in history.overlapping(*outage_window) if not r.ok]
    print(
        f"outcomes: {dict(history.outcomes())}; syncs in flight at the faults {in_flight}; failed during "
        f"the restart {len(in_restart)}, during the outage {len(in_outage)}; server-side transaction "
        f"retries logged: {retried}; fleet {fleet.finished - fleet.started:.1f} s"
    )
    # Both faults happened mid-run: PostgreSQL really restarted each time, with syncs on their way
    # (whether the quick restart fails a request depends on where that request was; the outage must).
    assert len(set(postmasters)) == 3, f"PostgreSQL did not restart each time: {postmasters}"
    assert min(in_flight) >= 1 and fleet.finished > outage_window[1]
    # While the database was down, tills were answered with the contract's 503, and only with that.
    assert any(r.outcome == ANSWERED and r.status == 503 for r in in_outage), (
        f"no 503 while PostgreSQL was down: {[(failure_kind(r), r.error) for r in in_outage[:5]]}"
    )
    assert_failures_are_transient(history.failed())
    # Redis down: syncing went on; nothing failed that was sent and answered while only Redis was away.
    during = [r for r in history.sync_records() if r.sent >= down and r.ended <= up]
    assert len([r for r in during if r.ok]) >= 2 * TILLS, "no sale synced while Redis was down"
    assert all(r.ok for r in during), [(failure_kind(r), r.error) for r in during if not r.ok][:5]
    figures = check_fleet(database_url, report, history, opening=opening, sales_per_till=PG_SALES)
    print(f"figures: {figures.as_dict()}; till-days closed and matched: {check_closes(app, report)}")


# --------------------------------------------------------------------------------------- fix jobs

FIX_PAIRS = 600


def prepare_fix(app, tmp_path, pairs: int = FIX_PAIRS):
    """A legacy book with `pairs` duplicate groups imported, scanned, previewed and approved; (book, plan id)."""
    book = write_big_legacy_book(tmp_path / "legacy.jsonl", pairs)
    with app.app_context():
        import_products(
            [ProductRow(sku, name, Decimal(price), Decimal(stock)) for sku, (name, price, stock) in CATALOG.items()]
        )
        with book.path.open() as stream:
            imported = import_legacy_file(stream, "legacy.jsonl")
        assert (imported.imported, imported.skipped) == (book.orders, 0), imported
        found = run_scan(trigger="test", actor="manager@example.com").found
        assert {kind: n for kind, n in found.items() if n} == book.groups, found
        plan_id = request_plan(open_certain_selection(), "manager@example.com")
        approve_plan(plan_id, compute_plan(plan_id), "boss@example.com")
        db.session.remove()
    return book, plan_id


def run_burst_worker(database_url: str, redis_url: str, instance_path: str, timeout: float = 180) -> str:
    worker = WorkerProcess(database_url, redis_url, instance_path, burst=True)
    try:
        assert worker.wait(timeout) == 0, worker.log()
    finally:
        worker.stop()
    return worker.log()


@pytest.fixture
def fix_app(database_url, own_redis, tmp_path):
    app = make_app(database_url, own_redis.url, tmp_path)
    yield app
    with app.app_context():
        db.engine.dispose()


def kill_worker_while_applying(app, database_url: str, redis_url: str, job_id: str) -> tuple[str, list[int]]:
    """Start a worker, wait until the apply job has rebuilt its plan under lock (it is writing now) and
    SIGKILL the worker and its work-horse. Returns the evidence of an open write transaction and the horses."""
    worker = WorkerProcess(database_url, redis_url, app.instance_path)
    try:
        with app.app_context():
            wait_for(
                lambda: (lambda s: s.status == "started" and s.progress >= 1.0)(job_status(job_id)),
                120,
                "the apply job to reach its writes",
            )
        evidence = open_write_transaction(database_url)
        horses = worker.kill()
    finally:
        worker.stop()
        print(f"--- killed worker's log ---\n{worker.log()}")
    return evidence, horses


def test_rq_worker_killed_mid_apply_leaves_all_or_nothing_and_the_retry_applies_once(
    fix_app, database_url, own_redis, tmp_path
):
    app = fix_app
    book, plan_id = prepare_fix(app, tmp_path)
    with app.app_context():
        job = enqueue_apply(plan_id, "boss@example.com")
    assert_not_applied(fix_state(database_url, plan_id), book)

    evidence, horses = kill_worker_while_applying(app, database_url, own_redis.url, job.id)
    print(f"killed while: {evidence}; work-horses killed: {horses}")
    assert horses, "no work-horse was running the job"
    assert evidence, "the apply transaction was not open when the worker was killed"
    outcome = applied_or_not(fix_state(database_url, plan_id), book)  # never half a fix
    print(f"after the kill the fix is {outcome}")

    with app.app_context():
        fast_forward_past_heartbeat(get_queue(), job.id)
        status = job_status(job.id)
        assert (status.status, "AbandonedJobError" in (status.error or "")) == ("failed", True), status
        # Retried the way RQ offers for a failed job (`rq requeue`): the same job, queued again.
        get_queue().failed_job_registry.requeue(job.id)
        assert job_status(job.id).status == "queued"
    run_burst_worker(database_url, own_redis.url, app.instance_path)
    with app.app_context():
        retry = Job.fetch(job.id, connection=get_queue().connection)
        assert job_status(job.id).status == "finished", job_status(job.id)
        result = retry.latest_result().return_value
    assert result["already_done"] == (outcome == "applied"), result
    assert result["orders_voided"] == book.orders_voided and result["compensating_movements"] == book.compensations
    assert_applied_once(fix_state(database_url, plan_id), book)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_retry_right_after_a_killed_apply_job_runs_it(fix_app, database_url, own_redis, tmp_path):
    app = fix_app
    book, plan_id = prepare_fix(app, tmp_path, pairs=300)
    with app.app_context():
        job = enqueue_apply(plan_id, "boss@example.com")
    evidence, horses = kill_worker_while_applying(app, database_url, own_redis.url, job.id)
    assert horses and evidence
    assert applied_or_not(fix_state(database_url, plan_id), book) == "not applied"
    with app.app_context():
        retry = enqueue_apply(plan_id, "boss@example.com")  # the operator retries at once
        status = job_status(retry.id).status
    run_burst_worker(database_url, own_redis.url, app.instance_path)
    assert status == "queued", f"the retry is not queued: it is the dead job, '{status}'"
    assert_applied_once(fix_state(database_url, plan_id), book)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_retry_after_rq_failed_the_abandoned_apply_job_runs_it(fix_app, database_url, own_redis, tmp_path):
    app = fix_app
    book, plan_id = prepare_fix(app, tmp_path, pairs=300)
    with app.app_context():
        job = enqueue_apply(plan_id, "boss@example.com")
    evidence, horses = kill_worker_while_applying(app, database_url, own_redis.url, job.id)
    assert horses and evidence
    assert applied_or_not(fix_state(database_url, plan_id), book) == "not applied"
    with app.app_context():
        fast_forward_past_heartbeat(get_queue(), job.id)  # faults_full --real-abandon-wait sees the same for real
        assert job_status(job.id).status == "failed"
        retry = enqueue_apply(plan_id, "boss@example.com")  # the operator retries the failed job
        assert job_status(retry.id).status == "queued"
    run_burst_worker(database_url, own_redis.url, app.instance_path)
    assert_applied_once(fix_state(database_url, plan_id), book)


def test_redis_restarted_before_and_during_a_fix_job(fix_app, database_url, own_redis, tmp_path):
    app = fix_app
    book, plan_id = prepare_fix(app, tmp_path)

    # 1. Redis restarts while the job waits in the queue: the job is gone, the database says nothing was done.
    with app.app_context():
        lost = enqueue_apply(plan_id, "boss@example.com")
        assert job_status(lost.id).status == "queued"
    own_redis.restart()
    with app.app_context():
        assert job_status(lost.id).status == "missing"
    assert_not_applied(fix_state(database_url, plan_id), book)

    # 2. Enqueued again, and Redis restarts while a worker runs it.
    worker = WorkerProcess(database_url, own_redis.url, app.instance_path)
    try:
        with app.app_context():
            job = enqueue_apply(plan_id, "boss@example.com")
            wait_for(
                lambda: (lambda s: s.status == "started" and s.progress >= 0.3)(job_status(job.id)),
                120,
                "the apply job to be under way",
            )
        own_redis.restart()
        restarted = time.monotonic()
        seen = set()
        # Whatever Redis says meanwhile, the database shows the whole fix or none of it.
        while time.monotonic() - restarted < 60:
            seen.add(applied_or_not(fix_state(database_url, plan_id), book))
            with app.app_context():
                status = job_status(job.id).status
            if status in ("finished", "failed"):
                break
            time.sleep(0.2)
        print(f"after the restart: database {seen}, job {status}")
        assert worker.process.poll() is None, f"the worker died with Redis:\n{worker.log()}"

        # 3. Enqueued once more (what an operator does when the job is not 'finished'): it completes, once.
        with app.app_context():
            again = enqueue_apply(plan_id, "boss@example.com")
            wait_for(lambda: job_status(again.id).status in ("finished", "failed"), 120, "the retried job")
            assert job_status(again.id).status == "finished", job_status(again.id)
            result = again.latest_result().return_value
    finally:
        worker.stop()
        print(f"--- worker log ---\n{worker.log()}")
    assert result["orders_voided"] == book.orders_voided, result
    assert_applied_once(fix_state(database_url, plan_id), book)
