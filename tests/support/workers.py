"""A real RQ worker process for the tests that run jobs."""

from __future__ import annotations

import os
import subprocess
import sys

from dashboard.extensions import db
from tests.support.gunicorn import REPO


def run_worker(app, redis_url: str, timeout: int = 120) -> str:
    """A real RQ worker process (`flask worker --burst`) on the app's database and Redis; returns its output."""
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test",
        "TILLSYNC_INSTANCE_PATH": app.instance_path,
    }
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    db.session.expire_all()
    return done.stdout + done.stderr
