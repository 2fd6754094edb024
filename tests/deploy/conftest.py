"""A till's server for the deployment tests: a database with a catalogue and one till, and its token."""

from __future__ import annotations

import resource
import shutil
from pathlib import Path

import pytest

from tests.conftest import make_app
from tests.support.sales import load_catalog


@pytest.fixture(scope="session", autouse=True)
def _enough_file_descriptors():
    """Hundreds of slow connections, each one socket in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def register_till(database_url: str, redis_url: str, tmp_path: Path) -> str:
    """Register till T01 and load the test catalogue, then let go of the database for gunicorn."""
    from dashboard.domain.devices import add_device
    from dashboard.extensions import db

    app = make_app(database_url, redis_url, tmp_path)
    with app.app_context():
        load_catalog()
        token = add_device("T01")
        db.session.remove()
        db.engine.dispose()
    return token


@pytest.fixture(scope="module")
def till_database(sqlite_template, redis_server, tmp_path_factory) -> tuple[str, str]:
    """A migrated SQLite database with the catalogue and till T01, shared by a module's servers:
    (database URL, T01's token). Starting gunicorn and nginx once per module keeps these tests short."""
    folder = tmp_path_factory.mktemp("deploy")
    shutil.copy(sqlite_template, folder / "tillsync.db")
    url = f"sqlite:///{folder / 'tillsync.db'}"
    return url, register_till(url, redis_server.url, folder)
