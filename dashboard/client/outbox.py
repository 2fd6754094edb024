"""The till's durable outbox: every sale, kept in a local SQLite file until the server acknowledged it.

A sale is written here, in one transaction with its receipt counter, before
anything else happens (printing, uploading). The order object sent to the
server is frozen as JSON at that moment and sent byte for byte on every
attempt, so a retry can never change the sale's fingerprint or its identity.
Rows are never deleted: an acknowledged sale is marked 'synced', a refused one
'flagged'. The till's daily closes are kept here too, sent like sales until
the server answered them. Standard library only.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .ids import new_offline_id

PENDING, SYNCED, FLAGGED = "pending", "synced", "flagged"
# A daily close the server answered (a close it refused is FLAGGED).
CLOSE_SENT = "sent"
SCHEMA_VERSION = 2  # 2: the closings table (added to version-1 files as they open)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS receipt_counters (
    prefix TEXT PRIMARY KEY,
    last_number INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sales (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    offline_id TEXT NOT NULL UNIQUE,
    receipt_number TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'synced', 'flagged')),
    in_flight TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT,
    order_id INTEGER,
    invoice_number TEXT,
    reason TEXT,
    message TEXT,
    acknowledged_at TEXT
);
CREATE INDEX IF NOT EXISTS ix_sales_state ON sales (state, seq);
CREATE INDEX IF NOT EXISTS ix_sales_in_flight ON sales (in_flight) WHERE in_flight IS NOT NULL;
CREATE TABLE IF NOT EXISTS closings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    business_day TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'flagged')),
    status TEXT,
    answer TEXT,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS ix_closings_day ON closings (business_day, seq);
"""


