"""One JSON object per log line, carrying the request id and, on a sync, the device and sync id."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from flask import Flask, g, has_request_context

# What the sync view records about its request (g.<name>), copied into every log line of it.
_REQUEST_FIELDS = ("request_id", "device", "device_id", "sync_id")
_HANDLER_NAME = "tillsync"


class RequestContextFilter(logging.Filter):
    """Adds the current request's id (and device and sync id on a sync) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            for name in _REQUEST_FIELDS:
                value = g.get(name)
                if value is not None and not hasattr(record, name):
                    setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", request fields, "exc"}: one line, whatever the message holds."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in (*_REQUEST_FIELDS, "event"):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [request_id={request_id}]" if request_id else line


def first_line(exc: BaseException) -> str:
    """An exception in one short line for a log message (a driver's message can run to many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(app: Flask) -> None:
    """Our handler on the root logger (once per process), writing to stderr, where gunicorn and
    systemd collect it. A debug app keeps Flask's own logging."""
    if app.debug:
        return
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.set_name(_HANDLER_NAME)
        handler.addFilter(RequestContextFilter())
        root.addHandler(handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
    handler.setFormatter(formatter_for(app.config["LOG_FORMAT"]))
    # /readyz asks alembic for the revision, which logs two INFO lines each time; `flask db upgrade`
    # configures alembic's logging itself (migrations/alembic.ini), so its progress still shows.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
