"""Fix jobs under faults: a large legacy book full of duplicates, a real RQ worker process, and the
state of the database before and after a fix, for the fault tests and the full fault run.

The apply job must be all or nothing (one transaction): after a killed worker or a restarted Redis,
either no trace of the fix is in the database, or all of it, exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text

from .gunicorn import REPO
from .sales import CATALOG

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
SKUS = sorted(CATALOG)
# Pair kinds of the generated book, in turn: each is found by the scan as one certain group.
PAIR_KINDS = ("same_offline_id", "same_invoice_same_content", "duplicate_movements")


@dataclass
class LegacyBook:
    """What the generated file holds, and the stock each product must show before and after the fix."""

    path: Path
    pairs: int
    groups: dict[str, int]  # kind -> number of groups
    orders: int  # orders imported
    orders_voided: int  # orders a full fix voids
    compensations: int  # compensating movements a full fix books
    sold_once: dict[str, Decimal]  # sku -> units sold, each real sale counted once
    sold_as_imported: dict[str, Decimal]  # sku -> units the old system moved (duplicates included)


def write_big_legacy_book(path: Path, pairs: int) -> LegacyBook:
    """A JSONL legacy book with `pairs` duplicates, one line each, kinds in turn (PAIR_KINDS).

    Every record is 10 minutes from the others of its device, so no unintended 'suspected double
    entry' is found; every sale has one line of one unit or two of one product.
    """
    groups = {kind: 0 for kind in PAIR_KINDS}
    once: dict[str, Decimal] = defaultdict(Decimal)
    imported: dict[str, Decimal] = defaultdict(Decimal)
    orders = voided = compensations = 0
    with path.open("w") as out:
        for i in range(pairs):
            kind = PAIR_KINDS[i % len(PAIR_KINDS)]
            sku = SKUS[i % len(SKUS)]
            quantity = Decimal(1 + i % 2)
            price = CATALOG[sku][1]
            line = {"sku": sku, "quantity": str(quantity), "unit_price": price}
            total = str((quantity * Decimal(price)).quantize(Decimal("0.01")))
            device = f"OLD-{i % 11:02d}"
            at = T0 + timedelta(minutes=10 * i)

            def record(
                legacy_id,
                invoice,
                when,
                offline_id=None,
                movements=1,
                device=device,
                total=total,
                line=line,
                sku=sku,
                quantity=quantity,
            ):  # this iteration's values
                return {
                    "legacy_id": legacy_id,
                    "invoice_number": invoice,
                    "offline_id": offline_id,
                    "device": device,
                    "created_at": when.isoformat(),
                    "cashier": "Old",
                    "total": total,
                    "lines": [line],
                    "movements": [{"line": 0, "sku": sku, "quantity_delta": str(-quantity)}] * movements,
                }

            if kind == "same_offline_id":
                offline_id = str(uuid.UUID(int=i + 1, version=4))
                rows = [
                    record(f"B{i}a", f"BIG-{i}-A", at, offline_id),
                    record(f"B{i}b", f"BIG-{i}-B", at + timedelta(minutes=5), offline_id),
                ]
            elif kind == "same_invoice_same_content":
                rows = [record(f"B{i}a", f"BIG-{i}", at), record(f"B{i}b", f"BIG-{i}", at + timedelta(minutes=5))]
            else:
                rows = [record(f"B{i}", f"BIG-{i}", at, movements=2)]
            for row in rows:
                out.write(json.dumps(row) + "\n")
            groups[kind] += 1
            orders += len(rows)
            voided += len(rows) - 1
            compensations += 1
            once[sku] += quantity
            imported[sku] += 2 * quantity
    return LegacyBook(path, pairs, groups, orders, voided, compensations, dict(once), dict(imported))


# --------------------------------------------------------------------------------------- the database


@dataclass
class FixState:
    """What of a fix the database shows."""

    fixes: int
    void_orders: int
    void_lines: int
    compensations: int
    open_groups: int
    fixed_groups: int
    plan_status: str | None
    stock: dict[str, Decimal]
    ledger_drift: list = field(default_factory=list)


@contextmanager
def _snapshot(database_url: str):
    """rows(sql, **params) reading one consistent snapshot of the database (a fix may be committing
    meanwhile): one deferred transaction on SQLite (WAL), REPEATABLE READ on PostgreSQL."""
    if database_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
        try:
            conn.execute("BEGIN")
            yield lambda sql, **params: conn.execute(sql, params).fetchall()
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    engine = create_engine(database_url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn:
            yield lambda sql, **params: conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def fix_state(database_url: str, plan_id: int) -> FixState:
    with _snapshot(database_url) as rows:
        one = lambda sql, **p: rows(sql, **p)[0][0]  # noqa: E731
        stock = {sku: Decimal(str(qty)) for sku, qty in rows("SELECT sku, stock_quantity FROM products")}
        drift = [
            (sku, stock_q, opening, moved)
            for sku, stock_q, opening, moved in rows(
                "SELECT p.sku, p.stock_quantity, p.opening_stock, "
                "(SELECT COALESCE(SUM(m.quantity_delta), 0) FROM stock_movements m WHERE m.product_id = p.id) "
                "FROM products p"
            )
            if Decimal(str(stock_q)) != Decimal(str(opening)) + Decimal(str(moved))
        ]
        return FixState(
            fixes=one("SELECT COUNT(*) FROM fixes"),
            void_orders=one("SELECT COUNT(*) FROM orders WHERE status = 'void'"),
            void_lines=one("SELECT COUNT(*) FROM order_lines WHERE status = 'void'"),
            compensations=one("SELECT COUNT(*) FROM stock_movements WHERE kind = 'compensation'"),
            open_groups=one("SELECT COUNT(*) FROM duplicate_groups WHERE status = 'open'"),
            fixed_groups=one("SELECT COUNT(*) FROM duplicate_groups WHERE status = 'fixed'"),
            plan_status=one("SELECT status FROM fix_plans WHERE id = :id", id=plan_id),
            stock=stock,
            ledger_drift=drift,
        )


def expected_stock(book: LegacyBook, *, applied: bool) -> dict[str, Decimal]:
    sold = book.sold_once if applied else book.sold_as_imported
    return {sku: Decimal(opening) - sold.get(sku, Decimal(0)) for sku, (_n, _p, opening) in CATALOG.items()}


def assert_not_applied(state: FixState, book: LegacyBook) -> None:
    """No trace of the fix: no fixes row, nothing voided or compensated, groups open, stock as imported."""
    assert state.ledger_drift == [], f"stock is not opening stock plus movements: {state.ledger_drift}"
    assert (state.fixes, state.void_orders, state.void_lines, state.compensations) == (0, 0, 0, 0), state
    assert state.fixed_groups == 0 and state.open_groups == book.pairs, state
    assert state.plan_status == "applying", state
    assert state.stock == expected_stock(book, applied=False), state.stock


def assert_applied_once(state: FixState, book: LegacyBook) -> None:
    """The whole fix, once: one fixes row, every duplicate voided and compensated once, stock as if
    every real sale counted once."""
    assert state.ledger_drift == [], f"stock is not opening stock plus movements: {state.ledger_drift}"
    assert state.fixes == 1, state
    assert (state.void_orders, state.void_lines, state.compensations) == (book.orders_voided, 0, book.compensations), (
        state
    )
    assert state.open_groups == 0 and state.fixed_groups == book.pairs, state
    assert state.plan_status == "applied", state
    assert state.stock == expected_stock(book, applied=True), state.stock


def applied_or_not(state: FixState, book: LegacyBook) -> str:
    """'applied' or 'not applied', asserting the state is wholly one of them (never half a fix)."""
    if state.fixes == 0:
        assert_not_applied(state, book)
        return "not applied"
    assert_applied_once(state, book)
    return "applied"


# --------------------------------------------------------------------------------------- the worker


class WorkerProcess:
    """`flask --app wsgi worker` in its own session, on this database and Redis; its log in a file."""

    def __init__(self, database_url: str, redis_url: str, instance_path: str, *, burst: bool = False):
        self.log_path = Path(tempfile.mkstemp(prefix="rq-worker-", suffix=".log")[1])
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test",
            "TILLSYNC_INSTANCE_PATH": instance_path,
            "DUPLICATE_SCAN_INTERVAL_HOURS": "0",
        }
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"] + (["--burst"] if burst else [])
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def horses(self) -> list[int]:
        """The forked work-horses (each in a process group of its own: RQ calls setpgrp in them)."""
        try:
            return [child.pid for child in psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.Error:
            return []

    def kill(self) -> list[int]:
        """SIGKILL the worker's process group and every work-horse's; returns the pids of the horses."""
        horses = self.horses()
        for pid in horses:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in horses):
            assert time.monotonic() < deadline, f"work-horses {horses} survived SIGKILL"
            time.sleep(0.02)
        return horses

    def stop(self) -> None:
        if self.process.poll() is None:
            for pid in self.horses():
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


# RQ takes a job for abandoned once its worker has not renewed its heartbeat for this long
# (min(job timeout, job monitoring interval) + 60 s).
ABANDONED_AFTER = 30 + 60


def fast_forward_past_heartbeat(queue, job_id: str) -> None:
    """Redis as it is just over 90 s after a killed job's last heartbeat, without waiting for it: the
    execution's hash (TTL 90 s) has expired, the job's execution registry (TTL 150 s) has not; and a
    worker's registry maintenance has failed the job as abandoned (its StartedJobRegistry entry, scored
    heartbeat + 90 s, expired). tests/perf/faults_full.py --real-abandon-wait waits for real."""
    from rq.registry import StartedJobRegistry

    connection = queue.connection
    expired = list(connection.scan_iter(match=f"rq:execution:{job_id}:*"))
    assert expired, "no execution hash to expire"
    connection.delete(*expired)
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + ABANDONED_AFTER + 1)


def fast_forward_past_execution_registry(queue, job_id: str) -> None:
    """Redis as it is just over 150 s after a killed job's last heartbeat: the job's execution registry
    (entries scored heartbeat + 150 s) has expired too."""
    from rq.executions import ExecutionRegistry

    ExecutionRegistry(job_id, queue.connection).cleanup(timestamp=time.time() + ABANDONED_AFTER + 61)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.01):
    """Poll until predicate() is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(interval)


def open_write_transaction(database_url: str) -> str | None:
    """Evidence that some connection holds an open write transaction right now, or None.

    PostgreSQL: a backend other than ours in a transaction that has taken a transaction id (it wrote
    or locked rows). SQLite: the write lock is taken (BEGIN IMMEDIATE fails at once).
    """
    if database_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return None
        except sqlite3.OperationalError as exc:
            return f"sqlite write lock held ({exc})"
        finally:
            conn.close()
    rows = [
        tuple(row)
        for row in _pg_rows(
            database_url,
            "SELECT pid, state, backend_xid::text, left(query, 80) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL",
        )
    ]
    return f"postgres backends in a write transaction: {rows}" if rows else None


def _pg_rows(database_url: str, sql: str) -> list:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).all()
    finally:
        engine.dispose()
