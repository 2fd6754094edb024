"""People limited to a store see and change only that store's data, on every route; on SQLite and PostgreSQL.

A chain of two stores: MAIN (till T01) and AMM (till A01, Jordanian dinars). Each has a created sale, a
re-sent copy of it stored twice (a duplicate group), and a rejected sale; MAIN also has a fix plan and
an applied fix. A manager and a viewer limited to AMM must find AMM's data and nothing of MAIN's: every
page leaves MAIN out, every MAIN object's page is "not found", and every action on one changes nothing.
The last test lists every dashboard route, so a new route has to say how it is scoped.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func, select

from dashboard.domain.devices import add_device
from dashboard.domain.duplicates import label_groups_with_their_store, run_scan
from dashboard.domain.fixes import compute_plan, fix_now, request_plan
from dashboard.domain.stores import add_store
from dashboard.domain.users import create_user
from dashboard.extensions import db
from dashboard.models import (
    AuditEntry,
    Device,
    DuplicateGroup,
    DuplicateGroupMember,
    Fix,
    FixPlan,
    Order,
    Store,
    SyncAttempt,
    User,
    UserStore,
)
from tests.admin.conftest import PASSWORD, login, post_form
from tests.support.sales import bearer, make_sale

AMM_MANAGER, AMM_VIEWER = "amm.manager@example.com", "amm.viewer@example.com"
JOD_SALE = [{"sku": "TEA", "quantity": "3", "unit_price": "1.125"}]


@dataclass
class Chain:
    main_sync: int
    main_order: int
    main_attempt: int
    main_group: int
    main_plan: int
    main_fix: int
    main_device: int
    main_receipt: str
    amm_sync: int
    amm_order: int
    amm_attempt: int
    amm_group: int
    amm_receipt: str


def _sync(client, token, sales) -> dict:
    response = client.post("/api/v1/sync", json={"orders": sales}, headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _resent(sale: dict) -> dict:
    """The same sale sent again under a new offline id (a till that lost its outbox): stored twice."""
    return dict(sale, offline_id=str(uuid.uuid4()))


def _group_of_store(code: str) -> int:
    return db.session.scalar(
        select(DuplicateGroup.id)
        .join(DuplicateGroupMember, DuplicateGroupMember.group_id == DuplicateGroup.id)
        .join(Order, Order.id == DuplicateGroupMember.order_id)
        .join(Store, Store.id == Order.store_id)
        .where(Store.code == code)
        .order_by(DuplicateGroup.id)
        .limit(1)
    )


@pytest.fixture
def chain(app, client, token, catalog, people) -> Chain:
    add_store("AMM", name="Amman", time_zone="Asia/Amman", currency="JOD")
    amm = add_device("A01", store="AMM")
    main_sale = make_sale(receipt_number="T01-000777")
    unknown = [{"sku": "NOPE", "quantity": "1", "unit_price": "1.00"}]
    main = _sync(client, token, [main_sale, _resent(main_sale), make_sale(lines=unknown)])
    amm_sale = make_sale(prefix="A01", receipt_number="A01-000555", lines=JOD_SALE, total="3.375", payments=False)
    amm_body = _sync(client, amm, [amm_sale, _resent(amm_sale), make_sale(prefix="A01", lines=unknown)])
    assert [r["status"] for r in main["results"]] == [r["status"] for r in amm_body["results"]]
    assert [r["status"] for r in main["results"]] == ["created", "created", "rejected"]

    run_scan(trigger="test", actor="scanner@example.com")
    main_group, amm_group = _group_of_store("MAIN"), _group_of_store("AMM")
    assert main_group and amm_group
    waiting = request_plan([(main_group, None)], "admin@example.com")
    compute_plan(waiting)
    fixed = fix_now([(main_group, None)], "admin@example.com")
    create_user(AMM_MANAGER, PASSWORD, "manager", stores=["AMM"])
    create_user(AMM_VIEWER, PASSWORD, "viewer", stores=["amm"])

    def attempt(sync_id: int) -> int:
        return db.session.scalar(
            select(SyncAttempt.id).where(SyncAttempt.sync_id == sync_id, SyncAttempt.status == "rejected")
        )

    chain = Chain(
        main_sync=main["sync_id"],
        main_order=main["results"][0]["order_id"],
        main_attempt=attempt(main["sync_id"]),
        main_group=main_group,
        main_plan=waiting,
        main_fix=fixed.fix_id,
        main_device=db.session.scalar(select(Device.id).where(Device.name == "T01")),
        main_receipt="T01-000777",
        amm_sync=amm_body["sync_id"],
        amm_order=amm_body["results"][0]["order_id"],
        amm_attempt=attempt(amm_body["sync_id"]),
        amm_group=amm_group,
        amm_receipt="A01-000555",
    )
    db.session.rollback()
    return chain


@pytest.fixture
def limited(app):
    """A client signed in as someone limited to AMM."""

    def make(email: str = AMM_MANAGER):
        client = app.test_client()
        assert login(client, email).status_code == 302
        return client

    return make


def _text(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def lists(chain: Chain) -> dict[str, bool]:
    """Every page listing store data -> whether AMM's till or receipt must show on it."""
    today = date.today().isoformat()
    return {
        "/": True,
        "/?span=14d": True,
        "/?store=MAIN": True,  # a store outside theirs is not a filter they can use: their own page
        "/sync-logs": True,
        f"/sync-logs?device={chain.main_device}": False,
        "/sync-logs/refused": False,
        "/skipped?state=all": True,
        "/skipped/sales?state=all": True,
        f"/skipped/sales?state=all&device={chain.main_device}": False,
        "/skipped/sales.csv?state=all": True,
        "/orders": True,
        "/orders?q=000777": False,
        f"/orders?q={chain.main_receipt}": False,
        "/orders?store=MAIN": True,
        "/duplicates?status=all": True,
        "/duplicates/scans": False,
        "/fixes": False,
        "/fix-plans": False,
        "/closings": True,
        f"/closings/{today}": True,
        "/audit": False,
    }


