"""Fixtures for the till client: a 'site' (a fresh migrated database with the demo catalogue, served
by a real multi-worker gunicorn), and a new device for each test.

Starting and stopping gunicorn costs one to two seconds, so the client tests share one site; they stay
independent because each registers its own device (and receipt prefix) and checks that device's sales.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from flask import Flask

from dashboard.domain.catalog import demo_catalog_rows, import_products
from dashboard.domain.devices import add_device
from dashboard.extensions import db
from tests.conftest import make_app, new_database
from tests.support.gunicorn import GunicornServer

_device_numbers = itertools.count(1)


@dataclass
class Device:
    name: str
    token: str


@dataclass
class Site:
    database_url: str
    redis_url: str
    app: Flask
    server: GunicornServer | None = None
    servers: list = field(default_factory=list)

    def start_server(self, workers: int = 2, **env: str) -> GunicornServer:
        """Another gunicorn on the same database, e.g. with other limits (SYNC_MAX_ORDERS=...)."""
        server = GunicornServer(self.database_url, self.redis_url, workers=workers, **env).start()
        self.servers.append(server)
        return server

    def server_with(self, **env: str) -> GunicornServer:
        """A one-worker gunicorn with these settings, started once and shared."""
        for server in self.servers[1:]:
            if all(server.env.get(key) == value for key, value in env.items()):
                return server
        return self.start_server(workers=1, **env)

    def new_device(self) -> Device:
        name = f"C{next(_device_numbers):02d}"
        with self.app.app_context():
            return Device(name, add_device(name))

    def close(self) -> None:
        for server in self.servers:  # all at once: each takes a moment to stop its workers
            server.process.terminate()
        for server in self.servers:
            server.stop()
        with self.app.app_context():
            db.engine.dispose()


def open_site(backend: str, request, tmp_path, redis_server) -> Site:
    database_url = new_database(backend, request, tmp_path)
    app = make_app(database_url, redis_server.url, tmp_path)
    with app.app_context():
        import_products(demo_catalog_rows())
        db.session.remove()
    site = Site(database_url, redis_server.url, app)
    site.server = site.start_server()
    return site


@pytest.fixture(scope="session")
def site(request, tmp_path_factory, redis_server):
    site = open_site("sqlite", request, tmp_path_factory.mktemp("site"), redis_server)
    yield site
    site.close()


@pytest.fixture
def device(site) -> Device:
    return site.new_device()
