"""Throughput benchmark of POST /api/v1/sync against the physical write limit of the same database.

Not a pytest test (no test_ functions, the file name is not test_*): run it as a module,

    .venv/bin/python -m tests.perf.bench_sync [--quick] [--backend sqlite|postgres|both] [--stored 0,1000000]

For each backend and each count of already stored orders it measures, in one run on this machine:

1. ingest: sales per second through POST /api/v1/sync over HTTP against a real gunicorn
   (2 workers, SYNC_RATE_LIMIT_PER_MINUTE=0), batches of 100 sales of 3 lines, several tills
   sending at once (one client thread and one device token per till);
2. replay: the same batches sent again (every sale must be answered `duplicate`);
3. raw: the same rows (orders, order_lines, stock_movements, payments, the store's stock_levels
   updates and the default store's products mirror) written with the plain driver (sqlite3 /
   psycopg), one transaction per 100 sales, into a copy of the same database; once with one
   writer and once with as many writers as tills, the better of the two being the "raw limit";
4. the minimal physical limit: tests/perf/rawlimit.py (the contract's minimal schema in plain
   sqlite3, WAL + synchronous=FULL, 100 sales a transaction, no index beyond the unique keys), run as
   a subprocess in the same run, so ingest/minimal and replay/minimal compare figures measured side
   by side;
5. index write cost: the single-writer raw writes again into a copy whose secondary indexes
   (ix_* on orders, order_lines, stock_movements and payments) are dropped.

Each repetition runs on fresh copies of the seeded database, so every figure sees exactly the
stored count it is labelled with; the table shows the best repetition of each figure. The CPU
that other processes on the machine used during each measurement is printed next to it.
See tests/perf/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import psutil
import psycopg
import requests

from dashboard.client.ids import new_offline_id
from dashboard.database import SQLITE_PRAGMAS
from dashboard.domain import sales as sales_module
from dashboard.domain.catalog import demo_catalog_rows, import_products
from dashboard.domain.devices import add_device
from dashboard.domain.sales import Sale, parse_sale
from dashboard.extensions import db
from dashboard.writer_queue import CHECKPOINT_EVERY
from tests.conftest import make_app, migrate
from tests.support.gunicorn import GunicornServer
from tests.support.services import PostgresServer, RedisServer

# The goals this benchmark checks.
GOAL_INGEST_RATIO = 0.25  # ingest >= 0.25 x raw limit (own schema, every index the product has)
GOAL_REPLAY_RATIO = 0.5  # replay >= 0.5 x raw limit
GOAL_INGEST_MINIMAL = 0.35  # ingest >= 0.35 x the minimal physical limit (rawlimit.py, SQLite)
GOAL_REPLAY_MINIMAL = 0.8  # replay >= 0.8 x the minimal physical limit
RAWLIMIT = Path(__file__).with_name("rawlimit.py")
GOAL_MAX_SLOWDOWN = 0.10  # ingest with the largest stored count at most 10 % slower than with 0

BATCH_SIZE = 100
LINES_PER_SALE = 3
UTC = timezone.utc
NOISY = 0.10  # others using more than this share of the machine's CPU: the figure is flagged


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- CPU used by other processes


class CpuWatch:
    """How much CPU processes outside this benchmark (other test runs, ...) used during a measurement.

    Machine-wide busy time (steal included) minus the CPU time of this benchmark's own process tree:
    this process and its threads, gunicorn and its workers, Redis, and the PostgreSQL server it started.
    """

    def __init__(self):
        self.roots: list[int] = [os.getpid()]

    def split(self) -> tuple[float, float]:
        """CPU seconds used so far by this process, and by the processes it started (alive ones)."""
        own = psutil.Process().cpu_times()
        children = 0.0
        for proc in psutil.Process().children(recursive=True):
            try:
                t = proc.cpu_times()
                children += t.user + t.system
            except psutil.Error:
                pass
        return own.user + own.system, children

    def _own_cpu(self) -> dict[tuple[int, float], float]:
        own = {}
        for pid in self.roots:
            try:
                root = psutil.Process(pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in procs:
                try:
                    t = proc.cpu_times()
                    own[(proc.pid, proc.create_time())] = t.user + t.system + t.children_user + t.children_system
                except psutil.Error:
                    pass
        return own

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))

    def start(self):
        return self._busy(), self._own_cpu()

    def foreign_share(self, before, seconds: float) -> float:
        """Share (0..1) of the whole machine's CPU that other processes used since `before`."""
        busy_before, own_before = before
        busy, own = self._busy() - busy_before, self._own_cpu()
        ours = sum(cpu - own_before.get(key, 0.0) for key, cpu in own.items())
        capacity = seconds * (os.cpu_count() or 1)
        return min(1.0, max(0.0, (busy - ours) / capacity)) if capacity else 0.0

    def wait_quiet(self, max_wait: float, threshold: float = 0.15) -> float:
        """Wait (at most max_wait s) until the machine has been quiet for 2 s; returns the seconds waited."""
        started = time.monotonic()
        quiet = 0
        while max_wait > 0 and time.monotonic() - started < max_wait and quiet < 2:
            quiet = quiet + 1 if psutil.cpu_percent(interval=1) / 100 < threshold else 0
        return time.monotonic() - started


CPU = CpuWatch()


# --------------------------------------------------------------------------- workload


@dataclass
class Workload:
    """Pre-built request bodies (HTTP) and parsed sales (raw writes), made before any timing."""

    bodies: list[list[bytes]]  # per till: JSON bodies of its batches
    warmup: list[list[bytes]]  # per till: untimed batches (created, then replayed)
    raw_single: list[list[list[Sale]]]  # one writer: [writer][batch][sale]
    raw_multi: list[list[list[Sale]]]  # one writer per till

    @property
    def sales(self) -> int:
        return sum(len(b) for b in self.bodies) * BATCH_SIZE


# When the bench's sales were made. "till-order": each till's sales in the order the till made them,
# a few seconds apart over the last days, which is how a till's outbox sends them (oldest first; the
# reference client's outbox does). "random": any moment of the last hour, sale by sale, the workload
# of the figures before 2026-11-30, kept for comparison: it scatters the created_at index entries of
# each batch over the whole hour, so every sale dirties its own page of each such index.
SALE_TIMES = ("till-order", "random")
_TILL_CLOCK_START = timedelta(days=30)  # the tills' clocks start this far back ...
_TILL_CLOCK_STEP = (1, 8)  # ... and move on 1 to 8 seconds a sale (120,000 sales of one till: a week)


# How the bench's tills make offline_ids: "v4", random (what most tills send, and the default);
# "v7", time-ordered, as the reference client makes them (dashboard/client/ids.py).
OFFLINE_IDS = ("v4", "v7")


