"""Device changes made by a person from the dashboard, each audited in the transaction that makes it.

The CLI's dashboard.domain.devices functions commit on their own; these do the
same changes and add the audit entry to the same unit of work, so a change is
never stored without its record (nor the record without the change). The token
itself is never audited or stored: only its hash is kept.
"""
from __future__ import annotations

import secrets

from sqlalchemy import select

from ..database import run_write
from ..extensions import db
from ..models import Device
from ..models.types import utcnow
from . import audit
from .devices import DeviceError, hash_token


def add_device(name: str, *, actor: str) -> tuple[int, str]:
    """Register a till; returns its id and its token, which is shown once and never again."""
    name = name.strip()
    if not name or len(name) > 100:
        raise DeviceError("a device name must have 1 to 100 characters")
    token = secrets.token_urlsafe(32)

    def unit() -> int:
        if db.session.scalar(select(Device.id).where(Device.name == name)) is not None:
            raise DeviceError(f"a device named '{name}' exists already")
        device = Device(name=name, token_hash=hash_token(token))
        db.session.add(device)
        db.session.flush()
        audit.record(actor, "device.add", "device", device.id, name=name)
        return device.id

    return run_write(unit), token


def revoke_device(device_id: int, *, actor: str) -> str:
    """Refuse the till's token from now on (its sales stay); returns the device's name."""
    def unit() -> str:
        device = _by_id(device_id)
        if device.revoked_at is None:
            device.revoked_at = utcnow()
            audit.record(actor, "device.revoke", "device", device.id, name=device.name)
        return device.name

    return run_write(unit)


def rotate_token(device_id: int, *, actor: str) -> tuple[str, str]:
    """Give the till a new token (the old one stops working, a revoked till is back in service);
    returns the device's name and the new token."""
    token = secrets.token_urlsafe(32)

    def unit() -> str:
        device = _by_id(device_id)
        was_revoked = device.revoked_at is not None
        device.token_hash = hash_token(token)
        device.revoked_at = None
        audit.record(actor, "device.rotate", "device", device.id, name=device.name, was_revoked=was_revoked)
        return device.name

    return run_write(unit), token


def _by_id(device_id: int) -> Device:
    device = db.session.get(Device, device_id)
    if device is None:
        raise DeviceError(f"no device with id {device_id}")
    return device
