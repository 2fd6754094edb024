"""`flask db upgrade` builds exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from dashboard.extensions import db

# Alembic cannot reflect expression indexes; the test at the end checks those two directly.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
    pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index"),
]


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

    insert = text(
        "INSERT INTO orders (offline_id, receipt_number, invoice_number, device_id, store_id, created_at, "
        "received_at, total, status, fingerprint, receipt_number_collision, legacy_id) VALUES "
        "(:oid, 'R', :inv, 1, 1, '2026-01-01', '2026-01-01', 1, 'completed', 'f', false, :legacy)"
    )
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO devices (name, store_id, created_at) VALUES ('T', 1, '2026-01-01')"))
        conn.execute(insert, {"oid": "a", "inv": "I-1", "legacy": None})
        conn.execute(insert, {"oid": "a", "inv": "I-2", "legacy": "L1"})
        conn.execute(insert, {"oid": "a", "inv": "I-1", "legacy": "L2"})
    for oid, inv in (("a", "I-9"), ("b", "I-1")):
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(insert, {"oid": oid, "inv": inv, "legacy": None})


def test_upgrade_from_0002_fills_in_what_existing_skipped_sales_sent(app):
    """Attempts stored before 0003 get receipt, cashier, amount and sale time from their payloads, in chunks."""
    import json
    from datetime import datetime, timezone
    from decimal import Decimal

    from sqlalchemy import select, text

    from dashboard.models import SyncAttempt

    db.session.remove()
    downgrade(revision="0002")
    good = {
        "offline_id": "x",
        "receipt_number": " T01-000042 ",
        "cashier": "أمل",
        "total": "8.20",
        "created_at": "2026-11-25T09:58:11+01:00",
        "lines": [],
    }
    payloads = [
        json.dumps(good, ensure_ascii=False),
        "not json",
        json.dumps([1, 2]),
        json.dumps({"total": "1.234", "created_at": "yesterday", "cashier": 7}),
        json.dumps({"total": 5, "receipt_number": "R" * 80}),
    ]
    filler = json.dumps({"receipt_number": "F", "total": "1.00"})
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO devices (name, created_at) VALUES ('T01', '2026-11-25')"))
        conn.execute(
            text(
                "INSERT INTO sync_logs (device_id, started_at, duration_ms, http_status, received, "
                "created, duplicates, conflicts, rejected) VALUES (1, '2026-11-25', 0, 200, 1, 0, 0, 0, 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sync_attempts (sync_id, device_id, position, status, reason, payload, "
                "received_at) VALUES (1, 1, :n, 'rejected', 'unknown_sku', :payload, '2026-11-25')"
            ),
            [{"n": n, "payload": payload} for n, payload in enumerate(payloads + [filler] * 1200)],
        )
    upgrade()
    rows = db.session.execute(select(SyncAttempt).order_by(SyncAttempt.id)).scalars().all()
    assert len(rows) == 1205
    first, not_json, a_list, malformed, numeric = rows[:5]
    assert (first.receipt_number, first.cashier, first.total) == ("T01-000042", "أمل", Decimal("8.20"))
    assert first.sold_at == datetime(2026, 11, 25, 8, 58, 11, tzinfo=timezone.utc)
    for row in (not_json, a_list, malformed):
        assert (row.receipt_number, row.cashier, row.total, row.sold_at) == (None, None, None, None)
    assert (numeric.total, numeric.receipt_number) == (Decimal("5.00"), "R" * 64)
    assert {(row.receipt_number, row.total) for row in rows[5:]} == {("F", Decimal("1.00"))}
    assert all(row.resolution is None for row in rows)


def test_upgrade_to_0007_moves_refused_calls_out_of_the_sync_log_into_counts(app):
    """Refused calls logged a row each before 0007 become counts per minute, till and code; accepted calls stay."""
    from datetime import datetime, timezone

    from sqlalchemy import select, text

    from dashboard.models import RefusedCalls, SyncLog

    db.session.remove()
    downgrade(revision="0006")
    insert = text(
        "INSERT INTO sync_logs (device_id, started_at, duration_ms, http_status, error_code, received, "
        "created, duplicates, conflicts, rejected) VALUES (:device, :at, 0, :status, :code, 0, 0, 0, 0, 0)"
    )
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO devices (name, created_at) VALUES ('T01', '2026-11-25')"))
        conn.execute(
            insert,
            [
                {"device": 1, "at": "2026-11-25 10:00:01", "status": 200, "code": None},
                {"device": None, "at": "2026-11-25 10:00:05", "status": 401, "code": "unknown_token"},
                {"device": None, "at": "2026-11-25 10:00:59", "status": 401, "code": "unknown_token"},
                {"device": None, "at": "2026-11-25 10:01:00", "status": 401, "code": "unknown_token"},
                {"device": 1, "at": "2026-11-25 10:00:30", "status": 429, "code": "rate_limited"},
            ],
        )
    upgrade()
    assert [(log.http_status, log.device_id) for log in db.session.scalars(select(SyncLog))] == [(200, 1)]
    counts = {
        (row.minute, row.source, row.device_id, row.http_status, row.error_code): row.count
        for row in db.session.scalars(select(RefusedCalls))
    }
    at = lambda minute: datetime(2026, 11, 25, 10, minute, tzinfo=timezone.utc)  # noqa: E731
    assert counts == {
        (at(0), "address:unknown", None, 401, "unknown_token"): 2,
        (at(1), "address:unknown", None, 401, "unknown_token"): 1,
        (at(0), "device:1", 1, 429, "rate_limited"): 1,
    }


def test_upgrade_from_0006_moves_a_single_shop_into_the_default_store(app):
    """Every till, sale and movement lands in the default store; its stock is the products' stock; no amount
    changes; and the books still satisfy every invariant (on SQLite and PostgreSQL)."""
    from decimal import Decimal

    from sqlalchemy import text

    from tests.support.invariants import check_invariants

    db.session.remove()
    downgrade(revision="0006")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO devices (id, name, token_hash, created_at) VALUES (1, 'T01', 'h1', '2026-11-25'), "
                "(2, 'OLD', NULL, '2026-11-25')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO products (id, sku, name, price, opening_stock, stock_quantity, created_at) "
                "VALUES (1, 'COFFEE', 'Coffee', 2.50, 100, 97, '2026-11-25'), "
                "(2, 'TEA', 'Tea', 2.00, 10, 10, '2026-11-25')"
            )
        )
        for order_id, device in ((1, 1), (2, 2)):
            conn.execute(
                text(
                    "INSERT INTO orders (id, offline_id, receipt_number, invoice_number, device_id, created_at, received_at, "
                    "total, status, fingerprint, receipt_number_collision) VALUES (:id, :oid, :inv, :dev, :dev, "
                    "'2026-11-25 10:00:00', '2026-11-25 10:00:01', 3.75, 'completed', 'f', false)"
                ),
                {
                    "id": order_id,
                    "oid": f"00000000-0000-4000-8000-00000000000{order_id}",
                    "inv": f"R-{order_id}",
                    "dev": device,
                },
            )
        conn.execute(
            text(
                "INSERT INTO order_lines (id, order_id, line_no, product_id, sku, quantity, unit_price, status) "
                "VALUES (1, 1, 1, 1, 'COFFEE', 1.5, 2.50, 'completed'), (2, 2, 1, 1, 'COFFEE', 1.5, 2.50, "
                "'completed')"
            )
        )
        conn.execute(text("INSERT INTO payments (order_id, method, amount) VALUES (1, 'cash', 3.75)"))
        conn.execute(
            text(
                "INSERT INTO stock_movements (product_id, order_line_id, quantity_delta, kind, created_at) "
                "VALUES (1, 1, -1.5, 'sale', '2026-11-25'), (1, 2, -1.5, 'sale', '2026-11-25')"
            )
        )
    upgrade()
    with db.engine.connect() as conn:
        default = conn.execute(text("SELECT id FROM stores WHERE is_default AND code = 'MAIN'")).scalar_one()
        for table in ("devices", "orders", "stock_movements"):
            stores = conn.execute(text(f"SELECT DISTINCT store_id FROM {table}")).scalars().all()
            assert stores == [default], table
        levels = conn.execute(
            text(
                "SELECT product_id, opening_quantity, quantity FROM stock_levels "
                "WHERE store_id = :s ORDER BY product_id"
            ),
            {"s": default},
        ).all()
        assert [(p, Decimal(str(o)), Decimal(str(q))) for p, o, q in levels] == [
            (1, Decimal(100), Decimal(97)),
            (2, Decimal(10), Decimal(10)),
        ]
        amounts = conn.execute(
            text(
                "SELECT o.total, l.unit_price, p.price FROM orders o JOIN order_lines l "
                "ON l.order_id = o.id JOIN products p ON p.id = l.product_id WHERE o.id = 1"
            )
        ).one()
        assert [Decimal(str(a)) for a in amounts] == [Decimal("3.75"), Decimal("2.50"), Decimal("2.50")]
        conn.execute(text("UPDATE orders SET total = 1.125 WHERE id = 2"))
        assert Decimal(str(conn.execute(text("SELECT total FROM orders WHERE id = 2")).scalar())) == Decimal("1.125")
        conn.rollback()
    check_invariants(db.engine)


def test_upgrade_to_0012_labels_existing_groups_with_their_one_store(app):
    """A group whose orders are all in one store gets that store; one spanning two stores gets none (chain-wide);
    plans, fixes and audit entries written before stay chain-wide; nobody is limited to a store."""
    from sqlalchemy import text

    db.session.remove()
    downgrade(revision="0011")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stores (id, code, name, is_default, created_at) VALUES (2, 'AMM', 'Amman', false, '2026-11-25')"
            )
        )
        main = conn.execute(text("SELECT id FROM stores WHERE code = 'MAIN'")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO devices (id, name, store_id, created_at) VALUES (1, 'T01', :m, '2026-11-25'), (2, 'A01', 2, '2026-11-25')"
            ),
            {"m": main},
        )
        for order_id, device, store in ((1, 1, main), (2, 1, main), (3, 2, 2)):
            conn.execute(
                text(
                    "INSERT INTO orders (id, offline_id, receipt_number, invoice_number, device_id, store_id, created_at, "
                    "received_at, total, status, fingerprint, receipt_number_collision) VALUES (:id, :oid, 'R', :inv, "
                    ":dev, :store, '2026-11-25', '2026-11-25', 1, 'completed', 'f', false)"
                ),
                {"id": order_id, "oid": f"o{order_id}", "inv": f"I-{order_id}", "dev": device, "store": store},
            )
        conn.execute(
            text(
                "INSERT INTO duplicate_groups (id, kind, group_key, confidence, status, detected_at, order_count) VALUES "
                "(1, 'same_invoice', 'a', 'certain', 'open', '2026-11-25', 2), "
                "(2, 'double_entry', 'b', 'review', 'open', '2026-11-25', 2)"
            )
        )
        conn.execute(
            text("INSERT INTO duplicate_group_members (group_id, order_id) VALUES (1, 1), (1, 2), (2, 2), (2, 3)")
        )
    upgrade()
    with db.engine.connect() as conn:
        labels = dict(conn.execute(text("SELECT id, store_id FROM duplicate_groups ORDER BY id")).all())
        assert labels == {1: main, 2: None}
        assert conn.execute(text("SELECT COUNT(*) FROM user_stores")).scalar() == 0