class SaleMaker:
    def __init__(
        self,
        products: list[tuple[str, Decimal]],
        seed: int,
        times: str = SALE_TIMES[0],
        offline_ids: str = OFFLINE_IDS[0],
    ):
        assert times in SALE_TIMES, times
        assert offline_ids in OFFLINE_IDS, offline_ids
        self.offline_ids = offline_ids
        self.products = products
        self.rng = random.Random(seed)
        self.counters: dict[str, itertools.count] = {}
        self.now = datetime.now(UTC)
        self.times = times
        self.clocks: dict[str, datetime] = {}

    def _sale_time(self, code: str) -> datetime:
        if self.times == "random":
            return self.now - timedelta(seconds=self.rng.randint(60, 3600))
        clock = self.clocks.get(code, self.now - _TILL_CLOCK_START)
        self.clocks[code] = clock + timedelta(seconds=self.rng.randint(*_TILL_CLOCK_STEP))
        return self.clocks[code]

    def sale(self, code: str) -> dict:
        rng = self.rng
        seq = next(self.counters.setdefault(code, itertools.count(1)))
        lines, total = [], Decimal(0)
        for sku, price in rng.sample(self.products, LINES_PER_SALE):
            quantity = rng.randint(1, 3)
            lines.append({"sku": sku, "quantity": str(quantity), "unit_price": str(price)})
            total += quantity * price
        total = str(total.quantize(Decimal("0.01")))
        made = self._sale_time(code)
        return {
            "offline_id": new_offline_id(made, rng.getrandbits)
            if self.offline_ids == "v7"
            else str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "receipt_number": f"{code}-{seq:07d}",
            "created_at": made.isoformat(),
            "cashier": rng.choice(["Amal", "Bruno", "Chen", "Dara"]),
            "lines": lines,
            "total": total,
            "payments": [{"method": "cash", "amount": total}],
        }

    def body(self, code: str) -> bytes:
        orders = [self.sale(code) for _ in range(BATCH_SIZE)]
        return json.dumps({"batch_id": str(uuid.uuid4()), "orders": orders}).encode()

    def parsed_batch(self, code: str) -> list[Sale]:
        batch = [
            parse_sale(self.sale(code), max_lines=200, now=self.now + timedelta(hours=1)) for _ in range(BATCH_SIZE)
        ]
        assert all(isinstance(s, Sale) for s in batch), batch
        return batch


def build_workload(
    products, tills: int, batches_per_till: int, seed: int, times: str = SALE_TIMES[0], offline_ids: str = "v4"
) -> Workload:
    maker = SaleMaker(products, seed, times, offline_ids)
    codes = [f"B{t + 1:02d}" for t in range(tills)]
    warmup = [[maker.body(code) for _ in range(2)] for code in codes]
    bodies = [[maker.body(code) for _ in range(batches_per_till)] for code in codes]
    raw_single = [[maker.parsed_batch("R1") for _ in range(tills * batches_per_till)]]
    raw_multi = [[maker.parsed_batch(f"RN{t + 1:02d}") for _ in range(batches_per_till)] for t in range(tills)]
    return Workload(bodies, warmup, raw_single, raw_multi)


def sale_content_hash(device_id: int, sale: Sale) -> str:
    """orders.content_hash as ingestion computes it (when the project has it), computed before timing."""
    compute = getattr(sales_module, "content_hash", None)
    if compute is not None:
        return compute(device_id, sale.lines, sale.total)
    return hashlib.sha256(f"{device_id}{sale.total}{sale.lines}".encode()).hexdigest()


# --------------------------------------------------------------------------- measuring


@dataclass
class PhaseResult:
    sales: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    foreign_cpu: float = 0.0
    # CPU seconds per sale of this process (the tills' HTTP client or the raw writers) and of the
    # processes it started (gunicorn, Redis, PostgreSQL): where the machine's two cores went.
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.sales / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        text = f"{self.sales:>7,} sales in {self.seconds:7.2f} s = {self.rate:8,.0f} sales/s"
        if self.latencies:
            lat = sorted(self.latencies)
            p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
            text += (
                f"; batch p50 {statistics.median(lat) * 1000:4.0f} ms, p95 {p95 * 1000:4.0f} ms, "
                f"max {lat[-1] * 1000:5.0f} ms"
            )
        if self.client_cpu or self.server_cpu:
            text += f"; CPU per sale: client {self.client_cpu * 1e6:3.0f} us, server {self.server_cpu * 1e6:3.0f} us"
        text += f"; others' CPU {self.foreign_cpu:4.0%}" + (" (NOISY)" if self.foreign_cpu > NOISY else "")
        return text + "".join(f"\n      error: {error}" for error in self.errors[:5])


def _run_threads(workers: list, target) -> tuple[float, float, tuple[float, float]]:
    """Start one thread per item of `workers`, release them together.

    Returns the wall seconds, the share of the machine's CPU other processes used, and the CPU
    seconds of (this process, the processes it started).
    """
    barrier = threading.Barrier(len(workers) + 1)
    threads = [threading.Thread(target=target, args=(barrier, item), daemon=True) for item in workers]
    for thread in threads:
        thread.start()
    before = CPU.start()
    split_before = CPU.split()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    split_after = CPU.split()
    split = (split_after[0] - split_before[0], split_after[1] - split_before[1])
    return seconds, CPU.foreign_share(before, seconds), split


def send_all(url: str, tokens: list[str], bodies: list[list[bytes]], expect: str) -> PhaseResult:
    """Every till (thread) sends its batches one after the other; all tills start together."""
    key = {"created": "created", "duplicate": "duplicates"}[expect]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def till(barrier, item) -> None:
        token, batches = item
        session = requests.Session()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        mine = []
        barrier.wait()
        for body in batches:
            t0 = time.perf_counter()
            try:
                response = session.post(url + "/api/v1/sync", data=body, headers=headers, timeout=600)
                problem = None
                if response.status_code != 200:
                    problem = f"HTTP {response.status_code}: {response.text[:200]}"
                else:
                    answer = response.json()
                    if answer.get(key) != BATCH_SIZE:
                        problem = f"expected {BATCH_SIZE} {key}, got " + json.dumps(
                            {k: answer.get(k) for k in ("created", "duplicates", "conflicts", "rejected")}
                        )
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {exc}"
            mine.append(time.perf_counter() - t0)
            if problem:
                with lock:
                    errors.append(problem)
        session.close()
        with lock:
            latencies.extend(mine)

    seconds, foreign, (client, server) = _run_threads(list(zip(tokens, bodies)), till)
    sales = sum(len(b) for b in bodies) * BATCH_SIZE
    return PhaseResult(sales, seconds, latencies, errors, foreign, client / sales, server / sales)


