"""SQLite writers take turns through a lock file instead of SQLite's sleeping busy handler.

SQLite runs one write transaction at a time. A writer that finds the write lock
taken waits in SQLite's busy handler, which sleeps 1, 2, 5, 10 ... and then 100 ms
at a time, however soon the holder finishes: under a steady stream of batches
the database stood free while workers slept (the sync benchmark measured 5,400
sales/s with it, 6,000 to 6,800 with this queue, and batches waiting up to 1 s
instead of 0.16 s).

So database.run_write first takes its turn here: an exclusive flock on
`<database>-writer.lock`, shared by every process and thread on the host that
writes the same file (each turn opens its own descriptor, so two threads of one
worker queue too). The lock is polled every fraction of a millisecond while the
holder is quick, backing off to 2 ms, so a waiter starts within about a
millisecond of its turn and a crowd of waiters costs little CPU. The kernel
drops the lock when its holder closes it or dies.

Checkpoints (copying the WAL back into the database file, with an fsync) are
moved out of the turn too: SQLite runs one inside the COMMIT that passes 1,000
WAL pages, which held the turn for 10 to 16 ms every sixth batch. Connections
set a large backstop instead (database.WAL_BACKSTOP_PAGES), and every
CHECKPOINT_EVERY write transactions a process runs a passive checkpoint after
releasing its turn, while the next writer works (SQLite lets a checkpoint run
beside a writer).

This only orders writers; it decides nothing. Exactly-once still rests on the
unique indexes and the transaction, and a writer that does not queue here (a
manual sqlite3 session) is still held off by SQLite's own lock. A writer that
waits longer than the busy timeout goes ahead without its turn and meets
SQLite's lock (and its busy timeout) as before, so a stuck holder costs a slow
answer, never a hung worker.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

# The first and the longest pause between two tries.
_FIRST_PAUSE = 0.0002
_LONGEST_PAUSE = 0.002


def lock_path(database: str | None) -> str | None:
    """The queue's lock file for an SQLite database file (a path or a file: URI); None in memory."""
    if database and database.startswith("file:"):
        path, _, query = database[len("file:") :].partition("?")
        database = None if "mode=memory" in query else path
    if not database or database == ":memory:":
        return None
    return database + "-writer.lock"


@contextmanager
def writer_turn(path: str | None, *, wait_seconds: float) -> Iterator[None]:
    """Hold this host's turn to write the database whose queue file is `path` (no-op for None)."""
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _wait_for_turn(fd, wait_seconds)
        yield
    finally:
        os.close(fd)  # releases the lock


def _wait_for_turn(fd: int, wait_seconds: float) -> bool:
    """Take the lock on fd; False when wait_seconds passed first (the caller goes ahead anyway)."""
    deadline = time.monotonic() + wait_seconds
    pause = _FIRST_PAUSE
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 1.5, _LONGEST_PAUSE)


# A process's write transactions between two of its checkpoints: with 100-sale batches, about
# 1,000 WAL pages, what SQLite's own default waits for.
CHECKPOINT_EVERY = 8
_writes = itertools.count(1)  # next() on a count is atomic: threads of a worker share it


def checkpoint_now_and_then(engine) -> None:
    """A passive checkpoint of the SQLite database every CHECKPOINT_EVERY calls (outside any turn).

    Passive: it copies what no reader still needs and never waits for anyone. It runs after
    the commit, so a failure only logs: the sales are stored, and the next one tries again.
    """
    if next(_writes) % CHECKPOINT_EVERY:
        return
    raw = engine.raw_connection()  # no BEGIN: a checkpoint cannot run inside a transaction
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as exc:
        log.warning("WAL checkpoint failed: %s", exc)
    finally:
        raw.close()
