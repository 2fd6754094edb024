"""POST /api/v1/closings: a till's daily close against the server's books, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select

from dashboard.domain.duplicates import run_scan
from dashboard.domain.fix_plans import open_certain_selection
from dashboard.domain.fixes import fix_now
from dashboard.extensions import db
from dashboard.models import Closing
from tests.support.sales import bearer, make_sale

# Yesterday in the dashboard's zone (UTC in the tests): wholly in the past, whatever the hour now.
DAY = datetime.now(timezone.utc).date() - timedelta(days=1)


def at(hour: int, minute: int = 0, day: date = DAY) -> str:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.utc).isoformat()


def day_sales(count: int, *, day: date = DAY, prefix: str = "T01") -> list[dict]:
    return [make_sale(prefix=prefix, created_at=at(9 + n // 60, n % 60, day)) for n in range(count)]


def sync(client, token, orders):
    response = client.post("/api/v1/sync", json={"orders": orders}, headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def close_of(sales: list[dict], *, ids: bool = True, day: date = DAY, **overrides) -> dict:
    total = sum((Decimal(sale["total"]) for sale in sales), Decimal(0))
    body = {
        "business_day": day.isoformat(),
        "sales_count": len(sales),
        "sales_total": str(total),
        "first_receipt": sales[0]["receipt_number"] if sales else None,
        "last_receipt": sales[-1]["receipt_number"] if sales else None,
    }
    if ids:
        body["offline_ids"] = [sale["offline_id"] for sale in sales]
    body.update(overrides)
    return body


def send_close(client, token, body, status: int = 200) -> dict:
    response = client.post("/api/v1/closings", json=body, headers=bearer(token))
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def differences(answer: dict) -> dict:
    return {d["kind"]: d for d in answer["differences"]}


def closings_of_day() -> list[Closing]:
    return db.session.scalars(select(Closing).where(Closing.business_day == DAY).order_by(Closing.id)).all()


def test_a_close_of_every_stored_sale_is_matched_and_resending_it_changes_nothing(client, token, catalog):
    sales = day_sales(3)
    sync(client, token, sales)
    answer = send_close(client, token, close_of(sales))
    assert (answer["status"], answer["record"], answer["current"]) == ("matched", "recorded", True)
    assert answer["business_day"] == DAY.isoformat() and answer["time_zone"] == "UTC"
    assert answer["till"] == answer["server"] == {"count": 3, "total": "24.60"}
    assert answer["differences"] == []
    for _ in range(2):
        again = send_close(client, token, close_of(sales))
        assert (again["status"], again["record"], again["closing_id"]) == ("matched", "unchanged", answer["closing_id"])
    stored = closings_of_day()
    assert (
        len(stored) == 1
        and stored[0].status_at_receipt == "matched"
        and stored[0].first_receipt == sales[0]["receipt_number"]
    )


def test_a_close_sent_while_sales_are_in_the_outbox_shows_them_pending_then_matched(client, token, catalog):
    sales = day_sales(4)
    sync(client, token, sales[:1])
    answer = send_close(client, token, close_of(sales))
    assert answer["status"] == "differs" and answer["server"] == {"count": 1, "total": "8.20"}
    pending = differences(answer)
    assert set(pending) == {"pending"}
    assert pending["pending"]["count"] == 3 and pending["pending"]["amount"] == "24.60"
    assert sorted(pending["pending"]["offline_ids"]) == sorted(s["offline_id"] for s in sales[1:])
    assert closings_of_day()[0].status_at_receipt == "differs"

    sync(client, token, sales[1:])
    again = send_close(client, token, close_of(sales))  # recomputed: the same close, now matched
    assert (again["status"], again["record"], again["differences"]) == ("matched", "unchanged", [])
    assert len(closings_of_day()) == 1


def test_a_close_without_ids_is_compared_by_count_and_total(client, token, catalog):
    sales = day_sales(3)
    sync(client, token, sales[:2])
    answer = send_close(client, token, close_of(sales, ids=False))
    assert answer["status"] == "differs"
    assert differences(answer)["pending"] | {"offline_ids": None} == {
        "kind": "pending",
        "count": 1,
        "amount": "8.20",
        "offline_ids": None,
    }
    sync(client, token, sales[2:])
    assert send_close(client, token, close_of(sales, ids=False))["status"] == "matched"


def test_a_later_different_close_replaces_the_earlier_and_both_stay_in_history(client, token, catalog):
    sales = day_sales(3)
    sync(client, token, sales)
    first = send_close(client, token, close_of(sales[:2]))
    assert first["status"] == "differs" and set(differences(first)) == {"not_counted"}
    second = send_close(client, token, close_of(sales))
    assert (second["record"], second["status"], second["current"]) == ("replaced", "matched", True)
    history = closings_of_day()
    assert [(c.id, c.replaced_at is None) for c in history] == [
        (first["closing_id"], False),
        (second["closing_id"], True),
    ]
    assert history[0].replaced_by_id == second["closing_id"]
    late_copy = send_close(client, token, close_of(sales[:2]))  # a delayed retry of the first: a replay
    assert (late_copy["record"], late_copy["current"], late_copy["closing_id"]) == (
        "unchanged",
        False,
        first["closing_id"],
    )
    assert len(closings_of_day()) == 2


def test_rejected_sales_of_the_day_are_named_as_skipped(client, token, catalog):
    good = day_sales(2)
    bad = make_sale(created_at=at(15), lines=[{"sku": "NOPE", "quantity": "1", "unit_price": "4.00"}])
    answer = sync(client, token, good + [bad])
    assert answer["rejected"] == 1
    for ids in (True, False):
        close = send_close(client, token, close_of(good + [bad], ids=ids))
        found = differences(close)
        assert close["status"] == "differs" and set(found) == {"rejected"}, close
        assert (found["rejected"]["count"], found["rejected"]["amount"]) == (1, "4.00")
        assert found["rejected"]["offline_ids"] == [bad["offline_id"]]


def test_another_days_and_another_tills_sales_do_not_count(client, token, other_token, catalog):
    sales = day_sales(2)
    sync(client, token, sales + day_sales(1, day=DAY - timedelta(days=1)))
    sync(client, other_token, day_sales(2, prefix="T02"))
    assert send_close(client, token, close_of(sales))["status"] == "matched"
    assert send_close(client, token, close_of(sales, ids=False))["status"] == "matched"
    empty = send_close(client, token, close_of([], day=DAY - timedelta(days=2)))
    assert empty["status"] == "matched" and empty["server"] == {"count": 0, "total": "0.00"}


def test_a_resent_copy_is_a_duplicate_until_fixed_then_the_close_matches(client, token, catalog):
    sales = day_sales(2)
    copy = dict(sales[1], offline_id=str(uuid.uuid4()), receipt_number="T01-RESENT")
    sync(client, token, sales)
    sync(client, token, [copy])
    till_counts = [sales[0], copy]  # the till kept the copy's id (it renumbered the sale on a retry)
    assert set(differences(send_close(client, token, close_of(till_counts)))) == {"not_counted"}
    run_scan(trigger="test", actor="test")
    found = differences(send_close(client, token, close_of(till_counts)))
    assert set(found) == {"duplicate"} and found["duplicate"]["count"] == 1
    assert found["duplicate"]["amount"] == "-8.20"
    by_count = differences(send_close(client, token, close_of(till_counts, ids=False)))
    assert [(d["kind"], d["count"], d["amount"]) for d in by_count.values()] == [("duplicate", 1, "-8.20")]
    fix_now(open_certain_selection(), "manager@example.com")
    # The fix kept the first copy received and voided the till's: the kept copy stands for it.
    assert send_close(client, token, close_of(till_counts))["status"] == "matched"
    assert send_close(client, token, close_of(till_counts, ids=False))["status"] == "matched"


def test_closings_refuse_what_they_cannot_read(client, token, catalog):
    sales = day_sales(2)
    ok = close_of(sales)
    cases = [
        ({**ok, "business_day": "yesterday"}, "business_day"),
        ({**ok, "business_day": "1999-12-31"}, "business_day"),
        ({**ok, "business_day": (DAY + timedelta(days=5)).isoformat()}, "business_day"),
        ({**ok, "sales_count": -1}, "sales_count"),
        ({**ok, "sales_count": True}, "sales_count"),
        ({**ok, "sales_total": "1.005"}, "sales_total"),
        ({**ok, "sales_total": "-2"}, "sales_total"),
        ({**ok, "sales_count": 3}, "offline_ids lists 2"),
        ({**ok, "offline_ids": ["not-a-uuid", sales[1]["offline_id"]]}, "offline_ids[0]"),
        ({**ok, "offline_ids": [sales[0]["offline_id"]] * 2}, "more than once"),
        ({**ok, "first_receipt": "T01\u202e1"}, "first_receipt"),
    ]
    for body, named in cases:
        answer = send_close(client, token, body, 422)
        assert answer["error"] == "invalid_closing" and named in answer["message"], (body, answer)
    assert send_close(client, token, [ok], 400)["error"] == "invalid_request"
    response = client.post("/api/v1/closings", data=b"{", headers={**bearer(token), "Content-Type": "application/json"})
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_json"
    assert client.post("/api/v1/closings", json=ok).get_json()["error"] == "missing_token"
    assert db.session.scalar(select(func.count(Closing.id))) == 0


def test_too_many_ids_is_a_422_the_till_can_act_on(app, client, token, catalog):
    app.config["CLOSING_MAX_OFFLINE_IDS"] = 2
    sales = day_sales(3)
    answer = send_close(client, token, close_of(sales), 422)
    assert answer["error"] == "too_many_ids"
    assert send_close(client, token, close_of(sales, ids=False))["status"] == "differs"


def test_the_contract_documents_every_closing_code():
    from pathlib import Path

    from dashboard.vocabulary import ClosingDifference, ClosingRecord, ClosingStatus

    contract = (Path(__file__).resolve().parents[2] / "docs/sync-protocol.md").read_text()
    codes = [
        *ClosingDifference,
        *ClosingRecord,
        ClosingStatus.MATCHED,
        ClosingStatus.DIFFERS,
        "invalid_closing",
        "too_many_ids",
    ]
    assert [code for code in codes if f"| `{code}` |" not in contract] == []
