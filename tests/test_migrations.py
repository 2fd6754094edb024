"""`flask db upgrade` builds exactly the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from dashboard.extensions import db


def test_migrations_match_the_models(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_migrations_downgrade_and_upgrade_again(app):
    db.session.remove()
    downgrade(revision="base")
    upgrade()
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []
