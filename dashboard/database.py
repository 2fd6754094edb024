"""Engine set-up and the one way the domain opens a write transaction.

SQLite: WAL, synchronous=FULL, a busy timeout, foreign keys on, and write
transactions begun with BEGIN IMMEDIATE so that two writers never both read
and then fight over the upgrade to a write lock. PostgreSQL: a transaction that
failed on a serialization failure, a deadlock or a dropped connection is run
again from the start (it committed nothing).
"""

from __future__ import annotations

import contextvars
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from .extensions import db
from .observability.metrics import count_write_retry
from .writer_queue import checkpoint_now_and_then, lock_path, writer_turn

log = logging.getLogger(__name__)
T = TypeVar("T")

# Set while a write unit of work runs, so the SQLite "begin" hook knows to take
# the write lock up front.
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)

# SQLite checkpoints by itself only when the WAL passes this many pages (40 MB): run_write
# checkpoints more often, outside the writers' turn (writer_queue.py).
WAL_BACKSTOP_PAGES = 10000

# How long an SQLite writer waits for the write lock: its turn in writer_queue, then SQLite's own wait.
BUSY_TIMEOUT_SECONDS = 30.0

# PostgreSQL SQLSTATEs that mean "run the transaction again".
_RETRYABLE_PG_CODES = {"40001", "40P01"}


class DatabaseUnavailable(Exception):
    """The database could not be reached (or stayed busy) after every retry."""


# Every SQLite connection's settings (also what tests/perf/bench_sync.py's raw writer uses, so its
# "physical limit" is measured on the same engine).
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}",
    "PRAGMA foreign_keys=ON",
    # 64 MB of page cache per connection: the random-key indexes (offline ids, content
    # hashes) of a million orders stay in memory instead of being re-read for every batch.
    "PRAGMA cache_size=-65536",
    # Checkpoints: see writer_queue.checkpoint_now_and_then. SQLite's own, after this many pages,
    # is only the backstop for writes that never go through run_write.
    f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}",
)


def configure_engine(engine: Engine) -> None:
    """Install per-connection settings for the engine's dialect."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record):
        # Take transaction control away from pysqlite so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def insert_ignoring_conflicts(table):
    """INSERT ... ON CONFLICT DO NOTHING, for whichever database is in use.

    Without a conflict target it covers every unique index of the table,
    which is how exactly-once is enforced: the database decides, not a check.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


# Both databases take this many bound values in one statement (SQLite 32,766, PostgreSQL 65,535).
_MAX_BOUND_VALUES = 30000
# Values in one IN (...) list: small statements, whatever the number of ids asked about.
IN_CHUNK = 500


