"""Stores (shops of a chain): adding and listing them, and what each one's money and days are.

A store's currency decides how many decimals its amounts have (ISO 4217 minor units: 2 for
EUR, 3 for KWD, 0 for JPY); its time zone decides its business day. The default store may
leave both (and its invoice prefix) empty and then follows the settings DASHBOARD_CURRENCY,
DASHBOARD_TIMEZONE and SERVER_INVOICE_PREFIX, so a single shop needs no setup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import UnknownCurrencyError, get_currency_precision, validate_currency
from flask import current_app
from sqlalchemy import bindparam, select

from ..database import run_write
from ..extensions import db
from ..models import Device, InvoiceSeries, Store
from . import audit
from .money import MoneyRule
from .text import describe_character, hidden_character, is_storable

DEFAULT_SERIES = "server"
_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,15}")
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_/-]{0,15}")


class StoreError(ValueError):
    """A store operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class StoreInfo:
    """A store with its settings resolved (the default store's empty ones filled from the settings)."""

    id: int
    code: str
    name: str
    time_zone: str
    currency: str
    invoice_prefix: str
    is_default: bool

    @property
    def money(self) -> MoneyRule:
        return MoneyRule(self.currency, minor_units(self.currency))

    @property
    def series(self) -> str:
        """The name of its row in invoice_series (the default store keeps the series it always had)."""
        return DEFAULT_SERIES if self.is_default else f"store-{self.id}"


def minor_units(currency: str) -> int:
    """Decimals of an ISO 4217 currency (2 for EUR, 3 for KWD, 0 for JPY)."""
    return get_currency_precision(currency)


def info(store) -> StoreInfo:
    """A store (a Store, or a row of its columns) with the settings filled in where the default store
    leaves them empty."""
    config = current_app.config
    return StoreInfo(
        id=store.id,
        code=store.code,
        name=store.name,
        time_zone=store.time_zone or config.get("BABEL_DEFAULT_TIMEZONE", "UTC"),
        currency=store.currency or config.get("DASHBOARD_CURRENCY", "EUR"),
        invoice_prefix=store.invoice_prefix or config.get("SERVER_INVOICE_PREFIX", "S-"),
        is_default=store.is_default,
    )


def list_stores() -> list[StoreInfo]:
    """Every store, the default first, then by code."""
    return [info(store) for store in db.session.scalars(select(Store).order_by(Store.is_default.desc(), Store.code))]


def stores_by_id() -> dict[int, StoreInfo]:
    """Every store by id (a chain has a handful: pages read them once, not a join per row)."""
    return {store.id: store for store in list_stores()}


def default_store() -> StoreInfo:
    """The store that holds a single shop's sales (migration 0010 creates it)."""
    store = db.session.scalar(select(Store).where(Store.is_default.is_(True)))
    if store is None:
        raise RuntimeError("the default store is missing: run `flask db upgrade`")
    return info(store)


def default_store_id() -> int:
    return db.session.scalar(select(Store.id).where(Store.is_default.is_(True)))


def find_store(code: str) -> StoreInfo:
    """A store by its code (any case), or StoreError."""
    store = db.session.scalar(select(Store).where(Store.code == code.strip().upper()))
    if store is None:
        raise StoreError(f"no store with code '{code.strip()[:20]}'")
    return info(store)


# Every sync reads it: columns of the tables, not ORM entities, skip the ORM's per-execution work
# (26 instead of 140 us a call).
_stores, _devices = Store.__table__, Device.__table__
_STORE_OF_DEVICE = (
    select(
        *(_stores.c[name] for name in ("id", "code", "name", "time_zone", "currency", "invoice_prefix", "is_default"))
    )
    .join(_devices, _devices.c.store_id == _stores.c.id)
    .where(_devices.c.id == bindparam("device_id"))
)


def store_of_device(device_id: int) -> StoreInfo:
    """The store a till sells in."""
    store = db.session.execute(_STORE_OF_DEVICE, {"device_id": device_id}).first()
    if store is None:
        raise StoreError(f"no device with id {device_id}")
    return info(store)


def check_code(code: str) -> str:
    code = code.strip().upper()
    if not _CODE.fullmatch(code):
        raise StoreError("a store code has 1 to 16 letters A-Z, digits, '-' or '_', starting with a letter or digit")
    return code


def check_time_zone(name: str) -> str:
    name = name.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StoreError(f"'{name[:60]}' is not a time zone name (e.g. Asia/Riyadh, Asia/Amman)") from None
    return name


def check_currency(code: str) -> str:
    code = code.strip().upper()
    try:
        validate_currency(code)
    except UnknownCurrencyError:
        raise StoreError(f"'{code[:10]}' is not an ISO 4217 currency code (e.g. SAR, JOD, KWD)") from None
    return code


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or not is_storable(name):
        raise StoreError("a store name must have 1 to 100 characters")
    if (hidden := hidden_character(name)) is not None:
        raise StoreError(f"a store name must not contain an invisible character: {describe_character(hidden)}")
    return name


def add_store(
    code: str, *, name: str, time_zone: str, currency: str, invoice_prefix: str | None = None, actor: str = "cli"
) -> StoreInfo:
    """Add a store with its own invoice series (prefix: its code and '-' unless given); audited."""
    code, name = check_code(code), _check_name(name)
    time_zone, currency = check_time_zone(time_zone), check_currency(currency)
    prefix = (invoice_prefix or f"{code}-").strip()
    if not _PREFIX.fullmatch(prefix):
        raise StoreError("an invoice prefix has 1 to 16 letters, digits, '-', '_' or '/'")

    def unit() -> StoreInfo:
        if db.session.scalar(select(Store.id).where(Store.code == code)) is not None:
            raise StoreError(f"a store with code '{code}' exists already")
        taken = {store.invoice_prefix for store in list_stores()}
        if prefix in taken:
            raise StoreError(f"the invoice prefix '{prefix}' is another store's")
        store = Store(
            code=code, name=name, time_zone=time_zone, currency=currency, invoice_prefix=prefix, is_default=False
        )
        db.session.add(store)
        db.session.flush()
        db.session.add(InvoiceSeries(name=info(store).series, next_value=1))
        audit.record(
            actor,
            "store.add",
            "store",
            store.id,
            code=code,
            name=name,
            time_zone=time_zone,
            currency=currency,
            invoice_prefix=prefix,
        )
        return info(store)

    return run_write(unit)
