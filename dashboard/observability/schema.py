"""Is the database at the head migration? Asked by /readyz and, until it says yes, by the tills' API."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
_READY_KEY = "tillsync_schema_ready"
# An unmigrated database is logged at ERROR at most this often per process, not once per till request.
_LOG_EVERY_SECONDS = 60.0


class SchemaNotReady(Exception):
    """The database has not been migrated to the revision this code needs."""


@dataclass(frozen=True)
class SchemaState:
    current: tuple[str, ...]
    head: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return set(self.current) == set(self.head)

    def describe(self) -> str:
        if self.ready:
            return f"at head {', '.join(self.head)}"
        current = f"at {', '.join(self.current)}" if self.current else "no migrations applied"
        return f"{current}, the code needs {', '.join(self.head)}: run `flask db upgrade`"


def head_revisions() -> tuple[str, ...]:
    """The newest revision(s) in migrations/, read once per process."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    heads = app.extensions.get("tillsync_schema_heads")
    if heads is None:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(app.extensions["migrate"].directory or MIGRATIONS))
        heads = tuple(sorted(ScriptDirectory.from_config(config).get_heads()))
        app.extensions["tillsync_schema_heads"] = heads
    return heads


def schema_state() -> SchemaState:
    """Where the database is; raises SQLAlchemyError when it cannot be reached."""
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection:
        current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    return SchemaState(current=current, head=head_revisions())


def ensure_schema_ready() -> None:
    """Raise SchemaNotReady unless the database is at head; once it is, this process stops asking."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.extensions.get(_READY_KEY):
        return
    state = schema_state()
    if not state.ready:
        _log_not_ready(state)
        raise SchemaNotReady(state.describe())
    app.extensions[_READY_KEY] = True


def schema_explains_failure() -> SchemaState | None:
    """After a database error: the schema state if it is behind (say a restore of an older backup
    under a running server), else None. Forgets that the schema was ready, so it is asked again."""
    current_app.extensions.pop(_READY_KEY, None)
    try:
        db.session.rollback()
        state = schema_state()
    except SQLAlchemyError:
        return None
    if state.ready:
        current_app.extensions[_READY_KEY] = True
        return None
    _log_not_ready(state)
    return state


def _log_not_ready(state: SchemaState) -> None:
    extensions = current_app.extensions
    now = time.monotonic()
    last = extensions.get("tillsync_schema_logged_at")
    if last is None or now - last >= _LOG_EVERY_SECONDS:
        extensions["tillsync_schema_logged_at"] = now
        log.error(
            "database schema not ready (%s); tills are answered 503 schema_not_ready",
            state.describe(),
            extra={"event": "schema_not_ready"},
        )
