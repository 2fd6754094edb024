"""The fleet simulator against a real gunicorn, with a history of every request and server-side faults.

Shared by the fault-injection tests (tests/reliability/test_faults.py), the full fault run
(tests/perf/faults_full.py) and the fleet load benchmark (tests/perf/bench_fleet.py).

- RequestHistory / recording(): every HTTP call a simulated till makes is logged with the moment
  it was sent and answered and its outcome: `answered` (with the HTTP status), `timeout` or
  `connection_error`. The simulator builds its transports from `dashboard.client.simulator.HttpTransport`;
  recording() swaps in a subclass that logs each call and otherwise behaves exactly the same.
- FleetRun: the simulator's fleet run in a background thread, so faults can be injected while it sells.
- WorkerKiller: SIGKILLs gunicorn workers that are serving a request, waiting for each replacement.
- check_fleet(): after healing, the contract's invariants against the database and the tills' outboxes.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text

from dashboard.client import simulator
from dashboard.client.outbox import SYNCED, Outbox
from dashboard.client.transport import HttpTransport, SyncError

from .gunicorn import GunicornServer
from .invariants import check_invariants

SYNC_PATH = "/api/v1/sync"
ANSWERED, TIMEOUT, CONNECTION_ERROR, BAD_ANSWER = "answered", "timeout", "connection_error", "bad_answer"


# --------------------------------------------------------------------------------------- the history


@dataclass
class RequestRecord:
    """One HTTP request a till made, and how it ended."""

    till: str
    method: str
    path: str
    sent: float  # time.monotonic() when it was sent
    ended: float  # ... when its answer (or failure) came
    outcome: str  # answered / timeout / connection_error / bad_answer
    status: int | None = None  # HTTP status when answered
    error: str | None = None
    offline_ids: tuple[str, ...] = ()  # the sales in a POST /sync
    results: list[dict] | None = None  # a 200 /sync answer's results
    body: bytes | None = None  # the POST /sync body (kept only when asked: the benchmark)

    @property
    def is_sync(self) -> bool:
        return self.method == "POST" and self.path == SYNC_PATH

    @property
    def ok(self) -> bool:
        return self.outcome == ANSWERED and self.status == 200

    @property
    def latency(self) -> float:
        return self.ended - self.sent


class RequestHistory:
    """Every request of every till, in the order they ended. Thread-safe."""

    def __init__(self, *, keep_bodies: bool = False):
        self._lock = threading.Lock()
        self.records: list[RequestRecord] = []
        self.keep_bodies = keep_bodies
        self.tills_by_token: dict[str, str] = {}
        self.in_flight = 0  # POST /sync requests sent and not ended yet

    def sending(self, delta: int) -> None:
        with self._lock:
            self.in_flight += delta

    def wait_in_flight(self, timeout: float = 30) -> int:
        """Until some POST /sync is on its way (a fault injected now hits a request); returns how many."""
        deadline = time.monotonic() + timeout
        while (count := self.in_flight) == 0:
            assert time.monotonic() < deadline, "no sync request was in flight"
            time.sleep(0.001)
        return count

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self.records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self.records)

    def sync_records(self) -> list[RequestRecord]:
        return [r for r in self.snapshot() if r.is_sync]

    def answered_syncs(self) -> int:
        return sum(1 for r in self.sync_records() if r.ok)

    def outcomes(self, records: list[RequestRecord] | None = None) -> Counter:
        """answered_200, answered_503, timeout, connection_error, ... counted over the records."""
        counted: Counter = Counter()
        for r in self.snapshot() if records is None else records:
            counted[f"{r.outcome}_{r.status}" if r.outcome == ANSWERED else r.outcome] += 1
        return counted

    def failed(self) -> list[RequestRecord]:
        return [r for r in self.snapshot() if not r.ok]

    def overlapping(self, start: float, end: float) -> list[RequestRecord]:
        """Requests in flight at some moment of [start, end]."""
        return [r for r in self.snapshot() if r.sent <= end and r.ended >= start]

    def acknowledged(self) -> dict[str, set[tuple[int, str]]]:
        """offline_id -> every (order_id, invoice_number) a 200 answer gave it as created/duplicate."""
        seen: dict[str, set] = defaultdict(set)
        for r in self.sync_records():
            for result in r.results or ():
                if result.get("status") in ("created", "duplicate"):
                    seen[result["offline_id"]].add((result.get("order_id"), result.get("invoice_number")))
        return dict(seen)

    def created_counts(self) -> Counter:
        counted: Counter = Counter()
        for r in self.sync_records():
            for result in r.results or ():
                if result.get("status") == "created":
                    counted[result["offline_id"]] += 1
        return counted

    def statuses(self) -> Counter:
        counted: Counter = Counter()
        for r in self.sync_records():
            for result in r.results or ():
                counted[result.get("status")] += 1
        return counted


def _classify(exc: SyncError) -> tuple[str, int | None]:
    if exc.status is not None:
        return ANSWERED, exc.status
    message = str(exc)
    if "no answer within" in message or "timed out" in message:
        return TIMEOUT, None
    if "not JSON" in message:
        return BAD_ANSWER, None
    return CONNECTION_ERROR, None


def recording_transport_class(history: RequestHistory, *, timeout: float | None = None):
    """An HttpTransport that logs each call in history (and uses `timeout` if given)."""

    class RecordingTransport(HttpTransport):
        def __init__(self, server_url: str, token: str, *, timeout: float = 10.0):
            super().__init__(server_url, token, timeout=timeout_override or timeout)

        def _request(self, method: str, path: str, body: bytes | None = None):
            till = history.tills_by_token.get(self.token, "?")
            offline_ids: tuple[str, ...] = ()
            bare_path = path.split("?", 1)[0]
            if method == "POST" and bare_path == SYNC_PATH and body:
                offline_ids = tuple(order["offline_id"] for order in json.loads(body)["orders"])
            record = RequestRecord(
                till,
                method,
                bare_path,
                time.monotonic(),
                0.0,
                ANSWERED,
                offline_ids=offline_ids,
                body=body if history.keep_bodies and offline_ids else None,
            )
            if offline_ids:
                history.sending(+1)
            try:
                answer = super()._request(method, path, body)
            except SyncError as exc:
                record.ended = time.monotonic()
                record.outcome, record.status = _classify(exc)
                record.error = str(exc)[:300]
                history.add(record)
                raise
            finally:
                if offline_ids:
                    history.sending(-1)
            record.ended = time.monotonic()
            record.status = 200
            if offline_ids and isinstance(answer, dict) and isinstance(answer.get("results"), list):
                record.results = [
                    {key: result.get(key) for key in ("offline_id", "status", "order_id", "invoice_number", "reason")}
                    for result in answer["results"]
                    if isinstance(result, dict)
                ]
            history.add(record)
            return answer

    timeout_override = timeout
    return RecordingTransport


@contextmanager
def recording(history: RequestHistory, *, timeout: float | None = None):
    """While inside, every till of the fleet simulator talks through a transport that logs to history."""
    original = simulator.HttpTransport
    simulator.HttpTransport = recording_transport_class(history, timeout=timeout)
    try:
        yield history
    finally:
        simulator.HttpTransport = original


# --------------------------------------------------------------------------------------- the fleet


def register_fleet(app, count: int, prefix: str, stores: tuple[str, ...] = ()) -> list[simulator.SimTill]:
    """Register `count` new tills named <prefix>-T01.. (device name = receipt prefix); needs no app context.
    With store codes, the tills are dealt out over those stores in turn, each selling in its store's
    decimals and closing its days in its store's time zone."""
    from dashboard.domain.devices import add_device
    from dashboard.domain.stores import find_store
    from dashboard.extensions import db

    with app.app_context():
        shops = [find_store(code) for code in stores]
        tills = []
        for n in range(1, count + 1):
            name = f"{prefix}-T{n:02d}"
            if not shops:
                tills.append(simulator.SimTill(name, add_device(name)))
                continue
            shop = shops[(n - 1) % len(shops)]
            token = add_device(name, store=shop.code)
            tills.append(simulator.SimTill(name, token, shop.money.places, store=shop.code, zone=shop.time_zone))
        db.session.remove()
    return tills


