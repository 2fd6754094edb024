"""Recording audited actions. Call inside the unit of work that does the action, so both commit together."""

from __future__ import annotations

import json

from ..extensions import db
from ..models import AuditEntry


def record(
    actor: str,
    action: str,
    target_type: str | None = None,
    target_id: int | None = None,
    *,
    store_id: int | None = None,
    **details,
) -> None:
    """Add an audit entry to the current transaction (the caller commits). `store_id` is the one store the
    action concerns (people limited to that store see the entry); None for chain-wide actions."""
    db.session.add(
        AuditEntry(
            actor=actor,
            store_id=store_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=json.dumps(details, default=str, sort_keys=True) if details else None,
        )
    )