def write_all(connect, plan: list[list[list[Sale]]]) -> PhaseResult:
    """One thread per writer, each with its own connection (made before timing), all starting together."""
    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()

    def writer(barrier, batches) -> None:
        try:
            write, close = connect()
        except Exception as exc:  # noqa: BLE001 - reported, and the figure is marked invalid
            with lock:
                errors.append(f"connect: {exc}")
            barrier.wait()
            return
        mine = []
        barrier.wait()
        try:
            for batch in batches:
                t0 = time.perf_counter()
                write(batch)
                mine.append(time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - reported, and the figure is marked invalid
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            close()
            with lock:
                latencies.extend(mine)

    seconds, foreign, (client, server) = _run_threads(plan, writer)
    sales = sum(len(b) for b in plan) * BATCH_SIZE
    return PhaseResult(sales, seconds, latencies, errors, foreign, client / sales, server / sales)


def run_rawlimit(sales: int, workdir: Path) -> PhaseResult:
    """tests/perf/rawlimit.py in a subprocess (its own figure: sales per second of its timed loop)."""
    scratch = Path(tempfile.mkdtemp(prefix="rawlimit-", dir=workdir))
    before, started = CPU.start(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(RAWLIMIT), str(sales)],
        capture_output=True,
        text=True,
        env={**os.environ, "RAW_DB": str(scratch / "raw.db")},
    )
    seconds = time.perf_counter() - started
    foreign = CPU.foreign_share(before, seconds)
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        rate = float(done.stdout.rsplit(":", 1)[1].split()[0])
    except (IndexError, ValueError):
        return PhaseResult(
            sales, seconds, errors=[f"rawlimit.py: {done.stdout[-300:]} {done.stderr[-500:]}"], foreign_cpu=foreign
        )
    return PhaseResult(sales, sales / rate, foreign_cpu=foreign)


# --------------------------------------------------------------------------- raw writers


@dataclass(frozen=True)
class RawTarget:
    """What a raw writer writes for its till, all read before timing (the writers look nothing up)."""

    product_ids: dict[str, int]
    device_id: int
    store_id: int  # the till's store: its orders and movements name it, and its stock_levels rows move
    default_store: bool  # products.stock_quantity mirrors the default store's stock, so only then is it updated
    has_content_hash: bool


def _sqlite_ts(moment: datetime) -> str:
    """The text SQLAlchemy stores for a UtcDateTime on SQLite (naive UTC)."""
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


# Products without a stock level in the writer's store. The product inserts a missing level (at zero)
# before moving it; the raw writers only update, so they check once, before timing, that none is missing.
_MISSING_LEVELS = (
    "SELECT COUNT(*) FROM products p WHERE NOT EXISTS "
    "(SELECT 1 FROM stock_levels l WHERE l.store_id = ? AND l.product_id = p.id)"
)


def _check_levels(missing: int, store_id: int) -> None:
    if missing:
        raise RuntimeError(f"{missing} products have no stock level in store {store_id}: raw updates would be lost")


# The stock invariant after seeding and after writing: each (store, product) level is its opening
# quantity plus that store's movements of the product, and products.stock_quantity is the default
# store's level. Each query counts the rows that break it.
STOCK_CHECKS = {
    "levels not equal to opening + movements": (
        "SELECT COUNT(*) FROM stock_levels l WHERE l.quantity <> l.opening_quantity + COALESCE("
        "(SELECT SUM(m.quantity_delta) FROM stock_movements m "
        "WHERE m.store_id = l.store_id AND m.product_id = l.product_id), 0)"
    ),
    "movements without a stock level": (
        "SELECT COUNT(*) FROM (SELECT DISTINCT store_id, product_id FROM stock_movements) m "
        "WHERE NOT EXISTS (SELECT 1 FROM stock_levels l WHERE l.store_id = m.store_id AND l.product_id = m.product_id)"
    ),
    "products not mirroring the default store": (
        "SELECT COUNT(*) FROM products p JOIN stock_levels l ON l.product_id = p.id "
        "JOIN stores s ON s.id = l.store_id AND s.is_default WHERE p.stock_quantity <> l.quantity"
    ),
}


def stock_problems(backend, url: str) -> list[str]:
    """The broken parts of the stock invariant (see STOCK_CHECKS), empty when it holds."""
    found = []
    for name, sql in STOCK_CHECKS.items():
        count = backend.query(url, sql)[0][0]
        if count:
            found.append(f"stock: {count:,} {name}")
    return found


class SqliteRawWriter:
    """Plain sqlite3 on the app's engine settings (database.SQLITE_PRAGMAS: WAL, synchronous=FULL,
    foreign keys on, its page cache and checkpoint backstop), BEGIN IMMEDIATE, one transaction per
    batch, and a passive checkpoint every CHECKPOINT_EVERY batches like the app's writers."""

    def __init__(self, path: Path, target: RawTarget):
        self.path, self.target = path, target

    def connect(self):
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        for pragma in SQLITE_PRAGMAS:
            conn.execute(pragma)
        batches = itertools.count(1)
        cur = conn.cursor()
        target = self.target
        product_ids, device_id, store_id = target.product_ids, target.device_id, target.store_id
        hashes = target.has_content_hash
        _check_levels(conn.execute(_MISSING_LEVELS, (store_id,)).fetchone()[0], store_id)
        insert_order = (
            "INSERT INTO orders (offline_id, receipt_number, invoice_number, device_id, store_id, created_at, "
            "received_at, cashier, total, status, fingerprint, receipt_number_collision, sync_id"
            + (", content_hash" if hashes else "")
            + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'completed', ?, 0, NULL"
            + (", ?" if hashes else "")
            + ")"
        )

        def write(batch: list[Sale]) -> None:
            now = _sqlite_ts(datetime.now(UTC))
            movements, payments, sold = [], [], {}
            cur.execute("BEGIN IMMEDIATE")
            for sale in batch:
                row = (
                    sale.offline_id,
                    sale.receipt_number,
                    sale.receipt_number,
                    device_id,
                    store_id,
                    _sqlite_ts(sale.created_at),
                    now,
                    sale.cashier,
                    float(sale.total),
                    sale.fingerprint,
                )
                cur.execute(insert_order, row + ((sale_content_hash(device_id, sale),) if hashes else ()))
                order_id = cur.lastrowid
                for line_no, line in enumerate(sale.lines, start=1):
                    product_id = product_ids[line.sku]
                    cur.execute(
                        "INSERT INTO order_lines (order_id, line_no, product_id, sku, quantity, unit_price, status) "
                        "VALUES (?, ?, ?, ?, ?, ?, 'completed')",
                        (order_id, line_no, product_id, line.sku, float(line.quantity), float(line.unit_price)),
                    )
                    movements.append((product_id, store_id, cur.lastrowid, -float(line.quantity), now))
                    sold[product_id] = sold.get(product_id, 0) + float(line.quantity)
                payments += [(order_id, p.method, float(p.amount)) for p in sale.payments]
            cur.executemany(
                "INSERT INTO stock_movements (product_id, store_id, order_line_id, quantity_delta, kind, "
                "created_at) VALUES (?, ?, ?, ?, 'sale', ?)",
                movements,
            )
            cur.executemany("INSERT INTO payments (order_id, method, amount) VALUES (?, ?, ?)", payments)
            # Like stock_ledger.move_stock: the store's levels in (store, product) order, then the
            # products mirror when the store is the default one.
            cur.executemany(
                "UPDATE stock_levels SET quantity = quantity - ? WHERE store_id = ? AND product_id = ?",
                [(sold[pid], store_id, pid) for pid in sorted(sold)],
            )
            if target.default_store:
                cur.executemany(
                    "UPDATE products SET stock_quantity = stock_quantity - ? WHERE id = ?",
                    [(sold[pid], pid) for pid in sorted(sold)],
                )
            cur.execute("COMMIT")
            if not next(batches) % CHECKPOINT_EVERY:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

        return write, conn.close


