"""`flask db upgrade` builds exactly the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from dashboard.extensions import db

# Alembic cannot reflect expression indexes; the test at the end checks those two directly.
pytestmark = [pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
              pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")]


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


def test_unique_keys_hold_for_synced_sales_and_let_legacy_duplicates_in(app):
    """Alembic cannot compare expression indexes, so the two that make sync exactly-once are checked here."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    insert = text("INSERT INTO orders (offline_id, receipt_number, invoice_number, device_id, created_at, "
                  "received_at, total, status, fingerprint, receipt_number_collision, legacy_id) VALUES "
                  "(:oid, 'R', :inv, 1, '2026-01-01', '2026-01-01', 1, 'completed', 'f', false, :legacy)")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO devices (name, created_at) VALUES ('T', '2026-01-01')"))
        conn.execute(insert, {"oid": "a", "inv": "I-1", "legacy": None})
        conn.execute(insert, {"oid": "a", "inv": "I-2", "legacy": "L1"})
        conn.execute(insert, {"oid": "a", "inv": "I-1", "legacy": "L2"})
    for oid, inv in (("a", "I-9"), ("b", "I-1")):
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(insert, {"oid": oid, "inv": inv, "legacy": None})
