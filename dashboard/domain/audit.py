"""Recording audited actions. Call inside the unit of work that does the action, so both commit together."""

from __future__ import annotations

import json

from ..extensions import db
from ..models import AuditEntry


def record(actor: str, action: str, target_type: str | None = None, target_id: int | None = None, **details) -> None:
    """Add an audit entry to the current transaction (the caller commits)."""
    db.session.add(
        AuditEntry(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=json.dumps(details, default=str, sort_keys=True) if details else None,
        )
    )