class PostgresRawWriter:
    """Plain psycopg 3: multi-row INSERT ... RETURNING, executemany; one transaction per batch."""

    def __init__(self, conninfo: str, target: RawTarget):
        self.conninfo, self.target = conninfo, target

    def connect(self):
        conn = psycopg.connect(self.conninfo)
        cur = conn.cursor()
        target = self.target
        product_ids, device_id, store_id = target.product_ids, target.device_id, target.store_id
        hashes = target.has_content_hash
        _check_levels(conn.execute(_MISSING_LEVELS.replace("?", "%s"), (store_id,)).fetchone()[0], store_id)
        conn.commit()

        def values(rows: int, cols: int, constants: str = "") -> str:
            one = "(" + ", ".join(["%s"] * cols + ([constants] if constants else [])) + ")"
            return ", ".join([one] * rows)

        def write(batch: list[Sale]) -> None:
            now = datetime.now(UTC)
            params = []
            for sale in batch:
                params += [
                    sale.offline_id,
                    sale.receipt_number,
                    sale.receipt_number,
                    device_id,
                    store_id,
                    sale.created_at,
                    now,
                    sale.cashier,
                    sale.total,
                    sale.fingerprint,
                ]
                if hashes:
                    params.append(sale_content_hash(device_id, sale))
            cur.execute(
                "INSERT INTO orders (offline_id, receipt_number, invoice_number, device_id, store_id, created_at, "
                "received_at, cashier, total, fingerprint, "
                + ("content_hash, " if hashes else "")
                + "status, receipt_number_collision) VALUES "
                + values(len(batch), 11 if hashes else 10, "'completed', false")
                + " RETURNING offline_id, id",
                params,
            )
            order_ids = dict(cur.fetchall())
            line_params, line_keys, payments, sold = [], [], [], {}
            for sale in batch:
                order_id = order_ids[sale.offline_id]
                for line_no, line in enumerate(sale.lines, start=1):
                    product_id = product_ids[line.sku]
                    line_params += [order_id, line_no, product_id, line.sku, line.quantity, line.unit_price]
                    line_keys.append((product_id, line.quantity))
                    sold[product_id] = sold.get(product_id, 0) + line.quantity
                for payment in sale.payments:
                    payments += [order_id, payment.method, payment.amount]
            cur.execute(
                "INSERT INTO order_lines (order_id, line_no, product_id, sku, quantity, unit_price, status) VALUES "
                + values(len(line_keys), 6, "'completed'")
                + " RETURNING id",
                line_params,
            )
            line_ids = [row[0] for row in cur.fetchall()]
            movement_params = []
            for (product_id, quantity), line_id in zip(line_keys, line_ids):
                movement_params += [product_id, store_id, line_id, -quantity, now]
            cur.execute(
                "INSERT INTO stock_movements (product_id, store_id, order_line_id, quantity_delta, created_at, kind) "
                "VALUES " + values(len(line_ids), 5, "'sale'"),
                movement_params,
            )
            cur.execute(
                "INSERT INTO payments (order_id, method, amount) VALUES " + values(len(payments) // 3, 3), payments
            )
            # Like stock_ledger.move_stock: the store's levels in (store, product) order, so concurrent
            # writers cannot deadlock, then the products mirror when the store is the default one.
            cur.executemany(
                "UPDATE stock_levels SET quantity = quantity - %s WHERE store_id = %s AND product_id = %s",
                [(sold[pid], store_id, pid) for pid in sorted(sold)],
            )
            if target.default_store:
                cur.executemany(
                    "UPDATE products SET stock_quantity = stock_quantity - %s WHERE id = %s",
                    [(sold[pid], pid) for pid in sorted(sold)],
                )
            conn.commit()

        return write, conn.close


# --------------------------------------------------------------------------- backends

# The tables a stored sale writes to, whose secondary indexes the index-cost figure leaves out.
SALE_TABLES = "('orders', 'order_lines', 'stock_movements', 'payments')"


# After seeding (inside its transaction): every store's level of a product is its opening quantity
# plus that store's movements of it, and products.stock_quantity mirrors the default store's level.
SEED_STOCK = (
    "UPDATE stock_levels SET quantity = opening_quantity + COALESCE((SELECT SUM(m.quantity_delta) "
    "FROM stock_movements m WHERE m.store_id = stock_levels.store_id AND m.product_id = stock_levels.product_id), 0)",
    "UPDATE products SET stock_quantity = (SELECT l.quantity FROM stock_levels l JOIN stores s ON s.id = l.store_id "
    "WHERE s.is_default AND l.product_id = products.id) "
    "WHERE EXISTS (SELECT 1 FROM stock_levels l JOIN stores s ON s.id = l.store_id "
    "WHERE s.is_default AND l.product_id = products.id)",
)


class SqliteBackend:
    name = "sqlite"

    def __init__(self, workdir: Path):
        self.dir = workdir / "sqlite"
        self.dir.mkdir()
        self.template = self.dir / "template.db"
        migrate(f"sqlite:///{self.template}", self.dir)

    def version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    @staticmethod
    def path(url: str) -> Path:
        return Path(url.removeprefix("sqlite:///"))

    def create(self, label: str) -> str:
        path = self.dir / f"{label}.db"
        shutil.copy(self.template, path)
        return f"sqlite:///{path}"

    def clone(self, url: str, label: str) -> str:
        self.checkpoint(url)
        path = self.dir / f"{label}.db"
        shutil.copy(self.path(url), path)
        return f"sqlite:///{path}"

    def checkpoint(self, url: str) -> None:
        conn = sqlite3.connect(self.path(url))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()

    def columns(self, url: str, table: str) -> set[str]:
        return {row[1] for row in self.query(url, f"PRAGMA table_info({table})")}

    def query(self, url: str, sql: str):
        conn = sqlite3.connect(self.path(url))
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def drop_secondary_indexes(self, url: str) -> list[str]:
        """Drop the non-unique ix_* indexes of the sale tables; their names."""
        conn = sqlite3.connect(self.path(url))
        try:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix\\_%' ESCAPE '\\' "
                    f"AND tbl_name IN {SALE_TABLES}"
                )
            ]
            for name in names:
                conn.execute(f'DROP INDEX "{name}"')
            conn.commit()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return names
        finally:
            conn.close()

    def drop(self, url: str) -> None:
        path = self.path(url)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)

    def raw_writer(self, url, target: RawTarget) -> SqliteRawWriter:
        return SqliteRawWriter(self.path(url), target)

    def seed(self, url: str, count: int) -> None:
        """`count` orders, each with one line, one sale movement and one payment, in a few set-based INSERTs."""
        hashes = "content_hash" in self.columns(url, "orders")
        conn = sqlite3.connect(self.path(url), isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA cache_size=-2000000")
            conn.execute("PRAGMA temp_store=MEMORY")
            assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
            if count:
                conn.execute("BEGIN")
                conn.execute("CREATE TEMP TABLE seed_products (k INTEGER PRIMARY KEY, id, sku, price)")
                conn.execute(
                    "INSERT INTO seed_products SELECT row_number() OVER (ORDER BY id) - 1, id, sku, price FROM products"
                )
                conn.execute("CREATE TEMP TABLE seed_devices (k INTEGER PRIMARY KEY, id, store_id)")
                conn.execute(
                    "INSERT INTO seed_devices SELECT row_number() OVER (ORDER BY id) - 1, id, store_id FROM devices"
                )
                args = {
                    "n": count,
                    "np": conn.execute("SELECT COUNT(*) FROM seed_products").fetchone()[0],
                    "nd": conn.execute("SELECT COUNT(*) FROM seed_devices").fetchone()[0],
                }
                series = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < :n) "
                joins = " FROM c JOIN seed_products p ON p.k = c.i % :np JOIN seed_devices d ON d.k = c.i % :nd"
                stamp = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (c.i % 525600) || ' minutes') || '000'"
                # A random, uuid-shaped offline_id (version 4 layout), like the ones tills send.
                uuid_text = (
                    "substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-a' || "
                    "substr(h, 18, 3) || '-' || substr(h, 21, 12)"
                )
                # Each order is its till's store's, and so is its movement.
                conn.execute(
                    "INSERT INTO orders (id, offline_id, receipt_number, invoice_number, device_id, store_id, "
                    "created_at, received_at, cashier, total, status, fingerprint, receipt_number_collision, sync_id"
                    + (", content_hash" if hashes else "")
                    + ") "
                    f"{series} SELECT i, {uuid_text}, rn, rn, device_id, store_id, created_at, created_at, 'Seed', "
                    "total, 'completed', fp, 0, NULL" + (", ch" if hashes else "") + " FROM ("
                    "SELECT c.i AS i, lower(hex(randomblob(16))) AS h, 'SEED-' || printf('%08d', c.i) AS rn, "
                    f"d.id AS device_id, d.store_id AS store_id, {stamp} AS created_at, "
                    "round(p.price * (1 + c.i % 3), 2) AS total, "
                    f"lower(hex(randomblob(32))) AS fp, lower(hex(randomblob(32))) AS ch {joins})",
                    args,
                )
                conn.execute(
                    "INSERT INTO order_lines (id, order_id, line_no, product_id, sku, quantity, unit_price, status) "
                    f"{series} SELECT c.i, c.i, 1, p.id, p.sku, 1 + c.i % 3, p.price, 'completed' {joins}",
                    args,
                )
                conn.execute(
                    "INSERT INTO stock_movements (id, product_id, store_id, order_line_id, quantity_delta, kind, "
                    f"created_at) {series} SELECT c.i, p.id, d.store_id, c.i, -(1 + c.i % 3), 'sale', {stamp} {joins}",
                    args,
                )
                conn.execute(
                    "INSERT INTO payments (id, order_id, method, amount) "
                    f"{series} SELECT c.i, c.i, 'cash', round(p.price * (1 + c.i % 3), 2) {joins}",
                    args,
                )
                conn.execute(
                    "INSERT OR IGNORE INTO stock_levels (store_id, product_id, opening_quantity, quantity) "
                    "SELECT DISTINCT store_id, product_id, 0, 0 FROM stock_movements"
                )
                for sql in SEED_STOCK:
                    conn.execute(sql)
                conn.execute("COMMIT")
            conn.execute("ANALYZE")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()

    def own_pids(self) -> list[int]:
        return []

    def close(self) -> None:
        pass