@pytest.mark.parametrize("email", [AMM_MANAGER, AMM_VIEWER])
def test_pages_show_only_the_stores_of_someone_limited_to_them(chain, limited, email):
    client = limited(email)
    for url, shows_amm in lists(chain).items():
        if url == "/audit" and email == AMM_VIEWER:
            continue  # managers only
        html = _text(client, url)
        # A search page repeats what was searched for; there, MAIN's order must not be found.
        markers = ("T01", chain.main_receipt, "Main store") if "q=" not in url else ()
        for marker in (*markers, f'/orders/{chain.main_order}"'):
            assert marker not in html, (url, marker)
        if shows_amm:
            assert "A01" in html, url


def test_a_chain_wide_manager_and_an_admin_see_both_stores(chain, signed_in):
    for role in ("manager", "admin"):
        client = signed_in(role)
        for url in ("/", "/sync-logs", "/skipped/sales?state=all", "/orders", "/closings"):
            html = _text(client, url)
            assert "T01" in html and "A01" in html, (role, url)
        assert _text(client, "/fixes").count(f"#{chain.main_fix}") >= 1


def test_the_profile_names_the_stores_one_sees(chain, limited, signed_in):
    mine = _text(limited(), "/profile").split("<dl")[1].split("</dl>")[0]
    assert "<bdi>AMM</bdi>" in mine and "MAIN" not in mine
    assert "every store" in _text(signed_in("manager"), "/profile")


def test_the_overview_of_one_store_for_an_admin(chain, signed_in):
    html = _text(signed_in("admin"), "/?store=AMM")
    sales = html.split('id="sales-today"')[1].split("</section>")[0]
    assert "A01" in sales and "T01" not in sales
    assert "JOD" in sales and '<option value="MAIN"' in html


def test_the_pages_of_another_stores_things_are_not_found(chain, limited):
    client = limited()
    today = date.today().isoformat()
    for url in (
        f"/orders/{chain.main_order}",
        f"/sync-logs/{chain.main_sync}",
        f"/skipped/sales/{chain.main_attempt}",
        f"/duplicates/{chain.main_group}",
        f"/fix-plans/{chain.main_plan}",
        f"/fix-plans/{chain.main_plan}/status",
        f"/fix-plans/{chain.main_plan}/plan.csv",
        f"/fixes/{chain.main_fix}/revert",
        f"/closings/{today}?device={chain.main_device}",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        f"/orders/{chain.amm_order}",
        f"/sync-logs/{chain.amm_sync}",
        f"/skipped/sales/{chain.amm_attempt}",
        f"/duplicates/{chain.amm_group}",
    ):
        assert client.get(url).status_code == 200, url


