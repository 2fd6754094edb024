"""Skipped sales a manager acts on: the default filter, re-processing exactly once, marking handled,
audit entries and roles; on SQLite and PostgreSQL, through the real API and the real pages."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dashboard.domain.catalog import ProductRow, import_products
from dashboard.domain.ingestion import IngestRules
from dashboard.domain.skipped_sales import SkippedSaleError, reprocess_attempt
from dashboard.extensions import db
from dashboard.models import AuditEntry, Order, Product, StockMovement, SyncAttempt, SyncLog
from tests.admin.conftest import post_form
from tests.support.sales import bearer, make_sale

TYPO = "CROISANT"  # the till's typo: no such product until the manager adds it


def sync(client, token, *orders) -> dict:
    response = client.post("/api/v1/sync", json={"orders": list(orders)}, headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def rejected_sale(client, token, **overrides) -> tuple[dict, int]:
    """A sale the till sent with an unknown sku, and the id of its skipped-sale record."""
    sale = make_sale(lines=[{"sku": TYPO, "quantity": "2", "unit_price": "1.80"}], cashier="Amal", **overrides)
    body = sync(client, token, sale)
    assert body["results"][0]["reason"] == "unknown_sku"
    attempt_id = db.session.scalar(select(SyncAttempt.id).where(SyncAttempt.offline_id == sale["offline_id"]))
    return sale, attempt_id


def add_typo_product(stock: str = "10") -> None:
    import_products([ProductRow(TYPO, "Croissant (till spelling)", Decimal("1.80"), Decimal(stock))])


def counts() -> dict[str, int]:
    return {
        name: db.session.scalar(select(func.count()).select_from(model))
        for name, model in (
            ("orders", Order),
            ("attempts", SyncAttempt),
            ("logs", SyncLog),
            ("audit", AuditEntry),
            ("movements", StockMovement),
        )
    }


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def attempt(attempt_id: int) -> SyncAttempt:
    db.session.expire_all()
    return db.session.get(SyncAttempt, attempt_id)


def test_ingestion_keeps_what_the_till_sent_as_columns(client, token, catalog):
    sale, attempt_id = rejected_sale(client, token, receipt_number="T01-555001")
    bad_total = make_sale(total="99.99", cashier="Omar")
    sync(client, token, bad_total)
    row = attempt(attempt_id)
    assert (row.receipt_number, row.cashier, row.total) == ("T01-555001", "Amal", Decimal("3.60"))
    assert row.sold_at is not None and row.resolution is None
    # A sale refused before the catalogue was consulted still shows what it claimed to be.
    other = db.session.scalar(select(SyncAttempt).where(SyncAttempt.offline_id == bad_total["offline_id"]))
    assert (other.reason, other.cashier, other.total) == ("total_mismatch", "Omar", Decimal("99.99"))


def keep_replay_row_as_before_0008(sync_id: int, sale: dict) -> int:
    """The sync_attempts row a replay left before migration 0008 (such rows stay in upgraded databases)."""
    order_id = db.session.scalar(select(Order.id).where(Order.offline_id == sale["offline_id"]))
    attempt = SyncAttempt(
        sync_id=sync_id,
        device_id=db.session.scalar(select(SyncLog.device_id).where(SyncLog.id == sync_id)),
        position=0,
        offline_id=sale["offline_id"],
        status="duplicate",
        reason="duplicate",
        order_id=order_id,
        payload=json.dumps(sale),
        receipt_number=sale["receipt_number"],
    )
    db.session.add(attempt)
    db.session.commit()
    return attempt.id


def test_default_filter_shows_what_needs_action_not_replays(client, token, catalog, signed_in):
    stored = make_sale()
    sync(client, token, stored)
    replay = sync(client, token, stored)  # a harmless replay: counted on its call, no skipped-sale row
    assert replay["duplicates"] == 1
    assert db.session.scalar(select(func.count()).select_from(SyncAttempt)) == 0
    assert db.session.get(SyncLog, replay["sync_id"]).plain_replays == 1
    sync(client, token, dict(stored, cashier="Someone else"))  # a conflict
    rejected_sale(client, token, receipt_number="T01-777001")
    viewer = signed_in("viewer")
    default = page(viewer.get("/skipped/sales"))
    assert default.count('class="card skipped-sale"') == 2
    assert "T01-777001" in default and "needs action" in default and "3.60" in default
    assert page(viewer.get("/skipped/sales?state=replays")).count('class="card skipped-sale"') == 0
    # A replay recorded before migration 0008 is still listed under replays.
    keep_replay_row_as_before_0008(replay["sync_id"], stored)
    replays = page(viewer.get("/skipped/sales?state=replays"))
    assert replays.count('class="card skipped-sale"') == 1 and "Sent again" in replays
    assert page(viewer.get("/skipped/sales?state=all")).count('class="card skipped-sale"') == 3
    assert page(viewer.get("/skipped/sales?state=handled")).count('class="card skipped-sale"') == 0
    assert "No skipped sale needs action." not in default
    assert viewer.get("/skipped/sales?state=nonsense").status_code == 200  # falls back to the default


def test_rejected_sale_is_reprocessed_once_after_the_product_is_added(client, token, catalog, signed_in, people):
    sale, attempt_id = rejected_sale(client, token)
    manager = signed_in("manager")
    url = f"/skipped/sales/{attempt_id}/reprocess"

    # Before the product exists the sale is refused again, and stays to be dealt with.
    before = counts()
    response = post_form(manager, url, follow_redirects=True)
    html = page(response)
    assert "The sale was refused again: Unknown product." in html
    assert '<code class="code-detail">unknown_sku</code>' in html
    row = attempt(attempt_id)
    assert (row.resolution, row.retry_reason, row.order_id) == (None, "unknown_sku", None)
    assert counts() == dict(before, audit=before["audit"] + 1)

    add_typo_product(stock="10")
    before = counts()
    html = page(post_form(manager, url, follow_redirects=True))
    row = attempt(attempt_id)
    assert row.resolution == "reprocessed" and row.resolved_by == people["manager"]
    order = db.session.get(Order, row.order_id)
    assert (order.offline_id, order.device_id, order.total, order.status) == (
        sale["offline_id"],
        row.device_id,
        Decimal("3.60"),
        "completed",
    )
    assert order.sync_id == row.sync_id  # filed under the sync call that brought it
    assert f"The sale is stored as order #{order.id}." in html and f'href="/orders/{order.id}"' in html
    assert counts() == dict(
        before, orders=before["orders"] + 1, audit=before["audit"] + 1, movements=before["movements"] + 1
    )
    assert db.session.scalar(select(Product.stock_quantity).where(Product.sku == TYPO)) == Decimal("8")

    # A second click stores nothing more and writes no second audit entry.
    before = counts()
    html = page(post_form(manager, url, follow_redirects=True))
    assert "already dealt with" in html
    assert counts() == before
    assert db.session.scalar(select(Product.stock_quantity).where(Product.sku == TYPO)) == Decimal("8")
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "reprocess_sale").order_by(AuditEntry.id)
    ).all()
    assert [json.loads(entry.details)["outcome"] for entry in entries] == ["rejected", "created"]
    assert {(entry.actor, entry.target_type, entry.target_id) for entry in entries} == {
        (people["manager"], "sync_attempt", attempt_id)
    }

    # The till retrying the sale now gets the re-processed order back as a replay.
    assert sync(client, token, sale)["results"][0] == {
        "offline_id": sale["offline_id"],
        "status": "duplicate",
        "order_id": order.id,
        "invoice_number": order.invoice_number,
    }
    assert page(signed_in("viewer").get("/skipped/sales")).count('class="card skipped-sale"') == 0
    assert "re-processed" in page(signed_in("viewer").get("/skipped/sales?state=handled"))


def test_concurrent_reprocesses_store_one_order(app, client, token, catalog, people):
    """Several threads, each with its own session and connection, click Re-process at the same instant."""
    attempts = [rejected_sale(client, token)[1] for _ in range(3)]
    add_typo_product(stock="100")
    before = counts()
    db.session.remove()
    results: list = []
    threads_per_sale = 4
    barrier = threading.Barrier(threads_per_sale * len(attempts))

    def click(attempt_id: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                results.append(
                    (
                        attempt_id,
                        reprocess_attempt(
                            attempt_id, actor=people["manager"], rules=IngestRules.from_config(app.config)
                        ).status,
                    )
                )
            except SkippedSaleError as exc:
                results.append((attempt_id, exc.code))
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=click, args=(attempt_id,)) for attempt_id in attempts for _ in range(threads_per_sale)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == len(threads)
    for attempt_id in attempts:
        outcomes = sorted(status for a, status in results if a == attempt_id)
        assert outcomes == ["created"] + ["settled"] * (threads_per_sale - 1), outcomes
    assert counts() == dict(
        before, orders=before["orders"] + 3, audit=before["audit"] + 3, movements=before["movements"] + 3
    )
    assert db.session.scalar(select(Product.stock_quantity).where(Product.sku == TYPO)) == Decimal("94")
    assert (
        db.session.scalar(
            select(func.count(func.distinct(SyncAttempt.order_id))).where(
                SyncAttempt.id.in_(attempts), SyncAttempt.resolution == "reprocessed"
            )
        )
        == 3
    )


def test_mark_handled_needs_a_note_and_happens_once(client, token, catalog, signed_in, people):
    stored = make_sale()
    sync(client, token, stored)
    sync(client, token, dict(stored, cashier="Someone else"))
    conflict_id = db.session.scalar(select(SyncAttempt.id).where(SyncAttempt.status == "conflict"))
    replay_id = keep_replay_row_as_before_0008(sync(client, token, stored)["sync_id"], stored)
    _, rejected_id = rejected_sale(client, token)
    manager = signed_in("manager")

    before = counts()
    response = post_form(manager, f"/skipped/sales/{rejected_id}/handle", {"note": "  "})
    assert response.status_code == 400 and attempt(rejected_id).resolution is None and counts() == before

    html = page(
        post_form(
            manager,
            f"/skipped/sales/{rejected_id}/handle",
            {"note": "Rang it up by hand as <b>order 12</b>"},
            follow_redirects=True,
        )
    )
    row = attempt(rejected_id)
    assert (row.resolution, row.resolved_by, row.resolution_note) == (
        "handled",
        people["manager"],
        "Rang it up by hand as <b>order 12</b>",
    )
    assert "Rang it up by hand as &lt;b&gt;order 12&lt;/b&gt;" in html and people["manager"] in html
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "handle_skipped_sale"))
    assert (entry.actor, entry.target_id, json.loads(entry.details)["note"]) == (
        people["manager"],
        rejected_id,
        "Rang it up by hand as <b>order 12</b>",
    )

    before = counts()
    assert "already dealt with" in page(
        post_form(manager, f"/skipped/sales/{rejected_id}/handle", {"note": "again"}, follow_redirects=True)
    )
    assert "already dealt with" in page(
        post_form(manager, f"/skipped/sales/{rejected_id}/reprocess", follow_redirects=True)
    )
    assert counts() == before and attempt(rejected_id).resolution_note == "Rang it up by hand as <b>order 12</b>"

    # A conflict cannot be re-processed (its offline_id is another sale's) but can be marked handled;
    # a replay needs nothing and cannot be.
    assert "Only a rejected sale can be re-processed." in page(
        post_form(manager, f"/skipped/sales/{conflict_id}/reprocess", follow_redirects=True)
    )
    page(
        post_form(
            manager, f"/skipped/sales/{conflict_id}/handle", {"note": "Till reset its ids"}, follow_redirects=True
        )
    )
    assert attempt(conflict_id).resolution == "handled"
    assert "Only a rejected or conflicting sale" in page(
        post_form(manager, f"/skipped/sales/{replay_id}/handle", {"note": "x"}, follow_redirects=True)
    )
    assert attempt(replay_id).resolution is None
    assert manager.get("/skipped/sales/999999").status_code == 404


@pytest.mark.parametrize("role", ["anonymous", "viewer"])
def test_only_managers_act_on_skipped_sales(app, client, token, catalog, signed_in, role):
    _, attempt_id = rejected_sale(client, token)
    add_typo_product()
    actor = app.test_client() if role == "anonymous" else signed_in(role)
    before = counts()
    for url, data in (
        (f"/skipped/sales/{attempt_id}/reprocess", {}),
        (f"/skipped/sales/{attempt_id}/handle", {"note": "done"}),
    ):
        response = post_form(actor, url, data, token_from="/login" if role == "anonymous" else "/")
        if role == "anonymous":
            assert response.status_code == 302 and "/login" in response.headers["Location"]
        else:
            assert response.status_code == 403
    assert counts() == before and attempt(attempt_id).resolution is None
    if role == "viewer":
        html = page(actor.get(f"/skipped/sales/{attempt_id}"))
        assert "Re-process</button>" not in html and 'name="note"' not in html


def test_actions_need_the_csrf_token(client, token, catalog, signed_in):
    _, attempt_id = rejected_sale(client, token)
    add_typo_product()
    manager = signed_in("manager")
    before = counts()
    assert manager.post(f"/skipped/sales/{attempt_id}/reprocess").status_code == 400
    assert manager.post(f"/skipped/sales/{attempt_id}/handle", data={"note": "x"}).status_code == 400
    assert counts() == before and attempt(attempt_id).resolution is None


def test_overview_shows_money_in_rejected_sales(client, token, catalog, signed_in):
    viewer = signed_in("viewer")
    assert "No rejected sale needs action." in page(viewer.get("/"))
    rejected_sale(client, token)
    rejected_sale(client, token)
    _, handled_id = rejected_sale(client, token)
    stored = make_sale()
    sync(client, token, stored, dict(stored, cashier="Someone else"))  # a conflict is not counted
    post_form(signed_in("manager"), f"/skipped/sales/{handled_id}/handle", {"note": "refunded"})
    html = page(viewer.get("/"))
    card = html.split('id="rejected-money"')[1].split("</section>")[0]
    assert "7.20" in card and "2 rejected sales need action" in card
    assert 'href="/skipped/sales?state=action"' in card