class PostgresBackend:
    name = "postgres"

    def __init__(self, workdir: Path):
        self.server = PostgresServer().start()
        self._admin(["CREATE DATABASE bench_template"])
        migrate(self.server.url("bench_template"), workdir)

    def _conninfo(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.server.port} user=postgres dbname={database}"

    def _admin(self, statements: list[str], database: str = "postgres"):
        with psycopg.connect(self._conninfo(database), autocommit=True) as conn:
            result = None
            for statement in statements:
                result = conn.execute(statement)
            return result.fetchall() if result is not None and result.description else None

    def version(self) -> str:
        return (
            "PostgreSQL "
            + self._admin(["SHOW server_version"])[0][0]
            + f" (shared_buffers {self._admin(['SHOW shared_buffers'])[0][0]}, fsync on)"
        )

    @staticmethod
    def dbname(url: str) -> str:
        return url.rsplit("/", 1)[1]

    def create(self, label: str) -> str:
        self._admin([f'CREATE DATABASE "{label}" TEMPLATE bench_template STRATEGY FILE_COPY'])
        return self.server.url(label)

    def clone(self, url: str, label: str) -> str:
        self._admin([f'CREATE DATABASE "{label}" TEMPLATE "{self.dbname(url)}" STRATEGY FILE_COPY'])
        return self.server.url(label)

    def checkpoint(self, url: str) -> None:
        self._admin(["CHECKPOINT"])

    def columns(self, url: str, table: str) -> set[str]:
        return {
            row[0]
            for row in self.query(
                url, f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'"
            )
        }

    def query(self, url: str, sql: str):
        with psycopg.connect(self._conninfo(self.dbname(url))) as conn:
            return conn.execute(sql).fetchall()

    def drop_secondary_indexes(self, url: str) -> list[str]:
        """Drop the non-unique ix_* indexes of the sale tables; their names."""
        names = [
            row[0]
            for row in self.query(
                url, f"SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix\\_%' AND tablename IN {SALE_TABLES}"
            )
        ]
        with psycopg.connect(self._conninfo(self.dbname(url)), autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP INDEX "{name}"')
        return names

    def drop(self, url: str) -> None:
        self._admin([f'DROP DATABASE IF EXISTS "{self.dbname(url)}" WITH (FORCE)'])

    def raw_writer(self, url, target: RawTarget) -> PostgresRawWriter:
        return PostgresRawWriter(self._conninfo(self.dbname(url)), target)

    def seed(self, url: str, count: int) -> None:
        """`count` orders, each with one line, one sale movement and one payment, from generate_series."""
        name = self.dbname(url)
        hashes = "content_hash" in self.columns(url, "orders")
        with psycopg.connect(self._conninfo(name)) as conn:
            assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
            if count:
                conn.execute("SET synchronous_commit = off")
                conn.execute(
                    "CREATE TEMP TABLE seed_products AS SELECT "
                    "(row_number() OVER (ORDER BY id) - 1)::int AS k, id, sku, price FROM products"
                )
                conn.execute(
                    "CREATE TEMP TABLE seed_devices AS SELECT "
                    "(row_number() OVER (ORDER BY id) - 1)::int AS k, id, store_id FROM devices"
                )
                n_products = conn.execute("SELECT COUNT(*) FROM seed_products").fetchone()[0]
                n_devices = conn.execute("SELECT COUNT(*) FROM seed_devices").fetchone()[0]
                src = (
                    f" FROM generate_series(1, {int(count)}) AS c(i) "
                    f"JOIN seed_products p ON p.k = c.i % {n_products} "
                    f"JOIN seed_devices d ON d.k = c.i % {n_devices}"
                )
                stamp = "now() - (c.i % 525600) * interval '1 minute'"
                # Each order is its till's store's, and so is its movement.
                conn.execute(
                    "INSERT INTO orders (id, offline_id, receipt_number, invoice_number, device_id, store_id, "
                    "created_at, received_at, cashier, total, status, fingerprint, receipt_number_collision, sync_id"
                    + (", content_hash" if hashes else "")
                    + ") "
                    "SELECT c.i, gen_random_uuid()::text, 'SEED-' || lpad(c.i::text, 8, '0'), "
                    f"'SEED-' || lpad(c.i::text, 8, '0'), d.id, d.store_id, {stamp}, {stamp}, 'Seed', "
                    "p.price * (1 + c.i % 3), 'completed', md5(c.i::text) || md5((-c.i)::text), false, NULL"
                    + (", md5('h' || c.i) || md5('H' || c.i)" if hashes else "")
                    + src
                )
                conn.execute(
                    "INSERT INTO order_lines (id, order_id, line_no, product_id, sku, quantity, unit_price, status) "
                    "SELECT c.i, c.i, 1, p.id, p.sku, 1 + c.i % 3, p.price, 'completed'" + src
                )
                conn.execute(
                    "INSERT INTO stock_movements (id, product_id, store_id, order_line_id, quantity_delta, kind, "
                    f"created_at) SELECT c.i, p.id, d.store_id, c.i, -(1 + c.i % 3), 'sale', {stamp}" + src
                )
                conn.execute(
                    "INSERT INTO payments (id, order_id, method, amount) "
                    "SELECT c.i, c.i, 'cash', p.price * (1 + c.i % 3)" + src
                )
                for table in ("orders", "order_lines", "stock_movements", "payments"):
                    conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                    )
                conn.execute(
                    "INSERT INTO stock_levels (store_id, product_id, opening_quantity, quantity) "
                    "SELECT DISTINCT store_id, product_id, 0, 0 FROM stock_movements ON CONFLICT DO NOTHING"
                )
                for sql in SEED_STOCK:
                    conn.execute(sql)
                conn.commit()
        if count:
            # Not on empty tables: statistics of an empty table make PostgreSQL plan each session's
            # foreign-key checks as sequential scans and keep those plans, so every insert into
            # stock_movements and order_lines then reads the whole parent table (the single raw
            # writer fell to 291 sales/s, its batches slower with every one stored). A new
            # database has no statistics until autovacuum analyzes tables that hold rows.
            self._admin(["VACUUM ANALYZE"], name)
        self._admin(["CHECKPOINT"])

    def own_pids(self) -> list[int]:
        try:
            return [int((self.server.data / "postmaster.pid").read_text().split()[0])]
        except (OSError, ValueError, IndexError):
            return []

    def close(self) -> None:
        self.server.stop()


