"""Every view checks the role; the matrix of who may see and do what."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Device, SyncAttempt, User
from tests.admin.conftest import post_form

RANK = {"anonymous": 0, "viewer": 1, "manager": 2, "admin": 3}


def test_every_dashboard_view_declares_who_may_use_it(app):
    """A new view without @role_required (or an explicit @public) fails here."""
    public = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("admin.", "ops.")):
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "public", False):
            public.add(rule.endpoint)
        else:
            assert getattr(view, "required_role", None) in RANK, f"{rule.endpoint} has no role check"
    # ops: readiness for load balancers, metrics for Prometheus (behind METRICS_TOKEN), both on purpose.
    assert public == {"admin.login", "admin.set_language", "admin.healthz", "ops.readyz", "ops.metrics"}


def pages(synced) -> dict[str, str]:
    """Every GET page -> the least role that may see it."""
    return {
        "/": "viewer",
        "/?span=14d": "viewer",
        "/sync-logs": "viewer",
        f"/sync-logs/{synced.sync_id}": "viewer",
        "/skipped": "viewer",
        "/skipped/sales": "viewer",
        "/skipped/sales.csv": "viewer",
        "/orders": "viewer",
        f"/skipped/sales/{db.session.scalar(select(func.min(SyncAttempt.id)))}": "viewer",
        f"/orders/{synced.created_order_id}": "viewer",
        "/duplicates": "viewer",
        "/profile": "viewer",
        "/duplicates/scans": "viewer",
        "/duplicates/scan/status": "viewer",
        "/fixes": "viewer",
        "/fix-plans": "viewer",
        "/closings": "viewer",
        "/closings/2026-11-25": "viewer",
        "/audit": "manager",
        "/devices": "admin",
        "/users": "admin",
        "/jobs": "admin",
    }


@pytest.mark.parametrize("role", ["anonymous", "viewer", "manager", "admin"])
def test_role_matrix_for_pages(app, signed_in, synced, role):
    client = app.test_client() if role == "anonymous" else signed_in(role)
    for url, least in pages(synced).items():
        response = client.get(url)
        if role == "anonymous":
            assert response.status_code == 302 and "/login" in response.headers["Location"], url
        elif RANK[role] >= RANK[least]:
            assert response.status_code == 200, url
        else:
            assert response.status_code == 403, url
            assert "Your role does not give access to this page." in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["viewer", "manager"])
def test_only_admins_change_devices_and_users(app, signed_in, token, people, role):
    client = signed_in(role)
    device_id = db.session.scalar(select(Device.id).where(Device.name == "T01"))
    user_id = db.session.scalar(select(User.id).where(User.email == people["viewer"]))
    attempts = [
        ("/devices", {"name": "T99"}),
        (f"/devices/{device_id}/revoke", {}),
        (f"/devices/{device_id}/rotate", {}),
        ("/users", {"email": "new@example.com", "password": "long enough pass", "role": "admin"}),
        (f"/users/{user_id}/deactivate", {}),
    ]
    for url, data in attempts:
        assert post_form(client, url, data).status_code == 403, url
    device = db.session.scalar(select(Device).where(Device.name == "T01"))
    db.session.refresh(device)
    assert device.revoked_at is None
    assert db.session.scalar(select(func.count()).select_from(Device)) == 1
    assert db.session.scalar(select(func.count()).select_from(User)) == 3
    assert db.session.scalar(select(User.active).where(User.id == user_id)) is True


@pytest.mark.parametrize("role", ["viewer", "manager", "admin"])
def test_navigation_shows_only_what_the_role_may_use(signed_in, role):
    html = signed_in(role).get("/").get_data(as_text=True)
    for link in ('href="/sync-logs"', 'href="/skipped"', 'href="/orders"', 'href="/duplicates"'):
        assert link in html
    assert ('href="/audit"' in html) == (RANK[role] >= RANK["manager"])
    assert ('href="/devices"' in html) == (role == "admin")
    assert ('href="/users"' in html) == (role == "admin")
    assert ('href="/jobs"' in html) == (role == "admin")


def test_anonymous_posts_are_sent_to_sign_in(app, token):
    client = app.test_client()
    device_id = db.session.scalar(select(Device.id).where(Device.name == "T01"))
    response = post_form(client, f"/devices/{device_id}/revoke", token_from="/login")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert db.session.scalar(select(Device.revoked_at).where(Device.id == device_id)) is None
