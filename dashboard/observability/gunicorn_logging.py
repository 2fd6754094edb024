"""gunicorn's own log lines (its errors and the access log) as JSON, like the app's.

gunicorn.conf.py names this class as `logger_class`. The access line carries the
request id the app answered in X-Request-ID, so one id finds a request in both logs.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone

from gunicorn import glogging

from .logs import JsonFormatter


class JsonLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        if not self._json:
            return
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())
        for handler in self.access_log.handlers:
            handler.setFormatter(logging.Formatter("%(message)s"))

    @property
    def _json(self) -> bool:
        return (os.environ.get("LOG_FORMAT") or "json").strip().lower() == "json"

    def access(self, resp, req, environ, request_time):
        if not self._json:
            return super().access(resp, req, environ, request_time)
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        entry = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "event": "access",
            "request_id": atoms.get("{x-request-id}o"),
            "remote_addr": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],
            "status": int(str(atoms["s"]).split()[0]),
            "bytes": atoms["B"],
            "duration_ms": atoms["M"],
            "user_agent": atoms["a"],
            "pid": os.getpid(),
        }
        self.access_log.info(json.dumps(entry, ensure_ascii=False))