# --------------------------------------------------------------------------- one scenario


@dataclass
class ScenarioResult:
    backend: str
    stored: int
    seed_seconds: float
    ingest: list[PhaseResult] = field(default_factory=list)
    replay: list[PhaseResult] = field(default_factory=list)
    raw_single: list[PhaseResult] = field(default_factory=list)
    raw_multi: list[PhaseResult] = field(default_factory=list)
    raw_no_index: list[PhaseResult] = field(default_factory=list)  # 1 writer, secondary indexes dropped
    minimal: list[PhaseResult] = field(default_factory=list)  # rawlimit.py
    dropped_indexes: list[str] = field(default_factory=list)

    @staticmethod
    def best(phases: list[PhaseResult]) -> PhaseResult:
        return max(phases, key=lambda p: p.rate)

    @property
    def raw_limit(self) -> PhaseResult:
        return self.best(self.raw_single + self.raw_multi)

    def phases(self):
        return self.ingest + self.replay + self.raw_single + self.raw_multi + self.raw_no_index + self.minimal

    @property
    def valid(self) -> bool:
        return not any(phase.errors for phase in self.phases())


def run_scenario(backend, stored: int, args, redis_url: str, workdir: Path) -> ScenarioResult:
    """Build one database with `stored` orders, then measure raw writes, ingest and replay on copies of it."""
    made: list[str] = []
    try:
        return _measure(backend, made, f"bench_{backend.name}_{stored}", stored, args, redis_url, workdir)
    finally:
        for url in made:
            try:
                backend.drop(url)
            except Exception as exc:  # noqa: BLE001 - keep cleaning
                print(f"clean-up of {url}: {exc}", file=sys.stderr)


