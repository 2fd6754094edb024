"""Databases for the operations tests."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from sqlalchemy import create_engine, text

_numbers = itertools.count(1)


def empty_database(backend: str, request, tmp_path: Path) -> str:
    """A reachable database with no tables at all, as before `flask db upgrade`."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    server = request.getfixturevalue("pg_server")
    name = f"empty_{os.getpid()}_{next(_numbers)}"
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.url(name)