def chunks(values: list[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """`values` in consecutive slices of at most `size`: one IN list, or one statement's rows, each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def rows_in(statement: str, values: list) -> list[tuple]:
    """The rows of `statement` for every one of `values`, which fill its one IN list ({marks}), in chunks.

    For reads every sync makes: sent to the driver as written, because SQLAlchemy's building of an
    expanding IN of 100 values cost as much CPU as the database's own look-up. Every value is bound.
    """
    conn = db.session.connection()
    mark = placeholder(conn.dialect)
    found: list[tuple] = []
    for chunk in chunks(values):
        found.extend(conn.exec_driver_sql(statement.format(marks=", ".join([mark] * len(chunk))), tuple(chunk)))
    return found


def bound_rows(table, columns: tuple[str, ...], rows: list[tuple], dialect=None) -> list[tuple]:
    """`rows` with each column's bind processor applied: the values the driver takes, as the ORM would send them.

    Ingestion binds its rows before its write transaction opens, so that the time
    other writers wait holds SQL, not Python.
    """
    dialect = dialect or db.session.get_bind().dialect
    processors = [
        (index, processor) for index, name in enumerate(columns) if (processor := _processor(table, name, dialect))
    ]
    if not processors:
        return rows
    processed: list[list] = [list(row) for row in rows]
    for values in processed:
        for index, processor in processors:
            if values[index] is not None:
                values[index] = processor(values[index])
    return [tuple(values) for values in processed]


def bind_processor(table, column: str, dialect=None) -> Callable:
    """The function that turns a value of table.column into what the driver takes (identity when
    the type has none), for rows built value by value; it is not given None."""
    return _processor(table, column, dialect or db.session.get_bind().dialect) or _same


def _processor(table, column: str, dialect) -> Callable | None:
    return table.c[column].type.dialect_impl(dialect).bind_processor(dialect)


def _same(value):
    return value


def placeholder(dialect) -> str:
    """The driver's mark for one bound value: ? for sqlite3, %s for psycopg."""
    return "?" if dialect.paramstyle == "qmark" else "%s"


def insert_values(
    table,
    columns: tuple[str, ...],
    rows: list[tuple],
    *,
    ignore_conflicts: bool = False,
    returning: tuple[str, ...] = (),
) -> list[tuple]:
    """INSERT many rows as multi-row VALUES statements sent straight to the driver; the RETURNING rows.

    The same SQL SQLAlchemy's bulk insert sends, without its per-row work (a
    parameter dict per row, rebuilt and processed value by value). The rows'
    values must already be bound (bound_rows, bind_processor), so the database
    receives exactly what the ORM path would store. Errors still go through
    SQLAlchemy (exec_driver_sql), so run_write retries what it retries. With
    ignore_conflicts, rows that hit any unique index are left out silently, as
    with insert_ignoring_conflicts.
    """
    if not rows:
        return []
    conn = db.session.connection()
    mark = placeholder(conn.dialect)
    one = "(" + ", ".join([mark] * len(columns)) + ")"
    # Names from the models, never from a request; the values are bound parameters.
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "  # noqa: S608
    tail = (" ON CONFLICT DO NOTHING" if ignore_conflicts else "") + (
        f" RETURNING {', '.join(returning)}" if returning else ""
    )
    per_statement = max(1, _MAX_BOUND_VALUES // len(columns))
    got: list[tuple] = []
    for chunk in chunks(rows, per_statement):
        params = tuple(value for row in chunk for value in row)
        result = conn.exec_driver_sql(head + ", ".join([one] * len(chunk)) + tail, params)
        if returning:
            got.extend(tuple(row) for row in result)
    return got


def _is_retryable(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in _RETRYABLE_PG_CODES:
        return True
    if isinstance(exc, OperationalError):
        # Lost connections, a server restarting, "database is locked" on SQLite.
        return True
    return False


def _writer_queue() -> str | None:
    """The writer queue's lock file of the SQLite database in use; None on PostgreSQL (no queue)."""
    engine = db.engine
    return lock_path(engine.url.database) if engine.dialect.name == "sqlite" else None


def _end_read_transaction() -> None:
    """End a read transaction the caller left open, so the write can begin with the write lock."""
    session = db.session()  # the real Session behind the scoped proxy
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("run_write() called with unflushed changes in the session")
    if session.in_transaction():
        session.rollback()


def run_write(unit: Callable[[], T], *, retries: int | None = None, retry_on_integrity: bool = False) -> T:
    """Run unit() in one write transaction and commit it, retrying transient failures.

    unit() must do all of its work through db.session and must be safe to run
    again from the start (it is, because a failed attempt committed nothing).
    IntegrityError is re-raised unless retry_on_integrity is set: callers that
    rely on a unique constraint losing a race to a concurrent writer set it.
    Raises DatabaseUnavailable when every attempt failed for transient reasons.
    """
    from flask import current_app

    attempts = retries if retries is not None else current_app.config["DB_WRITE_RETRIES"]
    last_error: Exception | None = None
    _end_read_transaction()
    queue = _writer_queue()
    for attempt in range(attempts):
        token = _write_intent.set(True)
        try:
            # SQLite: wait for this writer's turn (writer_queue.py) and hold it until commit or rollback.
            with writer_turn(queue, wait_seconds=BUSY_TIMEOUT_SECONDS):
                try:
                    result = unit()
                    db.session.commit()
                    return result
                except BaseException:
                    db.session.rollback()
                    raise
        except IntegrityError as exc:
            if not retry_on_integrity:
                raise
            last_error = exc
        except DBAPIError as exc:
            if not _is_retryable(exc):
                raise
            last_error = exc
        finally:
            _write_intent.reset(token)
            if queue is not None:
                checkpoint_now_and_then(db.engine)
        count_write_retry(last_error)
        delay = min(2.0, 0.05 * (2**attempt)) * (0.5 + random.random())
        log.warning(
            "write transaction failed (%s), retry %d/%d in %.2fs",
            type(last_error).__name__,
            attempt + 1,
            attempts,
            delay,
        )
        time.sleep(delay)
    raise DatabaseUnavailable(str(last_error)) from last_error