def _measure(backend, made: list[str], label: str, stored: int, args, redis_url: str, workdir: Path):
    seed_url = backend.create(label)
    made.append(seed_url)
    # Devices and catalogue first (with the project's own domain functions), then the stored orders.
    app_dir = Path(tempfile.mkdtemp(prefix="app-", dir=workdir))
    app = make_app(seed_url, redis_url, app_dir)
    with app.app_context():
        tokens = [add_device(f"B{t + 1:02d}") for t in range(args.tills)]
        import_products(demo_catalog_rows())
        db.session.remove()
        db.engine.dispose()
    shutil.rmtree(app_dir, ignore_errors=True)
    products = [
        (sku, Decimal(str(price)).quantize(Decimal("0.01")))
        for sku, price in backend.query(seed_url, "SELECT sku, price FROM products ORDER BY id")
    ]
    product_ids = dict(backend.query(seed_url, "SELECT sku, id FROM products"))
    device_id, store_id, default_store = backend.query(
        seed_url,
        "SELECT d.id, d.store_id, s.is_default FROM devices d JOIN stores s ON s.id = d.store_id "
        "WHERE d.id = (SELECT MIN(id) FROM devices)",
    )[0]
    target = RawTarget(
        product_ids, device_id, store_id, bool(default_store), "content_hash" in backend.columns(seed_url, "orders")
    )

    log(f"{backend.name}: seeding {stored:,} stored orders ...")
    t0 = time.perf_counter()
    backend.seed(seed_url, stored)
    result = ScenarioResult(backend.name, stored, time.perf_counter() - t0)
    have = backend.query(seed_url, "SELECT COUNT(*) FROM orders")[0][0]
    assert have == stored, (have, stored)
    log(f"{backend.name}: {have:,} orders stored, in {result.seed_seconds:.1f} s")
    problems = stock_problems(backend, seed_url)
    assert not problems, problems

    work = build_workload(
        products, args.tills, args.batches, seed=args.seed + stored, times=args.sale_times, offline_ids=args.offline_ids
    )
    tag = f"{backend.name}/{stored:,}"

    def quiet() -> None:
        waited = CPU.wait_quiet(args.quiet_wait)
        if waited > 2.5:
            log(f"  (waited {waited:.0f} s for other processes to leave the CPU)")

    for rep in range(1, args.repeat + 1):
        # 3. the physical limit, into a fresh copy of the seeded database
        raw_url = backend.clone(seed_url, f"{label}_raw{rep}")
        made.append(raw_url)
        backend.checkpoint(raw_url)
        writer = backend.raw_writer(raw_url, target)
        quiet()
        result.raw_single.append(write_all(writer.connect, work.raw_single))
        log(f"{tag} run {rep}: raw, 1 writer     {result.raw_single[-1].describe()}")
        quiet()
        result.raw_multi.append(write_all(writer.connect, work.raw_multi))
        log(f"{tag} run {rep}: raw, {args.tills} writers    {result.raw_multi[-1].describe()}")
        # The raw writers must have moved stock the way the product does, or they measured other work.
        result.raw_multi[-1].errors += stock_problems(backend, raw_url)
        backend.drop(raw_url)
        made.remove(raw_url)

        # 5. the same single-writer raw writes without the secondary indexes: their write cost
        bare_url = backend.clone(seed_url, f"{label}_bare{rep}")
        made.append(bare_url)
        result.dropped_indexes = backend.drop_secondary_indexes(bare_url)
        backend.checkpoint(bare_url)
        bare = backend.raw_writer(bare_url, target)
        quiet()
        result.raw_no_index.append(write_all(bare.connect, work.raw_single))
        log(f"{tag} run {rep}: raw, no ix_*     {result.raw_no_index[-1].describe()}")
        backend.drop(bare_url)
        made.remove(bare_url)

        # 4. the minimal physical limit (its own scratch SQLite file), side by side with the rest
        quiet()
        result.minimal.append(run_rawlimit(work.sales, workdir))
        log(f"{tag} run {rep}: rawlimit.py     {result.minimal[-1].describe()}")

        # 1 and 2: through a real gunicorn, on another fresh copy
        app_url = backend.clone(seed_url, f"{label}_app{rep}")
        made.append(app_url)
        backend.checkpoint(app_url)
        server = GunicornServer(app_url, redis_url, workers=args.workers, timeout=600, SYNC_RATE_LIMIT_PER_MINUTE="0")
        try:
            server.start()
            warm = send_all(server.url, tokens, work.warmup, "created")
            warm_replay = send_all(server.url, tokens, work.warmup, "duplicate")
            if warm.errors or warm_replay.errors:
                raise RuntimeError(f"warm-up failed: {(warm.errors + warm_replay.errors)[:3]}\n{server.log()}")
            quiet()
            result.ingest.append(send_all(server.url, tokens, work.bodies, "created"))
            log(f"{tag} run {rep}: ingest HTTP     {result.ingest[-1].describe()}")
            quiet()
            result.replay.append(send_all(server.url, tokens, work.bodies, "duplicate"))
            log(f"{tag} run {rep}: replay HTTP     {result.replay[-1].describe()}")
            if result.ingest[-1].errors or result.replay[-1].errors:
                log("gunicorn log tail:\n" + server.log()[-3000:])
        finally:
            server.stop()
            server.log_path.unlink(missing_ok=True)
            shutil.rmtree(server.instance, ignore_errors=True)
        expected = stored + work.sales + sum(len(b) for b in work.warmup) * BATCH_SIZE
        have = backend.query(app_url, "SELECT COUNT(*) FROM orders")[0][0]
        if have != expected:
            result.ingest[-1].errors.append(f"orders stored: {have:,}, expected {expected:,}")
        result.ingest[-1].errors += stock_problems(backend, app_url)
        backend.drop(app_url)
        made.remove(app_url)
    return result


# --------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