class FleetRun:
    """simulator.simulate() in a background thread, with every request recorded in `history`."""

    def __init__(
        self,
        url: str,
        tills: list[simulator.SimTill],
        *,
        sales: int,
        seed: int,
        outbox_dir: Path,
        history: RequestHistory,
        faults: list[str] = (),
        batch_size: int = 10,
        timeout: float = 120.0,
    ):
        self.url, self.tills, self.sales, self.seed = url, tills, sales, seed
        self.outbox_dir, self.history, self.faults = Path(outbox_dir), history, list(faults)
        self.batch_size, self.timeout = batch_size, timeout
        self.report: simulator.FleetReport | None = None
        self.error: BaseException | None = None
        self.started = self.finished = 0.0
        self.done = threading.Event()
        for till in tills:
            history.tills_by_token[till.token] = till.name
        self._thread = threading.Thread(target=self._run, name="fleet", daemon=True)

    def _run(self) -> None:
        self.started = time.monotonic()
        try:
            self.report = simulator.simulate(
                self.url,
                self.tills,
                sales=self.sales,
                seed=self.seed,
                faults=self.faults,
                outbox_dir=self.outbox_dir,
                batch_size=self.batch_size,
                timeout=self.timeout,
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised by join()
            self.error = exc
        finally:
            self.finished = time.monotonic()
            self.done.set()

    def start(self) -> FleetRun:
        self._thread.start()
        return self

    def wait_for_answers(self, count: int, timeout: float = 60) -> None:
        """Until `count` POST /sync got a 200 (the fleet is selling and syncing)."""
        deadline = time.monotonic() + timeout
        while self.history.answered_syncs() < count:
            if self.done.is_set():
                raise AssertionError(f"the fleet finished after only {self.history.answered_syncs()} answers")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"only {self.history.answered_syncs()} answers in {timeout} s: {self.history.outcomes()}"
                )
            time.sleep(0.01)

    def wait_for_catalogue(self, timeout: float = 60) -> None:
        """Until every till fetched the products (a simulated till that cannot get them gives up)."""
        names = {till.name for till in self.tills}
        deadline = time.monotonic() + timeout
        while {r.till for r in self.history.snapshot() if r.path == "/api/v1/products" and r.ok} != names:
            assert not self.done.is_set(), "the fleet finished before every till had the catalogue"
            assert time.monotonic() < deadline, "the tills did not all get the catalogue"
            time.sleep(0.01)

    def join(self, timeout: float | None = None) -> simulator.FleetReport:
        self._thread.join(timeout if timeout is not None else self.timeout + 60)
        assert not self._thread.is_alive(), "the fleet did not finish"
        if self.error is not None:
            raise self.error
        return self.report

    @property
    def total_sales(self) -> int:
        return self.sales * len(self.tills)