@dataclass(frozen=True)
class OutboxSale:
    """One sale as the outbox holds it.

    state is 'pending' (not acknowledged yet), 'synced' (the server stored it:
    order_id and invoice_number are set) or 'flagged' (conflict or rejected:
    reason and message say why; staff must look at it). in_flight is the id of
    the upload that was under way when the till last stopped, if any.
    """

    seq: int
    offline_id: str
    receipt_number: str
    created_at: str
    order: dict
    state: str
    in_flight: str | None
    attempts: int
    status: str | None
    order_id: int | None
    invoice_number: str | None
    reason: str | None
    message: str | None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class Outbox:
    """The SQLite file behind a Till. Safe to share between threads of one process."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Transactions are ours (isolation_level=None); the lock keeps one thread in one at a time.
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        self._lock = threading.RLock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a sale the till reported as recorded is on disk even after a power cut.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        with self._write():
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} was written by a newer till client (outbox version {version})")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the file; every recorded sale is already committed."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self):
        """One write transaction, holding the write lock from its first statement."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _rows(self, sql: str, params: tuple = ()) -> list[OutboxSale]:
        with self._lock:
            cursor = self._conn.execute(
                # noqa below: sql is one of this module's constant clauses; values are bound parameters.
                "SELECT seq, offline_id, receipt_number, created_at, payload, state, in_flight, attempts, "  # noqa: S608
                "status, order_id, invoice_number, reason, message FROM sales " + sql,
                params,
            )
            return [OutboxSale(row[0], row[1], row[2], row[3], json.loads(row[4]), *row[5:]) for row in cursor]

    def add_sale(self, prefix: str, build_order) -> OutboxSale:
        """Take the next receipt number and store the sale built by build_order(offline_id, receipt_number),
        in one transaction."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO receipt_counters (prefix, last_number) VALUES (?, 1) "
                "ON CONFLICT (prefix) DO UPDATE SET last_number = last_number + 1",
                (prefix,),
            )
            number = conn.execute("SELECT last_number FROM receipt_counters WHERE prefix = ?", (prefix,)).fetchone()[0]
            offline_id = new_offline_id()
            receipt_number = f"{prefix}-{number:06d}"
            order = build_order(offline_id, receipt_number)
            conn.execute(
                "INSERT INTO sales (offline_id, receipt_number, created_at, payload) VALUES (?, ?, ?, ?)",
                (offline_id, receipt_number, order["created_at"], _dumps(order)),
            )
        return self.get(offline_id)

    def renumber(self, seq: int, prefix: str, *, new_receipt: bool = True) -> OutboxSale:
        """Give a sale a new offline_id, and a new receipt number unless new_receipt is False. Only the
        simulated legacy till does this: it is exactly the bug that makes duplicates, never call it from a
        real till."""
        with self._write() as conn:
            order = json.loads(conn.execute("SELECT payload FROM sales WHERE seq = ?", (seq,)).fetchone()[0])
            order["offline_id"] = new_offline_id()
            if new_receipt:
                conn.execute("UPDATE receipt_counters SET last_number = last_number + 1 WHERE prefix = ?", (prefix,))
                number = conn.execute(
                    "SELECT last_number FROM receipt_counters WHERE prefix = ?", (prefix,)
                ).fetchone()[0]
                order["receipt_number"] = f"{prefix}-{number:06d}"
            conn.execute(
                "UPDATE sales SET offline_id = ?, receipt_number = ?, payload = ?, in_flight = NULL WHERE seq = ?",
                (order["offline_id"], order["receipt_number"], _dumps(order), seq),
            )
        return self._rows("WHERE seq = ?", (seq,))[0]

    def get(self, offline_id: str) -> OutboxSale | None:
        rows = self._rows("WHERE offline_id = ?", (offline_id,))
        return rows[0] if rows else None

    def sales(self, state: str | None = None) -> list[OutboxSale]:
        """Every sale, or those in one state, oldest first."""
        if state is None:
            return self._rows("ORDER BY seq")
        return self._rows("WHERE state = ? ORDER BY seq", (state,))

    def count(self, state: str) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM sales WHERE state = ?", (state,)).fetchone()[0]

    def next_batch(self, size: int) -> list[OutboxSale]:
        """The oldest pending sales, at most size of them."""
        return self._rows("WHERE state = 'pending' ORDER BY seq LIMIT ?", (size,))

    def in_flight(self) -> list[OutboxSale]:
        """Pending sales whose upload was under way when the till last stopped."""
        return self._rows("WHERE state = 'pending' AND in_flight IS NOT NULL ORDER BY seq")

    def mark_in_flight(self, seqs: list[int], upload_id: str) -> None:
        """Record, before sending, that these sales are being uploaded; survives a crash mid-upload."""
        with self._write() as conn:
            conn.executemany(
                "UPDATE sales SET in_flight = ?, attempts = attempts + 1 WHERE seq = ?",
                [(upload_id, seq) for seq in seqs],
            )

    def clear_in_flight(self, seqs: list[int]) -> None:
        """The server answered that these sales are not stored: they are plain pending sales again."""
        with self._write() as conn:
            conn.executemany(
                "UPDATE sales SET in_flight = NULL WHERE seq = ? AND state = 'pending'", [(seq,) for seq in seqs]
            )

    def mark_synced(self, acks: list[tuple[int, str, int, str, str | None]]) -> None:
        """(seq, status, order_id, invoice_number, reason) of sales the server stored, in one transaction."""
        now = _now()
        with self._write() as conn:
            conn.executemany(
                "UPDATE sales SET state = 'synced', in_flight = NULL, status = ?, order_id = ?, "
                "invoice_number = ?, reason = ?, message = NULL, acknowledged_at = ? WHERE seq = ?",
                [(status, order_id, invoice, reason, now, seq) for seq, status, order_id, invoice, reason in acks],
            )

    def mark_flagged(self, flags: list[tuple[int, str, str | None, str | None]]) -> None:
        """(seq, status, reason, message) of sales the server refused; they stay for staff to see."""
        now = _now()
        with self._write() as conn:
            conn.executemany(
                "UPDATE sales SET state = 'flagged', in_flight = NULL, status = ?, reason = ?, message = ?, "
                "acknowledged_at = ? WHERE seq = ? AND state = 'pending'",
                [(status, reason, message, now, seq) for seq, status, reason, message in flags],
            )

    def requeue(self, offline_id: str) -> bool:
        """Put a flagged sale back in the queue, unchanged (same offline_id and content)."""
        with self._write() as conn:
            changed = conn.execute(
                "UPDATE sales SET state = 'pending', status = NULL, reason = NULL, message = NULL, "
                "acknowledged_at = NULL WHERE offline_id = ? AND state = 'flagged'",
                (offline_id,),
            ).rowcount
        return changed == 1

    # Daily closes ---------------------------------------------------------------------------------

    def add_closing(self, business_day: str, build_close) -> dict:
        """Record the close of a day, built by build_close(sales) from every sale the outbox holds, in one
        transaction with reading them (a sale recorded meanwhile is in it or waits for a later close).

        The same close as the day's latest is not recorded twice; a different one is queued after it."""
        with self._write() as conn:
            rows = conn.execute(
                "SELECT seq, offline_id, receipt_number, created_at, payload, state, in_flight, "
                "attempts, status, order_id, invoice_number, reason, message FROM sales ORDER BY seq"
            )
            sales = [OutboxSale(row[0], row[1], row[2], row[3], json.loads(row[4]), *row[5:]) for row in rows]
            close = build_close(sales)
            latest = conn.execute(
                "SELECT payload FROM closings WHERE business_day = ? ORDER BY seq DESC LIMIT 1", (business_day,)
            ).fetchone()
            if latest is None or json.loads(latest[0]) != close:
                conn.execute(
                    "INSERT INTO closings (business_day, payload) VALUES (?, ?)", (business_day, _dumps(close))
                )
        return close

    def pending_closings(self) -> list[tuple[int, dict]]:
        """(seq, close) of closes not answered yet, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT seq, payload FROM closings WHERE state = 'pending' ORDER BY seq")
            return [(seq, json.loads(payload)) for seq, payload in rows]

    def mark_closing(self, seq: int, state: str, status: str | None, answer: dict | str) -> None:
        """The server's answer to a close: 'sent' with its status, or 'flagged' with why it was refused."""
        with self._write() as conn:
            conn.execute(
                "UPDATE closings SET state = ?, status = ?, answer = ?, sent_at = ? WHERE seq = ?",
                (state, status, answer if isinstance(answer, str) else _dumps(answer), _now(), seq),
            )

    def closings(self) -> list[dict]:
        """Every close recorded, oldest first: business_day, the close, state, status and answer."""
        with self._lock:
            rows = self._conn.execute("SELECT business_day, payload, state, status, answer FROM closings ORDER BY seq")
            return [
                {"business_day": day, "close": json.loads(payload), "state": state, "status": status, "answer": answer}
                for day, payload, state, status, answer in rows
            ]


def _dumps(order: dict) -> str:
    return json.dumps(order, separators=(",", ":"), ensure_ascii=False)
