"""A fix plan over two stores with different currencies (Amman in 3-decimal dinars, Riyadh in riyals):
the money it removes is given per currency, never as one meaningless sum, on the plan's page, in its CSV
and in the fixes list. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import uuid

from babel.numbers import format_currency
from sqlalchemy import select

from dashboard.domain.catalog import import_products, read_products_csv
from dashboard.domain.devices import add_device
from dashboard.domain.duplicates import run_scan
from dashboard.domain.fix_plans import open_certain_selection, revenue_removed
from dashboard.domain.fixes import apply_plan, approve_plan, compute_plan, request_plan
from dashboard.domain.stores import add_store
from dashboard.extensions import db
from dashboard.models import FixPlan
from tests.domain.test_stores import level, sync
from tests.support.invariants import check_invariants
from tests.support.sales import make_sale


def resend_twice(client, token: str, prefix: str, lines: list[dict], total: str) -> None:
    """A buggy till's sale stored twice: the same sale re-sent under a new offline_id."""
    sale = make_sale(prefix=prefix, lines=lines, total=total, payments=False)
    sale["payments"] = [{"method": "cash", "amount": total}]
    for copy in (sale, {**sale, "offline_id": str(uuid.uuid4())}):
        [result] = sync(client, token, [copy])
        assert result["status"] == "created", result


def test_a_plan_over_two_currencies_totals_each_in_its_own(app, client, catalog, signed_in):
    add_store("AMM", name="Amman", time_zone="Asia/Amman", currency="JOD")
    add_store("RUH", name="Riyadh", time_zone="Asia/Riyadh", currency="SAR")
    import_products(read_products_csv("sku,name,price,stock_quantity,store\nCOFFEE,Coffee,2.50,40,AMM\n"))
    amman, riyadh = add_device("A01", store="AMM"), add_device("R01", store="RUH")
    resend_twice(client, amman, "A01", [{"sku": "COFFEE", "quantity": "3", "unit_price": "1.125"}], "3.375")
    resend_twice(client, riyadh, "R01", [{"sku": "COFFEE", "quantity": "2", "unit_price": "2.50"}], "5.00")
    run_scan(trigger="test", actor="test")
    plan_id = request_plan(open_certain_selection(), "manager@example.com")
    digest = compute_plan(plan_id)

    document = db.session.scalar(select(FixPlan.plan).where(FixPlan.id == plan_id))
    totals = json.loads(document)["totals"]
    assert totals["orders_voided"] == 2
    # Each currency to its own minor units: fils of the dinar, halalas of the riyal; never 8.375 of nothing.
    assert totals["revenue_removed"] == {"JOD": "3.375", "SAR": "5.00"}

    viewer = signed_in("viewer")
    page = viewer.get(f"/fix-plans/{plan_id}").get_data(as_text=True)
    summary = page.split('id="summary"')[1].split("</section>")[0]
    jod, sar = format_currency(3.375, "JOD", locale="en"), format_currency(5, "SAR", locale="en")
    assert f"{jod} + {sar} of sales taken out of the books" in summary
    assert f"<dd>{jod}</dd><dd>{sar}</dd>" in summary
    assert "8.375" not in page and "8.38" not in page
    steps = page.split('id="actions"')[1]
    assert f"{jod}, 3 × " in steps and f"{sar}, 2 × " in steps  # each voided sale in its store's currency

    rows = list(csv.reader(io.StringIO(viewer.get(f"/fix-plans/{plan_id}/plan.csv").get_data(as_text=True)[1:])))
    assert rows[0][9:] == ["amount (EUR)", "currency"]
    voids = [row for row in rows[1:] if row and row[2] == "void_order"]
    assert sorted((row[9], row[10]) for row in voids) == [("3.375", "JOD"), ("5.00", "SAR")]
    compensations = [row for row in rows[1:] if row and row[2] == "compensate"]
    assert compensations and all(row[9:] == ["", ""] for row in compensations)
    assert [row for row in rows if row[:2] == ["total", "revenue_removed"]] == [
        ["total", "revenue_removed", "3.375", "JOD"],
        ["total", "revenue_removed", "5.00", "SAR"],
    ]

    approve_plan(plan_id, digest, "manager@example.com")
    result = apply_plan(plan_id, "manager@example.com")
    assert result.summary["revenue_removed"] == {"JOD": "3.375", "SAR": "5.00"}
    assert level("AMM", "COFFEE") == 37 and level("RUH", "COFFEE") == -2  # each store got its copy's stock back
    check_invariants(db.engine)
    fixes = signed_in("viewer").get("/fixes").get_data(as_text=True)
    assert f"{jod} + {sar} revenue and 5 units removed" in fixes


def test_a_plan_stored_before_totals_per_currency_reads_in_the_shops_currency(app):
    assert revenue_removed({"revenue_removed": "12.5"}, "EUR") == [("EUR", "12.5")]
    assert revenue_removed({"revenue_removed": {"JOD": "0.125", "SAR": "1.00"}}, "EUR") == [
        ("JOD", "0.125"),
        ("SAR", "1.00"),
    ]
    assert revenue_removed({}, "EUR") == []
