"""Which stores' data a person may see and change.

A person is either chain-wide (admins, and anyone not limited to stores) or limited to a set of
stores (rows in user_stores). Every report and every action takes a `StoreScope` and narrows its
queries with the conditions below, so "limited to stores" is one rule written once:

- rows with a store (orders) are seen when their store is in the scope;
- rows of a till (sync calls, skipped sales, closes, refused calls) when the till's store is;
- rows labelled with the one store they concern (duplicate groups, fix plans, fixes, audit entries;
  NULL when they concern several stores or none) when that label is in the scope. Something that
  spans stores is therefore seen, and changed, only by chain-wide people: a limited manager can never
  fix or dismiss another store's orders through a group shared with their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, true

from ..extensions import db
from ..models import Device, Store, User, UserStore
from ..vocabulary import Role
from .stores import StoreInfo, list_stores


@dataclass(frozen=True)
class StoreScope:
    """Every store (store_ids None), or only these store ids (possibly none)."""

    store_ids: frozenset[int] | None = None

    @property
    def is_chain_wide(self) -> bool:
        return self.store_ids is None

    def allows(self, store_id: int | None) -> bool:
        """Whether a row labelled with `store_id` (None: several stores or none) is in the scope."""
        return self.store_ids is None or (store_id is not None and store_id in self.store_ids)

    def allows_all(self, store_ids: Iterable[int | None]) -> bool:
        return all(self.allows(store_id) for store_id in store_ids)

    def stores(self, column) -> ColumnElement[bool]:
        """SQL: the row's store column (orders.store_id, a label) is in the scope; NULL never is."""
        if self.store_ids is None:
            return true()
        return column.in_(sorted(self.store_ids))

    def tills(self, column) -> ColumnElement[bool]:
        """SQL: the row's till (a device_id column) belongs to a store in the scope (devices are few:
        the subquery reads ix_devices_store_id)."""
        if self.store_ids is None:
            return true()
        return column.in_(select(Device.id).where(Device.store_id.in_(sorted(self.store_ids))))


EVERY_STORE = StoreScope()


def scope_of(user: User) -> StoreScope:
    """The scope of a signed-in person: admins and people with no store rows see every store."""
    if user.role == Role.ADMIN:
        return EVERY_STORE
    ids = frozenset(db.session.scalars(select(UserStore.store_id).where(UserStore.user_id == user.id)))
    return StoreScope(ids) if ids else EVERY_STORE


def common_store(store_ids: Iterable[int | None]) -> int | None:
    """The label of something made of rows of these stores: their one store, or None when several (or none)."""
    distinct = set(store_ids)
    return distinct.pop() if len(distinct) == 1 else None


def stores_in(scope: StoreScope) -> list[StoreInfo]:
    """The stores of the scope, as list_stores() gives them (the default store first)."""
    return [store for store in list_stores() if scope.allows(store.id)]


def visible_store_codes(scope: StoreScope) -> frozenset[str] | None:
    """The codes of the scope's stores (None: every store), with "" for the default store's when it is one of
    them (the products table mirrors the default store's stock, and reports name it "")."""
    if scope.store_ids is None:
        return None
    rows = db.session.execute(select(Store.code, Store.is_default).where(Store.id.in_(sorted(scope.store_ids))))
    codes = set()
    for code, is_default in rows:
        codes.add(code)
        if is_default:
            codes.add("")
    return frozenset(codes)