def _state():
    """What an action on MAIN's things could change."""
    db.session.rollback()
    return (
        db.session.execute(select(DuplicateGroup.id, DuplicateGroup.status).order_by(DuplicateGroup.id)).all(),
        db.session.execute(select(FixPlan.id, FixPlan.status).order_by(FixPlan.id)).all(),
        db.session.execute(select(Fix.id, Fix.kind).order_by(Fix.id)).all(),
        db.session.execute(select(SyncAttempt.id, SyncAttempt.resolution).order_by(SyncAttempt.id)).all(),
        db.session.execute(select(Order.id, Order.status).order_by(Order.id)).all(),
    )


def test_actions_on_another_stores_things_change_nothing(chain, limited):
    client = limited()
    # Reopen MAIN's group so that dismissing and previewing it would otherwise work.
    db.session.execute(DuplicateGroup.__table__.update().values(status="open"))
    db.session.commit()
    before = _state()
    plan = db.session.get(FixPlan, chain.main_plan)
    attempts = [
        (f"/duplicates/{chain.main_group}/dismiss", {"reason": "not ours"}),
        (f"/duplicates/{chain.main_group}/undo-dismissal", {}),
        (f"/duplicates/{chain.main_group}/preview", {}),
        ("/duplicates/selected", {"group": [chain.main_group], "action": "dismiss", "reason": "not ours"}),
        ("/duplicates/selected", {"group": [chain.main_group], "action": "preview"}),
        (f"/fix-plans/{chain.main_plan}/approve", {"plan_id": str(plan.id), "plan_hash": plan.plan_hash}),
        (f"/fix-plans/{chain.main_plan}/discard", {}),
        (f"/fix-plans/{chain.main_plan}/run-again", {}),
        (f"/fix-plans/{chain.main_plan}/preview-again", {}),
        (f"/fixes/{chain.main_fix}/revert", {}),
        (f"/skipped/sales/{chain.main_attempt}/reprocess", {}),
        (f"/skipped/sales/{chain.main_attempt}/handle", {"note": "called the shop"}),
    ]
    for url, data in attempts:
        response = post_form(client, url, data, token_from="/duplicates")
        assert response.status_code in (302, 400, 404), (url, response.status_code)
        assert _state() == before, url
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.actor == AMM_MANAGER)) == 0


def test_a_limited_manager_fixes_their_own_stores_duplicates_only(chain, limited, app):
    """Fix every certain group in one click: only AMM's group is planned, and the fix is AMM's."""
    db.session.execute(DuplicateGroup.__table__.update().values(status="open"))
    db.session.commit()
    client = limited()
    response = post_form(client, "/duplicates/preview-certain", token_from="/duplicates")
    assert response.status_code == 302 and "/fix-plans/" in response.headers["Location"]
    plan_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    db.session.rollback()
    plan = db.session.get(FixPlan, plan_id)
    amm = db.session.scalar(select(Store.id).where(Store.code == "AMM"))
    assert plan.store_id == amm
    assert _requested(plan) == [chain.amm_group]
    # The limited manager sees their plan, the audit entry of it, and nothing chain-wide in the audit log.
    assert client.get(f"/fix-plans/{plan_id}").status_code == 200
    audit = _text(client, "/audit")
    assert f"fix_plan #{plan_id}" in audit
    assert f"fix_plan #{chain.main_plan}" not in audit and f"fix #{chain.main_fix}" not in audit
    assert "scanner@example.com" not in audit and "admin@example.com" not in audit


def _requested(plan: FixPlan) -> list[int]:
    return [item["group_id"] for item in json.loads(plan.request)]


def test_a_group_spanning_stores_is_chain_wide(chain, limited):
    """A group whose orders are in two stores is labelled with no store: a limited manager cannot see or fix it."""
    main_order, amm_order = chain.main_order, chain.amm_order
    assert db.session.get(DuplicateGroup, chain.amm_group).store_id is not None
    db.session.execute(DuplicateGroupMember.__table__.insert().values(group_id=chain.amm_group, order_id=main_order))
    label_groups_with_their_store([chain.amm_group])
    db.session.commit()
    assert db.session.get(DuplicateGroup, chain.amm_group).store_id is None
    client = limited()
    assert f"/orders/{amm_order}" in _text(client, "/orders")
    assert client.get(f"/duplicates/{chain.amm_group}").status_code == 404


