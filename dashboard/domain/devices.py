"""Registering tills and checking their bearer tokens."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..database import run_write
from ..extensions import db
from ..models import Device
from ..models.types import utcnow
from .text import is_storable


class DeviceError(ValueError):
    """A device operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class DeviceInfo:
    id: int
    name: str
    revoked: bool
    last_seen_at: datetime | None


def hash_token(token: str) -> str:
    """Tokens are 256 random bits, so a plain SHA-256 is enough and lets us look them up by index."""
    return hashlib.sha256(token.encode()).hexdigest()


def _info(device: Device) -> DeviceInfo:
    return DeviceInfo(device.id, device.name, device.revoked_at is not None, device.last_seen_at)


def add_device(name: str) -> str:
    """Register a till and return its new token; only its hash is stored."""
    name = name.strip()
    if not name or len(name) > 100 or not is_storable(name):
        raise DeviceError("a device name must have 1 to 100 characters (no NUL or unpaired surrogates)")
    token = secrets.token_urlsafe(32)

    def unit():
        if db.session.scalar(select(Device.id).where(Device.name == name)) is not None:
            raise DeviceError(f"a device named '{name}' exists already")
        db.session.add(Device(name=name, token_hash=hash_token(token)))

    run_write(unit)
    return token


def rotate_token(name: str) -> str:
    """Give a till a new token (the old one stops working) and return it."""
    token = secrets.token_urlsafe(32)

    def unit():
        device = _by_name(name)
        device.token_hash = hash_token(token)
        device.revoked_at = None

    run_write(unit)
    return token


def revoke_device(name: str) -> None:
    """Refuse the till's token from now on (403); its sales stay."""
    def unit():
        device = _by_name(name)
        if device.revoked_at is None:
            device.revoked_at = utcnow()

    run_write(unit)


def list_devices() -> list[DeviceInfo]:
    """Every device, by name."""
    return [_info(device) for device in db.session.scalars(select(Device).order_by(Device.name))]


def find_by_token(token: str) -> DeviceInfo | None:
    """The device holding this token, revoked or not; None for an unknown token."""
    device = db.session.scalar(select(Device).where(Device.token_hash == hash_token(token)))
    return _info(device) if device else None


def _by_name(name: str) -> Device:
    device = db.session.scalar(select(Device).where(Device.name == name))
    if device is None:
        raise DeviceError(f"no device named '{name}'")
    return device