# --------------------------------------------------------------------------------------- gunicorn faults


def busy_worker(server: GunicornServer, timeout: float = 2.0) -> tuple[int, bool]:
    """A worker holding a client connection right now (serving a request), else any worker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in server.worker_pids():
            try:
                connections = psutil.Process(pid).net_connections(kind="tcp")
            except psutil.Error:
                continue
            if any(
                c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == server.port for c in connections
            ):
                return pid, True
        time.sleep(0.003)
    return server.worker_pids()[0], False


def wait_replaced(server: GunicornServer, pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        pids = server.worker_pids()
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if pid not in pids and len(alive) >= server.workers:
            return
        assert time.monotonic() < deadline, f"gunicorn did not replace worker {pid}:\n{server.log()}"
        time.sleep(0.05)


@dataclass
class Kill:
    pid: int
    busy: bool
    at: float


@dataclass
class WorkerKiller:
    """SIGKILL a busy gunicorn worker, wait for its replacement, pause, again; until `kills` or the fleet ends."""

    server: GunicornServer
    fleet: FleetRun
    kills: int
    pause: tuple[float, float] = (0.05, 0.3)
    seed: int = 0
    done: list[Kill] = field(default_factory=list)

    def run(self) -> list[Kill]:
        import random

        rng = random.Random(self.seed)
        for _ in range(self.kills):
            if self.fleet.done.wait(rng.uniform(*self.pause)):
                break
            pid, busy = busy_worker(self.server)
            if self.fleet.done.is_set():
                break
            os.kill(pid, signal.SIGKILL)
            self.done.append(Kill(pid, busy, time.monotonic()))
            wait_replaced(self.server, pid)
        return self.done


# --------------------------------------------------------------------------------------- checks


def query(database_url: str, sql: str, **params) -> list:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


@dataclass
class FleetFigures:
    sales_made: int = 0
    acknowledged: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    created_twice: int = 0
    answer_mismatches: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "problems"}


def fleet_figures(database_url: str, report: simulator.FleetReport, history: RequestHistory) -> FleetFigures:
    """Compare every till's outbox with the database and with the answers recorded, without asserting.

    lost: sales made that are not stored for their till; duplicated: stored orders of the fleet's
    tills beyond one per sale made (more than one order per offline_id, receipt number or basket of
    a sale); created_twice: sales answered 'created' more than once; answer_mismatches: sales whose
    answers (or outbox) disagree with the stored order id / invoice number.
    """
    figures = FleetFigures()
    names = [till.name for till in report.tills]
    rows = query(
        database_url,
        "SELECT o.offline_id, o.id, o.invoice_number, o.receipt_number, d.name FROM orders o "
        "JOIN devices d ON d.id = o.device_id",
    )
    stored = {row[0]: (row[1], row[2], row[4]) for row in rows}
    fleet_orders = [row for row in rows if row[4] in names]
    by_receipt = Counter((row[4], row[3]) for row in fleet_orders)
    figures.stored = len(fleet_orders)
    acknowledged = history.acknowledged()
    made_ids = set()
    for till in report.tills:
        outbox = Outbox(till.outbox)
        try:
            sales = outbox.sales()
        finally:
            outbox.close()
        figures.sales_made += len(sales)
        for sale in sales:
            made_ids.add(sale.offline_id)
            if sale.state == SYNCED:
                figures.acknowledged += 1
            row = stored.get(sale.offline_id)
            if row is None or row[2] != till.name:
                figures.lost += 1
                figures.problems.append(
                    f"{till.name} {sale.receipt_number} {sale.offline_id}: not stored (outbox state {sale.state})"
                )
                continue
            if by_receipt[(till.name, sale.receipt_number)] > 1:
                figures.duplicated += by_receipt[(till.name, sale.receipt_number)] - 1
            if sale.state == SYNCED and (sale.order_id, sale.invoice_number) != row[:2]:
                figures.answer_mismatches += 1
                figures.problems.append(
                    f"{sale.offline_id}: outbox has {(sale.order_id, sale.invoice_number)}, stored {row[:2]}"
                )
            answers = acknowledged.get(sale.offline_id, set())
            if answers - {row[:2]}:
                figures.answer_mismatches += 1
                figures.problems.append(f"{sale.offline_id}: answered {answers}, stored {row[:2]}")
    extra = [row for row in fleet_orders if row[0] not in made_ids]
    figures.duplicated += len(extra)
    if extra:
        figures.problems.append(f"{len(extra)} stored orders of the fleet match no sale made: {extra[:3]}")
    figures.created_twice = sum(1 for count in history.created_counts().values() if count > 1)
    for offline_id in (oid for oid, n in history.created_counts().items() if n > 1):
        figures.problems.append(f"{offline_id} answered 'created' more than once")
    for offline_id in (oid for oid in acknowledged if oid not in stored):
        figures.problems.append(f"{offline_id} acknowledged but not stored")
        figures.answer_mismatches += 1
    return figures


def sold_quantities(report: simulator.FleetReport) -> dict[str, Decimal]:
    """sku -> units sold by every sale in every outbox (each counted once)."""
    sold: dict[str, Decimal] = defaultdict(Decimal)
    for till in report.tills:
        outbox = Outbox(till.outbox)
        try:
            for sale in outbox.sales():
                for line in sale.order["lines"]:
                    sold[line["sku"]] += Decimal(str(line["quantity"]))
        finally:
            outbox.close()
    return dict(sold)


def sold_by_store(report: simulator.FleetReport) -> dict[tuple[str, str], Decimal]:
    """(store code, sku) -> units sold by every sale in the outboxes of that store's tills (each once)."""
    sold: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for till in report.tills:
        outbox = Outbox(till.outbox)
        try:
            for sale in outbox.sales():
                for line in sale.order["lines"]:
                    sold[(till.store, line["sku"])] += Decimal(str(line["quantity"]))
        finally:
            outbox.close()
    return dict(sold)


