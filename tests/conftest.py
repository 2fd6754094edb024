"""Fixtures: the app on SQLite and on a real PostgreSQL, a real Redis, a device and a catalogue."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from dashboard import create_app
from dashboard.domain.devices import add_device
from dashboard.extensions import db
from tests.support.sales import load_catalog
from tests.support.services import PostgresServer, RedisServer

BACKENDS = ["sqlite", "postgres"]
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL cluster for the session. It must be there: a missing server fails, never skips."""
    server = PostgresServer().start()
    yield server
    server.stop()


# Migrations never touch Redis, but the app refuses PostgreSQL (a multi-host configuration)
# without a REDIS_URL: this one names a port nothing listens on.
UNUSED_REDIS = "redis://127.0.0.1:1/0"


def migrate(url: str, tmp: Path) -> None:
    """Build the schema with the project's migrations, as `flask db upgrade` does."""
    from flask_migrate import upgrade

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test", "REDIS_URL": UNUSED_REDIS}, instance_path=str(tmp)
    )
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.db"
    migrate(f"sqlite:///{path}", folder)
    return path


@pytest.fixture(scope="session")
def pg_template(pg_server, tmp_path_factory) -> str:
    admin = create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE tillsync_template"))
    admin.dispose()
    migrate(pg_server.url("tillsync_template"), tmp_path_factory.mktemp("pg-template"))
    return "tillsync_template"


def new_database(backend: str, request, tmp_path: Path) -> str:
    """A fresh, migrated database for one test; returns its URL."""
    if backend == "sqlite":
        path = tmp_path / "tillsync.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    server = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("pg_template")
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE {template}'))
    admin.dispose()
    return server.url(name)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend, request, tmp_path) -> str:
    return new_database(backend, request, tmp_path)


def make_app(database_url: str, redis_url: str, tmp_path: Path, **config):
    settings = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "TESTING": True,
        "SECRET_KEY": "test",
        "SYNC_RATE_LIMIT_PER_MINUTE": 0,
        "SYNC_SALES_PER_MINUTE": 0,
        "SYNC_LINES_PER_MINUTE": 0,
        "SYNC_BYTES_PER_MINUTE": 0,
        "SYNC_AUTH_FAILURES_PER_MINUTE": 0,
    }
    settings.update(config)
    return create_app(settings, instance_path=str(tmp_path / "instance"))


@pytest.fixture
def app(database_url, redis_server, tmp_path):
    app = make_app(database_url, redis_server.url, tmp_path)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def catalog(app):
    return load_catalog()


@pytest.fixture
def token(app) -> str:
    return add_device("T01")


@pytest.fixture
def other_token(app) -> str:
    return add_device("T02")


def pytest_collection_modifyitems(items):
    """Mark every test that needs the PostgreSQL server `postgres`, so `-m "not postgres"` (scripts/test.sh
    --fast) leaves them out: the backend-parametrized ones and those that ask for the server directly."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("backend") == "postgres"
        if on_postgres or {"pg_server", "pg_template"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)
