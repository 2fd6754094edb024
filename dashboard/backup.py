"""Backing up and restoring the database: SQLite through its online backup API, PostgreSQL through
pg_dump's custom format and pg_restore.

A backup is taken while tills sync: SQLite's backup API copies one consistent
snapshot (in WAL mode, writers go on while it reads), and pg_dump reads one
snapshot in a single repeatable-read transaction. Neither holds the secret key:
it lives in SECRET_KEY or in the instance folder, and must be kept beside the
backup (without it every session and open form of the dashboard is invalid).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect, select, table, text
from sqlalchemy.engine import make_url

from .config import create_private_file

# A sentence about the key, not a key (ruff's S105 reads any name with "SECRET" in it as one).
SECRET_REMINDER = (
    "The backup does not hold the secret key: keep SECRET_KEY (or the instance folder's "  # noqa: S105
    "secret_key file) with it, or every dashboard session and open form is lost on restore."
)


class BackupError(Exception):
    """A backup or restore that could not be done; nothing was changed."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    dialect: str


def _sqlite_path(url) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _libpq(url) -> tuple[list[str], dict]:
    """Connection options for pg_dump/pg_restore, the password in the environment (not on the command line,
    where every user of the host could read it)."""
    args = ["--dbname", url.database or "postgres"]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = url.password
    return args, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def backup(database_url: str, destination: Path) -> BackupResult:
    """Write a backup of the database to destination (readable by its owner only); replaces it whole or not at all."""
    url = make_url(database_url)
    destination = destination.resolve()
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    create_private_file(partial)
    try:
        if url.get_backend_name() == "sqlite":
            path = _sqlite_path(url)
            if not path.is_file():
                raise BackupError(f"{path}: no such database file")
            source = sqlite3.connect(path, timeout=30)
            target = sqlite3.connect(partial)
            try:
                source.backup(target)  # one step: one consistent snapshot
            finally:
                target.close()
                source.close()
        elif url.get_backend_name() == "postgresql":
            args, env = _libpq(url)
            done = subprocess.run(
                [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(partial), *args],
                env=env,
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()[-1000:]}")
        else:
            raise BackupError(f"no backup method for {url.get_backend_name()}")
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(destination, destination.stat().st_size, url.get_backend_name())


def holds_data(database_url: str) -> bool:
    """True when any table of the database has a row (a freshly migrated, empty schema holds none)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            for name in inspect(connection).get_table_names():
                if name == "alembic_version":
                    continue
                if connection.execute(select(text("1")).select_from(table(name)).limit(1)).first():
                    return True
        return False
    finally:
        engine.dispose()


def restore(database_url: str, source: Path, *, force: bool = False) -> None:
    """Replace the database's content with the backup's. Stop the web and worker processes first."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # Before anything opens it: SQLite would create a missing file readable by everyone.
        create_private_file(_sqlite_path(url))
    if not force and holds_data(database_url):
        raise BackupError(
            "the database already holds data; restoring would replace it. Pass --force if that is what you want"
        )
    if url.get_backend_name() == "sqlite":
        _restore_sqlite(url, source)
    elif url.get_backend_name() == "postgresql":
        args, env = _libpq(url)
        # One transaction: a restore that fails half-way leaves the database as it was.
        done = subprocess.run(
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                *args,
                str(source),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed (nothing was changed): {done.stderr.strip()[-1000:]}")
    else:
        raise BackupError(f"no restore method for {url.get_backend_name()}")


def _restore_sqlite(url, source: Path) -> None:
    backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        try:
            verdict = backup_db.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source} is not a SQLite backup: {exc}") from None
        if verdict != "ok":
            raise BackupError(f"{source} is damaged: {verdict}")
        target = sqlite3.connect(_sqlite_path(url), timeout=30)
        try:
            backup_db.backup(target)  # replaces every page of the target in one step
        finally:
            target.close()
    finally:
        backup_db.close()