def test_admins_limit_people_to_stores_on_the_users_page(chain, signed_in, limited):
    admin = signed_in("admin")
    html = _text(admin, "/users")
    assert "Limited to the stores" in html and 'value="AMM"' in html
    manager_id = db.session.scalar(select(User.id).where(User.email == "manager@example.com"))
    form = _text(admin, f"/users/{manager_id}/stores")
    assert 'value="AMM"' in form and "Limited to the stores" in form
    response = post_form(admin, f"/users/{manager_id}/stores", {"stores": ["AMM"]}, token_from="/users")
    assert response.status_code == 302
    db.session.rollback()
    # From their next click on, the manager who saw the chain sees AMM only.
    manager = limited("manager@example.com")
    assert "T01" not in _text(manager, "/orders") and "A01" in _text(manager, "/orders")
    response = post_form(admin, f"/users/{manager_id}/stores", {}, token_from="/users")
    assert response.status_code == 302
    assert "T01" in _text(manager, "/orders")
    # An admin always sees every store: limiting one is refused, and nothing is stored.
    other = create_user("second.admin@example.com", PASSWORD, "admin")
    response = post_form(
        admin, f"/users/{other}/stores", {"stores": ["AMM"]}, token_from="/users", follow_redirects=True
    )
    assert "an admin sees every store" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(UserStore).where(UserStore.user_id == other)) == 0


def test_the_command_line_limits_people_to_stores(chain, app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "stores", "manager@example.com", "AMM"])
    assert result.exit_code == 0 and "only AMM" in result.output, result.output
    result = runner.invoke(args=["users", "stores", "manager@example.com", "NOPE"])
    assert result.exit_code != 0 and "no store with code NOPE" in result.output
    result = runner.invoke(args=["users", "stores", "manager@example.com"])
    assert result.exit_code == 0 and "every store" in result.output
    result = runner.invoke(
        args=["users", "create", "kw@example.com", "--role", "viewer", "--store", "AMM", "--password-stdin"],
        input="long enough pass\n",
    )
    assert result.exit_code == 0 and "limited to AMM" in result.output, result.output


# How each dashboard route is limited to the stores of the person using it; checked by the tests above.
SCOPED = {
    # Lists: only the person's stores (test_pages_show_only_the_stores_of_someone_limited_to_them).
    "admin.overview",
    "admin.sync_logs",
    "admin.refused_calls",
    "admin.skipped",
    "admin.skipped_sales",
    "admin.skipped_sales_csv",
    "admin.orders",
    "admin.duplicates",
    "admin.duplicate_scans",
    "admin.fixes",
    "admin.fix_plans",
    "admin.closings",
    "admin.closing_day",
    "admin.audit_log",
    # One thing: another store's is not found (test_the_pages_of_another_stores_things_are_not_found).
    "admin.order",
    "admin.sync_log",
    "admin.skipped_sale",
    "admin.duplicate_group",
    "admin.fix_plan",
    "admin.fix_plan_status",
    "admin.fix_plan_csv",
    "admin.confirm_revert",
    # Actions: refused on another store's things (test_actions_on_another_stores_things_change_nothing).
    "admin.dismiss_duplicate_group",
    "admin.undo_group_dismissal",
    "admin.preview_group_fix",
    "admin.act_on_selected_groups",
    "admin.preview_certain_fixes",
    "admin.approve_fix_plan",
    "admin.discard_fix_plan",
    "admin.restart_fix_plan_job",
    "admin.preview_fix_again",
    "admin.revert",
    "admin.reprocess_skipped_sale",
    "admin.handle_skipped_sale",
}
# Admins only (an admin always sees every store), or about no store's data.
ADMIN_ONLY = {
    "admin.devices",
    "admin.add_device",
    "admin.revoke_device",
    "admin.rotate_device",
    "admin.users",
    "admin.create_user",
    "admin.deactivate_user",
    "admin.set_role",
    "admin.user_stores",
    "admin.set_user_stores",
    "admin.jobs",
    "admin.requeue_job",
}
NO_STORE_DATA = {
    "admin.login",
    "admin.logout",
    "admin.set_language",
    "admin.profile",
    "admin.change_password",
    "admin.healthz",
    "admin.scan_now",  # the scan covers the chain and shows its findings through the scoped pages
    "admin.scan_status",  # a progress bar
}


def test_every_dashboard_route_says_how_it_is_limited_to_stores(app):
    routes = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.")}
    assert routes == SCOPED | ADMIN_ONLY | NO_STORE_DATA, routes ^ (SCOPED | ADMIN_ONLY | NO_STORE_DATA)
    for endpoint in ADMIN_ONLY:
        assert app.view_functions[endpoint].required_role == "admin", endpoint
