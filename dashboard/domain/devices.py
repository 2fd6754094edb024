"""Registering tills, giving them new tokens, revoking them, and checking their bearer tokens.

The one code path for device administration: the dashboard (actor = the admin's email),
`flask devices ...` (actor "cli") and the simulator (actor "simulator") all call these,
so every change is checked alike and audited in the transaction that makes it (never
stored without its record, nor the record without the change). The token itself is
never audited or stored: only its hash is kept.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select

from ..database import run_write
from ..extensions import db
from ..models import Device, Store
from ..models.types import utcnow
from . import audit
from .stores import StoreError, default_store, find_store
from .text import describe_character, hidden_character, is_storable

MAX_NAME_LENGTH = 100


class DeviceError(ValueError):
    """A device operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class DeviceInfo:
    id: int
    name: str
    revoked: bool
    last_seen_at: datetime | None
    store_id: int | None = None
    store_code: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    """A till's new token, to be shown once and never again."""

    device_id: int
    name: str
    token: str


def hash_token(token: str) -> str:
    """Tokens are 256 random bits, so a plain SHA-256 is enough and lets us look them up by index."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    """The name as stored (trimmed), or DeviceError: 1 to 100 characters a person can read as they are."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise DeviceError(f"a device name must have 1 to {MAX_NAME_LENGTH} characters")
    if not is_storable(name):
        raise DeviceError("a device name must not contain a NUL or an unpaired surrogate character")
    if (hidden := hidden_character(name)) is not None:
        raise DeviceError(
            "a device name must not contain an invisible, control or direction-changing "
            f"character: {describe_character(hidden)}"
        )
    return name


def register_device(name: str, *, actor: str, store: str | None = None) -> IssuedToken:
    """Register a till in a store (by code; the default store when None), audited as done by actor;
    returns its id, name and token."""
    name = check_name(name)
    token = secrets.token_urlsafe(32)

    def unit() -> int:
        if db.session.scalar(select(Device.id).where(Device.name == name)) is not None:
            raise DeviceError(f"a device named '{name}' exists already")
        try:
            found = find_store(store) if store else default_store()
        except StoreError as exc:
            raise DeviceError(str(exc)) from None
        device = Device(name=name, token_hash=hash_token(token), store_id=found.id)
        db.session.add(device)
        db.session.flush()
        audit.record(actor, "device.add", "device", device.id, name=name, store=found.code)
        return device.id

    return IssuedToken(run_write(unit), name, token)


def add_device(name: str, *, actor: str = "cli", store: str | None = None) -> str:
    """Register a till and return only its token (the command line and the tests' short form)."""
    return register_device(name, actor=actor, store=store).token


def reissue_token(device: int | str, *, actor: str) -> IssuedToken:
    """Give a till, by id or name, a new token: the old one stops working, a revoked till is back in service."""
    token = secrets.token_urlsafe(32)

    def unit() -> IssuedToken:
        found = _find(device)
        was_revoked = found.revoked_at is not None
        found.token_hash = hash_token(token)
        found.revoked_at = None
        audit.record(actor, "device.rotate", "device", found.id, name=found.name, was_revoked=was_revoked)
        return IssuedToken(found.id, found.name, token)

    return run_write(unit)


def rotate_token(device: int | str, *, actor: str = "cli") -> str:
    """Give a till a new token and return only the token."""
    return reissue_token(device, actor=actor).token


def revoke_device(device: int | str, *, actor: str = "cli") -> str:
    """Refuse the till's token from now on (403); its sales stay. Returns the device's name."""

    def unit() -> str:
        found = _find(device)
        if found.revoked_at is None:
            found.revoked_at = utcnow()
            audit.record(actor, "device.revoke", "device", found.id, name=found.name)
        return found.name

    return run_write(unit)


def list_devices() -> list[DeviceInfo]:
    """Every device, by name, with its store's code."""
    rows = db.session.execute(select(Device, Store.code).join(Store, Store.id == Device.store_id).order_by(Device.name))
    return [_info(device, code) for device, code in rows]


# Every API call reads it: columns of the table, not the ORM entity, skip the ORM's per-execution
# work (26 instead of 112 us a call).
_devices = Device.__table__
_BY_TOKEN_HASH = select(
    _devices.c.id, _devices.c.name, _devices.c.revoked_at, _devices.c.last_seen_at, _devices.c.store_id
).where(_devices.c.token_hash == bindparam("token_hash"))


def find_by_token_hash(token_hash: str) -> DeviceInfo | None:
    """The device whose token hashes to token_hash (hash_token), revoked or not; None if none does."""
    device = db.session.execute(_BY_TOKEN_HASH, {"token_hash": token_hash}).first()
    return _info(device) if device else None


def _info(device, store_code: str | None = None) -> DeviceInfo:
    """From a Device, or a row of its columns."""
    return DeviceInfo(
        device.id, device.name, device.revoked_at is not None, device.last_seen_at, device.store_id, store_code
    )


def _find(device: int | str) -> Device:
    """A device by id (the dashboard's links) or by name (the command line's argument)."""
    if isinstance(device, int):
        found = db.session.get(Device, device) if 0 < device < 2**31 else None
        if found is None:
            raise DeviceError(f"no device with id {device}")
        return found
    found = db.session.scalar(select(Device).where(Device.name == device))
    if found is None:
        raise DeviceError(f"no device named '{device}'")
    return found
