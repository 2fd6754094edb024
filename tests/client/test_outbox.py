"""The till's outbox survives restarts and crashes, and a crash mid-upload is resolved by /sync/status."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from dashboard.client import PENDING, SYNCED, HttpTransport, Till
from dashboard.client.faults import closed_port_url
from tests.client.helpers import BASKET, BASKET_TOTAL, stored_ids, stored_orders
from tests.support.invariants import check_invariants

REPO = Path(__file__).resolve().parents[2]


def run_child(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run a till program in its own Python process, from the checkout."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )


def test_recorded_sale_is_still_there_for_a_new_till_after_the_old_one_was_discarded(tmp_path):
    path = tmp_path / "outbox.db"
    till = Till(path, closed_port_url(), "token", "T03")
    first = till.record_sale(BASKET, cashier="Amal", payments=[{"method": "cash", "amount": BASKET_TOTAL}])
    second = till.record_sale([{"sku": "TEA", "quantity": "1.5", "unit_price": 2}], cashier=None)
    del till  # no sync, no close: the till app is simply gone

    again = Till(path, closed_port_url(), "token", "T03")
    pending = again.pending()
    assert [(s.offline_id, s.receipt_number, s.state) for s in pending] == [
        (first, "T03-000001", PENDING),
        (second, "T03-000002", PENDING),
    ]
    assert pending[0].order == {
        "offline_id": first,
        "receipt_number": "T03-000001",
        "created_at": pending[0].created_at,
        "cashier": "Amal",
        "lines": [
            {"sku": "COFFEE", "quantity": "2", "unit_price": "2.50"},
            {"sku": "BREAD", "quantity": "1", "unit_price": "3.20"},
        ],
        "total": "8.20",
        "payments": [{"method": "cash", "amount": "8.20"}],
    }
    assert pending[1].order["total"] == "3.00" and "payments" not in pending[1].order
    assert datetime.fromisoformat(pending[0].created_at).utcoffset() is not None  # the contract wants an offset
    # The receipt counter lives in the same file: numbering goes on, never restarts.
    third = again.record_sale(BASKET, cashier="Ben")
    assert again.sale(third).receipt_number == "T03-000003"
    journal = again.outbox._conn.execute("PRAGMA journal_mode").fetchone()[0]
    synchronous = again.outbox._conn.execute("PRAGMA synchronous").fetchone()[0]
    assert (journal, synchronous) == ("wal", 2)  # 2 is FULL


def test_a_sale_is_on_disk_when_record_sale_returns_even_if_the_process_is_killed_right_after(tmp_path):
    path = tmp_path / "outbox.db"
    child = run_child(
        """
        import os, signal, sys
        from dashboard.client import Till
        till = Till(sys.argv[1], "http://127.0.0.1:9", "token", "T07")
        print(till.record_sale([{"sku": "COFFEE", "quantity": 1, "unit_price": "2.50"}], cashier="Amal"), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """,
        str(path),
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    offline_id = child.stdout.strip()
    # Read it as any other program would, not through the client.
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT offline_id, receipt_number, state FROM sales").fetchall()
    assert rows == [(offline_id, "T07-000001", "pending")]


def test_an_invalid_sale_is_refused_before_anything_is_written(tmp_path):
    till = Till(tmp_path / "outbox.db", closed_port_url(), "token", "T01")
    with pytest.raises(ValueError, match="payments add up to"):
        till.record_sale(BASKET, cashier="Amal", payments=[{"method": "cash", "amount": "8.00"}])
    with pytest.raises(ValueError, match="quantity must be above zero"):
        till.record_sale([{"sku": "COFFEE", "quantity": 0, "unit_price": "2.50"}], cashier="Amal")
    with pytest.raises(ValueError, match="at most 2 decimals"):
        till.record_sale([{"sku": "COFFEE", "quantity": 1, "unit_price": "2.505"}], cashier="Amal")
    with pytest.raises(ValueError, match="at least one line"):
        till.record_sale([], cashier="Amal")
    assert till.outbox.sales() == []
    offline_id = till.record_sale(BASKET, cashier="Amal")
    assert till.sale(offline_id).receipt_number == "T01-000001"  # refused sales took no number


def test_the_client_imports_and_syncs_without_flask(tmp_path, site, device):
    """The client folder, vendored as a top-level package, with Flask and requests made unimportable."""
    child = run_child(
        """
        import importlib.abc, json, sys

        class Forbid(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"flask", "werkzeug", "requests", "sqlalchemy", "dashboard"}:
                    raise ImportError(f"{name} must not be needed by the till client")
                return None

        sys.meta_path.insert(0, Forbid())
        sys.path.insert(0, sys.argv[1])
        import client
        till = client.Till(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
        offline_id = till.record_sale([{"sku": "COFFEE", "quantity": 1, "unit_price": "2.50"}], cashier="Amal")
        report = till.sync()
        sale = till.sale(offline_id)
        print(json.dumps({"ok": report.ok, "created": report.created, "state": sale.state,
                          "offline_id": offline_id, "order_id": sale.order_id,
                          "flask": "flask" in sys.modules}))
    """,
        str(REPO / "dashboard"),
        str(tmp_path / "outbox.db"),
        site.server.url,
        device.token,
        device.name,
    )
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout)
    assert result["ok"] and result["created"] == 1 and result["state"] == SYNCED and not result["flask"]
    assert stored_ids(site.database_url, device.name)[result["offline_id"]][0] == result["order_id"]


class RecordingTransport(HttpTransport):
    """The real transport, remembering which calls the till made."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, int]] = []

    def post_sync(self, body):
        self.calls.append(("sync", len(json.loads(body)["orders"])))
        return super().post_sync(body)

    def sync_status(self, offline_ids):
        self.calls.append(("status", len(offline_ids)))
        return super().sync_status(offline_ids)


def test_till_killed_between_send_and_answer_asks_status_and_does_not_resend(tmp_path, site, device):
    url, token = site.server.url, device.token
    path = tmp_path / "outbox.db"
    child = run_child(
        """
        import os, signal, sys
        from dashboard.client import HttpTransport, Till

        class DieBeforeReadingAnswer(HttpTransport):
            def post_sync(self, body):
                super().post_sync(body)  # the server stored the batch and answered...
                os.kill(os.getpid(), signal.SIGKILL)  # ...and the till dies before using the answer

        path, url, token, prefix = sys.argv[1:5]
        till = Till(path, url, token, prefix, transport=DieBeforeReadingAnswer(url, token))
        for n in range(1, 6):
            till.record_sale([{"sku": "COFFEE", "quantity": n, "unit_price": "2.50"}], cashier="Amal")
        till.sync()
    """,
        str(path),
        url,
        token,
        device.name,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr

    transport = RecordingTransport(url, token)
    till = Till(path, url, token, device.name, transport=transport)
    interrupted = till.outbox.in_flight()
    assert len(interrupted) == 5 and len({sale.in_flight for sale in interrupted}) == 1
    stored = stored_ids(site.database_url, device.name)
    assert {sale.offline_id for sale in interrupted} == set(stored)

    report = till.sync()
    assert report.ok and report.recovered == 5 and report.created == report.duplicate == 0
    assert transport.calls == [("status", 5)]  # asked first, and nothing needed resending
    for sale in till.synced():
        assert (sale.order_id, sale.invoice_number) == stored[sale.offline_id]
        assert sale.status == "recovered" and sale.in_flight is None
    assert stored_ids(site.database_url, device.name) == stored
    check_invariants(site.database_url)


class CrashBeforeSending(BaseException):
    """The process dies: nothing in the till may catch this and tidy up."""


class DieBeforeSending(HttpTransport):
    def post_sync(self, body):
        raise CrashBeforeSending("the till died after marking the upload, before it went out")


def test_crash_before_the_request_left_is_resent_after_the_status_check(tmp_path, site, device):
    path, url, token = tmp_path / "outbox.db", site.server.url, device.token
    dying = Till(path, url, token, device.name, transport=DieBeforeSending(url, token))
    sold = [dying.record_sale(BASKET, cashier="Amal") for _ in range(3)]
    with pytest.raises(CrashBeforeSending):
        dying.sync()
    assert len(dying.outbox.in_flight()) == 3
    del dying

    transport = RecordingTransport(url, token)
    till = Till(path, url, token, device.name, transport=transport)
    report = till.sync()
    assert report.ok and report.recovered == 0 and report.created == 3
    assert transport.calls == [("status", 3), ("sync", 3)]
    stored = stored_ids(site.database_url, device.name)
    assert set(stored) == set(sold)
    assert {(s.offline_id, s.order_id, s.invoice_number) for s in till.synced()} == {
        (offline_id, *stored[offline_id]) for offline_id in sold
    }
    assert sorted(order["receipt_number"] for order in stored_orders(site.database_url, device.name)) == [
        f"{device.name}-00000{n}" for n in (1, 2, 3)
    ]
    check_invariants(site.database_url)
