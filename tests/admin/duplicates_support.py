"""Helpers for the duplicate review screens: legacy books with one group of each kind, and a real RQ worker."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from dashboard.domain.duplicates import run_scan
from dashboard.extensions import db
from dashboard.models import DuplicateGroup, Order
from tests.domain.legacy_data import RECORDS, write_legacy_file

_PLAN_URL = re.compile(r"/fix-plans/(\d+)$")


@dataclass
class Books:
    groups: dict[str, int]  # kind -> group id
    orders: dict[str, int]  # legacy id -> order id


def import_legacy(app, path: Path, records=None) -> None:
    write_legacy_file(path, records if records is not None else RECORDS)
    result = app.test_cli_runner().invoke(args=["legacy", "import", str(path)])
    assert result.exit_code == 0, result.output


def scanned_books(app, tmp_path: Path, records=None) -> Books:
    """Import the legacy file (one group of every kind), scan it, and name what was found."""
    import_legacy(app, tmp_path / "old.jsonl", records)
    run_scan(trigger="test", actor="scanner@example.com")
    groups = {
        kind: group_id
        for group_id, kind in db.session.execute(
            select(DuplicateGroup.id, DuplicateGroup.kind).order_by(DuplicateGroup.id)
        )
    }
    orders = dict(db.session.execute(select(Order.legacy_id, Order.id).where(Order.legacy_id.is_not(None))).all())
    db.session.rollback()
    return Books(groups, orders)


def plan_id_of(response) -> int:
    """The plan a preview request redirected to."""
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    match = _PLAN_URL.search(response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))
