"""Devices, users, the audit log and the open duplicate groups, as lists for the screens."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select

from ...extensions import db
from ...models import AuditEntry, Device, Store, User
from ..scope import EVERY_STORE, StoreScope
from ..users import store_codes_of
from .paging import PER_PAGE, NumberedPage, Page, newest_first, numbered, pretty_json


@dataclass(frozen=True)
class DeviceRow:
    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None
    can_sign_in: bool  # devices known only from imported data have no token
    store_code: str = ""


@dataclass(frozen=True)
class UserRow:
    id: int
    email: str
    role: str
    locale: str | None
    active: bool
    created_at: datetime
    stores: tuple[str, ...] = ()  # the codes of the stores they are limited to; empty: every store


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    target_type: str | None
    target_id: int | None
    details: str


def device_choices(scope: StoreScope = EVERY_STORE) -> list[tuple[int, str]]:
    """(id, name) of every device in the scope's stores, by name, for filters (a small table)."""
    stmt = select(Device.id, Device.name).where(scope.stores(Device.store_id)).order_by(Device.name)
    return [(row.id, row.name) for row in db.session.execute(stmt)]


def devices(*, page: int = 1, per_page: int = PER_PAGE) -> NumberedPage[DeviceRow]:
    """Devices by name (unique index on devices.name)."""
    stmt = (
        select(
            Device.id,
            Device.name,
            Device.created_at,
            Device.revoked_at,
            Device.last_seen_at,
            Device.token_hash.is_not(None).label("can_sign_in"),
            Store.code.label("store_code"),
        )
        .join(Store, Store.id == Device.store_id)
        .order_by(Device.name)
    )
    return numbered(stmt, lambda row: DeviceRow(**row._mapping), page=page, per_page=per_page)


def users(*, page: int = 1, per_page: int = PER_PAGE, user_id: int | None = None) -> NumberedPage[UserRow]:
    """Dashboard users by email (unique index on users.email), or the one with this id."""
    stmt = select(User.id, User.email, User.role, User.locale, User.active, User.created_at).order_by(User.email)
    if user_id is not None:
        stmt = stmt.where(User.id == user_id)
    page_of_users = numbered(stmt, lambda row: UserRow(*row), page=page, per_page=per_page)
    stores = store_codes_of([user.id for user in page_of_users.items])
    return replace(page_of_users, items=[replace(u, stores=tuple(stores.get(u.id, ()))) for u in page_of_users.items])


def audit_entries(
    *, before: int | None = None, after: int | None = None, per_page: int = PER_PAGE, scope: StoreScope = EVERY_STORE
) -> Page[AuditRow]:
    """The audit log, newest first (ix_audit_log_at); for someone limited to stores, the entries about one of
    their stores (ix_audit_log_store_at): chain-wide entries (people, scans, prunes) are not theirs to see."""
    stmt = select(
        AuditEntry.id,
        AuditEntry.at,
        AuditEntry.actor,
        AuditEntry.action,
        AuditEntry.target_type,
        AuditEntry.target_id,
        AuditEntry.details,
    ).where(scope.stores(AuditEntry.store_id))

    def audit_row(row) -> AuditRow:
        return AuditRow(*row[:-1], details=pretty_json(row[-1]))  # type: ignore[misc]  # row: the six columns above

    return newest_first(
        stmt, AuditEntry.id, audit_row, time_col=AuditEntry.at, before=before, after=after, per_page=per_page
    )