def report(results: list[ScenarioResult], args, versions: list[str], total_seconds: float) -> bool:
    width = 150
    print()
    print("=" * width)
    print(
        f"POST /api/v1/sync throughput: gunicorn {args.workers} workers, {args.tills} tills sending at once, "
        f"{args.batches} batches of {BATCH_SIZE} sales x {LINES_PER_SALE} lines per till "
        f"= {args.tills * args.batches * BATCH_SIZE:,} sales per figure; best of {args.repeat} run(s); "
        f"sale times: {args.sale_times}; offline_ids: {args.offline_ids}"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, load average now {', '.join(f'{x:.2f}' for x in os.getloadavg())}, "
        f"Python {sys.version.split()[0]}; " + "; ".join(versions)
    )
    print(
        f"raw = plain driver into the product's own schema, one transaction per {BATCH_SIZE} sales; raw lim = best "
        f"of 1 writer and {args.tills} writers; no-ix = 1 writer without the ix_* indexes of the sale tables; "
        f"minimal = tests/perf/rawlimit.py (contract's minimal schema, plain sqlite3, same run). "
        f"'*' = other processes used > {NOISY:.0%} of the machine's CPU during that figure"
    )
    print("-" * width)
    print(
        f"{'backend':<9} {'stored':>10} {'ingest/s':>10} {'replay/s':>10} {'raw 1w/s':>10} {'raw Nw/s':>10} "
        f"{'no-ix/s':>10} {'minimal/s':>10} {'ingest/raw':>15} {'replay/raw':>15} "
        f"{'ingest/min':>15} {'replay/min':>15} {'ingest vs 0 stored':>19}"
    )
    print("-" * width)
    goals_met = True

    def fig(phase: PhaseResult | None) -> str:
        if phase is None:
            return "-"
        return f"{phase.rate:,.0f}" + ("*" if phase.foreign_cpu > NOISY else " ")

    for r in results:
        ingest, replay, raw = r.best(r.ingest), r.best(r.replay), r.raw_limit
        minimal = r.best(r.minimal) if r.minimal else None
        ir, rr = ingest.rate / raw.rate, replay.rate / raw.rate
        base = next((b for b in results if b.backend == r.backend and b.stored == 0), None)
        if base is not None and r.stored > 0:
            slowdown = 1 - ingest.rate / base.best(base.ingest).rate
            ok = slowdown <= GOAL_MAX_SLOWDOWN
            goals_met &= ok
            slow_text = f"{slowdown:+7.1%} slower {verdict(ok)}"
        else:
            slow_text = "-"
        ok_i, ok_r = ir >= GOAL_INGEST_RATIO, rr >= GOAL_REPLAY_RATIO
        goals_met &= ok_i and ok_r and r.valid
        if minimal is not None and minimal.rate:
            im, rm = ingest.rate / minimal.rate, replay.rate / minimal.rate
            # The minimal limit is a SQLite figure: the goals against it are SQLite's; PostgreSQL's is shown beside.
            ok_im, ok_rm = im >= GOAL_INGEST_MINIMAL, rm >= GOAL_REPLAY_MINIMAL
            if r.backend == "sqlite":
                goals_met &= ok_im and ok_rm
                min_text = f"{im:>9.3f} {verdict(ok_im):>5} {rm:>9.3f} {verdict(ok_rm):>5}"
            else:
                min_text = f"{im:>9.3f} {'info':>5} {rm:>9.3f} {'info':>5}"
        else:
            min_text = f"{'-':>15} {'-':>15}"
        print(
            f"{r.backend:<9} {r.stored:>10,} {fig(ingest):>10} {fig(replay):>10} "
            f"{fig(r.best(r.raw_single)):>10} {fig(r.best(r.raw_multi)):>10} "
            f"{fig(r.best(r.raw_no_index) if r.raw_no_index else None):>10} {fig(minimal):>10} "
            f"{ir:>9.3f} {verdict(ok_i):>5} {rr:>9.3f} {verdict(ok_r):>5} {min_text} {slow_text:>19}"
            + ("" if r.valid else "  INVALID (errors, see below)")
        )
    print("-" * width)
    print(
        f"goals: ingest/raw >= {GOAL_INGEST_RATIO}, replay/raw >= {GOAL_REPLAY_RATIO}; SQLite ingest/minimal >= "
        f"{GOAL_INGEST_MINIMAL}, replay/minimal >= {GOAL_REPLAY_MINIMAL}; ingest with stored orders at most "
        f"{GOAL_MAX_SLOWDOWN:.0%} slower than with 0 (a negative slowdown is a speed-up)"
    )
    print()
    print("index write cost (1 writer into the product's schema, with and without the secondary indexes):")
    for r in results:
        if r.raw_no_index:
            with_ix, without = r.best(r.raw_single).rate, r.best(r.raw_no_index).rate
            print(
                f"  {r.backend}, {r.stored:,} stored: {with_ix:,.0f} vs {without:,.0f} sales/s without "
                f"{', '.join(r.dropped_indexes) or 'none'}: the indexes cost {1 - with_ix / without:.1%} "
                "of the raw write rate"
            )
    print()
    for r in results:
        print(f"{r.backend}, {r.stored:,} stored orders (seeded in {r.seed_seconds:.1f} s):")
        for name, phases in (
            ("ingest", r.ingest),
            ("replay", r.replay),
            ("raw 1 writer", r.raw_single),
            (f"raw {args.tills} writers", r.raw_multi),
            ("raw no ix_*", r.raw_no_index),
            ("rawlimit.py", r.minimal),
        ):
            for rep, phase in enumerate(phases, start=1):
                print(f"  {name:<14} run {rep}: {phase.describe()}")
    print()
    print(f"overall: {'all goals met' if goals_met else 'some goals MISSED'}; the run took {total_seconds:.0f} s")
    return goals_met


# --------------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tests.perf.bench_sync",
        description="Sync throughput vs the raw write limit (see tests/perf/README.md)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 5 batches per till, 1 run, 20,000 stored orders instead of 1,000,000",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--stored", help="comma-separated counts of orders already stored (default 0,1000000; with --quick 0,20000)"
    )
    parser.add_argument("--batches", type=int, help="batches of 100 sales per till (default 50; --quick 5)")
    parser.add_argument(
        "--repeat", type=int, help="runs per figure, each on fresh copies; the best counts (default 3; --quick 1)"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="before each measurement, wait up to this many seconds "
        "for other processes to leave the CPU (default 20; --quick 0)",
    )
    parser.add_argument("--tills", type=int, default=4, help="tills sending at once, one thread each (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--seed", type=int, default=20261125, help="random seed of the workload")
    parser.add_argument(
        "--sale-times",
        choices=SALE_TIMES,
        default=SALE_TIMES[0],
        help="when the sales were made: each till's in the order it made them (default, as outboxes send "
        "them), or any moment of the last hour (the workload of the figures before 2026-11-30)",
    )
    parser.add_argument(
        "--offline-ids",
        choices=OFFLINE_IDS,
        default=OFFLINE_IDS[0],
        help="the tills' offline_ids: random UUIDs (v4, default) or time-ordered ones (v7)",
    )
    args = parser.parse_args(argv)
    if args.stored is None:
        args.stored = "0,20000" if args.quick else "0,1000000"
    args.stored = [int(x.replace("_", "")) for x in args.stored.split(",") if x.strip()]
    if args.batches is None:
        args.batches = 5 if args.quick else 50
    if args.quiet_wait is None:
        args.quiet_wait = 0 if args.quick else 20
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    # SIGTERM (a CI time-out, kill) still runs the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="tillsync-bench-"))
    backends = []
    results: list[ScenarioResult] = []
    versions: list[str] = []
    redis = None
    try:
        redis = RedisServer()
        for name in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
            log(f"{name}: building the schema with the project's migrations ...")
            backend = SqliteBackend(workdir) if name == "sqlite" else PostgresBackend(workdir)
            backends.append(backend)
            CPU.roots = [os.getpid(), *backend.own_pids()]
            versions.append(backend.version())
            for stored in args.stored:
                results.append(run_scenario(backend, stored, args, redis.url, workdir))
            backends.remove(backend)
            backend.close()
        report(results, args, versions, time.perf_counter() - started)
        return 0 if all(r.valid for r in results) else 1
    finally:
        for backend in backends:
            try:
                backend.close()
            except Exception as exc:  # noqa: BLE001 - keep cleaning
                print(f"clean-up: {exc}", file=sys.stderr)
        if redis is not None:
            redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
