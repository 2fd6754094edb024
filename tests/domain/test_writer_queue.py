"""SQLite writers take turns through writer_queue's lock file: one at a time, and never stuck past the wait."""

from __future__ import annotations

import fcntl
import os
import threading
import time

from dashboard.writer_queue import lock_path, writer_turn


def test_in_memory_databases_have_no_queue():
    assert lock_path(None) is None
    assert lock_path(":memory:") is None
    assert lock_path("file::memory:?cache=shared") is None
    assert lock_path("file:shared?mode=memory&cache=shared") is None
    assert lock_path("/srv/tillsync/tillsync.db") == "/srv/tillsync/tillsync.db-writer.lock"
    assert lock_path("file:/srv/tillsync/tillsync.db?mode=rwc") == "/srv/tillsync/tillsync.db-writer.lock"


def test_no_queue_means_no_waiting():
    with writer_turn(None, wait_seconds=0):
        pass


def test_a_second_writer_waits_for_the_first_to_finish(tmp_path):
    path = str(tmp_path / "db.sqlite-writer.lock")
    events: list[str] = []
    first_holds = threading.Event()

    def first():
        with writer_turn(path, wait_seconds=5):
            events.append("first in")
            first_holds.set()
            time.sleep(0.2)
            events.append("first out")

    def second():
        first_holds.wait(5)
        with writer_turn(path, wait_seconds=5):
            events.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # Two threads of one process queue too: each turn opens its own descriptor.
    assert events == ["first in", "first out", "second in"]


def test_a_writer_goes_ahead_after_the_wait_instead_of_hanging(tmp_path):
    path = str(tmp_path / "db.sqlite-writer.lock")
    with writer_turn(path, wait_seconds=5):
        started = time.monotonic()
        # The holder never lets go while this waits: reaching the body at all is the point.
        with writer_turn(path, wait_seconds=0.1):
            waited = time.monotonic() - started
    assert waited >= 0.1


def test_the_turn_is_released_when_its_holder_fails(tmp_path):
    path = str(tmp_path / "db.sqlite-writer.lock")
    try:
        with writer_turn(path, wait_seconds=1):
            raise RuntimeError("the transaction failed")
    except RuntimeError:
        pass
    # Free again: a non-blocking lock (which fails while anyone holds it) succeeds at once.
    fd_holder = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd_holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd_holder)