def store_stock_taken(database_url: str) -> dict[tuple[str, str], Decimal]:
    """(store code, sku) -> opening quantity minus quantity now, of every stock level that moved."""
    rows = query(
        database_url,
        "SELECT s.code, p.sku, l.opening_quantity, l.quantity FROM stock_levels l "
        "JOIN stores s ON s.id = l.store_id JOIN products p ON p.id = l.product_id",
    )
    taken = {(code, sku): Decimal(str(opening)) - Decimal(str(now)) for code, sku, opening, now in rows}
    return {key: value for key, value in taken.items() if value != 0}


def check_fleet(
    database_url: str,
    report: simulator.FleetReport,
    history: RequestHistory,
    *,
    opening: dict[str, Decimal],
    sales_per_till: int,
) -> FleetFigures:
    """After healing: every sale made is acknowledged and stored exactly once with the ids its till kept,
    every acknowledged sale is stored, no invoice number is shared, stock = opening + movements and
    = opening - what the outboxes sold."""
    summary = report.as_dict()
    assert report.drained, f"not drained: {summary['per_till']}"
    assert not report.replay_mismatches, f"one sale got two different answers: {report.replay_mismatches[:5]}"
    assert summary["flagged"] == 0 and summary["statuses"]["conflict"] == summary["statuses"]["rejected"] == 0, summary
    for till in report.tills:
        assert till.sales_made == sales_per_till and till.acknowledged == sales_per_till, till
    counts = check_invariants(database_url)  # no shared offline_id/invoice, one movement a line, stock ledger
    figures = fleet_figures(database_url, report, history)
    assert figures.problems == [], "\n".join(figures.problems[:20])
    assert (figures.lost, figures.duplicated, figures.created_twice, figures.answer_mismatches) == (0, 0, 0, 0)
    assert figures.sales_made == figures.acknowledged == figures.stored == len(report.tills) * sales_per_till
    assert counts["orders"] == figures.stored, counts  # nothing else was stored
    sold = sold_quantities(report)
    stock = {sku: Decimal(str(qty)) for sku, qty in query(database_url, "SELECT sku, stock_quantity FROM products")}
    expected = {sku: opening[sku] - sold.get(sku, Decimal(0)) for sku in opening}
    wrong = {sku: (stock[sku], expected[sku]) for sku in expected if stock[sku] != expected[sku]}
    assert not wrong, f"stock is not opening stock minus each sale once: {wrong}"
    return figures


def check_closes(app, report: simulator.FleetReport) -> int:
    """After healing: every business day each till closed is matched against the server's books (the
    comparison is recomputed now, whatever the till was answered mid-run); returns the days checked."""
    from datetime import date

    from sqlalchemy import select

    from dashboard.domain.reports import current_comparison
    from dashboard.extensions import db
    from dashboard.models import Device

    checked = 0
    with app.app_context():
        for till in report.tills:
            assert till.closed_days and till.closings_pending == 0, till.name
            device_id = db.session.scalar(select(Device.id).where(Device.name == till.name))
            for day in sorted(set(till.closed_days)):
                comparison = current_comparison(device_id, date.fromisoformat(day))
                assert comparison.status == "matched", (till.name, day, comparison)
                checked += 1
        db.session.remove()
        db.engine.dispose()
    return checked


def opening_stock(database_url: str) -> dict[str, Decimal]:
    return {sku: Decimal(str(qty)) for sku, qty in query(database_url, "SELECT sku, opening_stock FROM products")}


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    import math

    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]
