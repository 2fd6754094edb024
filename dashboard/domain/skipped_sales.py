"""Settling a sale a sync did not store: re-processing it from its payload, or marking it handled.

Each is decided by one conditional UPDATE (... WHERE resolution IS NULL) in the
same unit of work as what it does: two clicks, or two managers at once, settle an
attempt once. The second UPDATE waits for the first transaction (a row lock on
PostgreSQL, the write lock on SQLite) and then matches nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update

from ..database import run_write
from ..extensions import db
from ..models import SyncAttempt
from ..models.types import utcnow
from ..vocabulary import AuditAction, Resolution, SaleStatus
from . import audit
from .ingestion import IngestRules, reingest_sale
from .scope import EVERY_STORE, StoreScope
from .stores import store_of_device
from .text import storable

attempts_t = SyncAttempt.__table__
NOTE_MAX = 2000
# The sales a manager settles; replays need nothing.
NEEDS_ACTION = (SaleStatus.REJECTED, SaleStatus.CONFLICT)


class SkippedSaleError(ValueError):
    """Why a skipped sale cannot be settled as asked; `code` is one of the class constants."""

    NOT_FOUND, NOT_REPROCESSABLE, NOT_HANDLEABLE, SETTLED, NO_NOTE = (
        "not_found",
        "not_reprocessable",
        "not_handleable",
        "settled",
        "no_note",
    )

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ReprocessOutcome:
    """What a re-process did: stored (or found stored) the sale as an order, or was refused again."""

    attempt_id: int
    status: str  # the new try's result: created, duplicate, rejected or conflict
    order_id: int | None
    reason: str | None
    message: str | None

    @property
    def stored(self) -> bool:
        return self.status in (SaleStatus.CREATED, SaleStatus.DUPLICATE)


def _not_settled(attempt_id: int, statuses: tuple[str, ...], wrong_status: str, scope: StoreScope) -> SkippedSaleError:
    """Why the claiming UPDATE matched nothing (read after it, so it is never the check that decides); a sale
    of another store than the scope's is not there at all."""
    row = db.session.execute(
        select(attempts_t.c.status, attempts_t.c.resolution).where(
            attempts_t.c.id == attempt_id, scope.tills(attempts_t.c.device_id)
        )
    ).first()
    if row is None:
        return SkippedSaleError(SkippedSaleError.NOT_FOUND, f"no skipped sale {attempt_id}")
    if row.resolution is not None:
        return SkippedSaleError(SkippedSaleError.SETTLED, f"skipped sale {attempt_id} is already {row.resolution}")
    return SkippedSaleError(wrong_status, f"skipped sale {attempt_id} is {row.status}, not {' or '.join(statuses)}")


def _payload(text: str) -> object:
    try:
        return json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError):
        return text  # ingestion rejects it, and says why


def reprocess_attempt(
    attempt_id: int, *, actor: str, rules: IngestRules, scope: StoreScope = EVERY_STORE
) -> ReprocessOutcome:
    """Store a rejected sale from the payload the till sent, through the sync path, at most once; audited.

    Raises SkippedSaleError when the attempt is not an unsettled rejection (a second
    click lands here). A sale refused again stays to be settled, with the new reason.
    """

    def unit() -> ReprocessOutcome:
        now = utcnow()
        claimed = db.session.execute(
            update(attempts_t)
            .where(
                attempts_t.c.id == attempt_id,
                attempts_t.c.status == SaleStatus.REJECTED,
                attempts_t.c.resolution.is_(None),
                scope.tills(attempts_t.c.device_id),
            )
            .values(resolution=Resolution.REPROCESSED, resolved_at=now, resolved_by=actor)
            .returning(attempts_t.c.device_id, attempts_t.c.sync_id, attempts_t.c.payload)
        ).first()
        if claimed is None:
            raise _not_settled(attempt_id, (SaleStatus.REJECTED,), SkippedSaleError.NOT_REPROCESSABLE, scope)
        result = reingest_sale(
            device_id=claimed.device_id, sync_id=claimed.sync_id, raw=_payload(claimed.payload), rules=rules
        )
        outcome = ReprocessOutcome(attempt_id, result.status, result.order_id, result.reason, storable(result.message))
        if outcome.stored:
            settle: dict[str, object] = {"order_id": outcome.order_id}
        else:
            settle = {
                "resolution": None,
                "resolved_at": None,
                "resolved_by": None,
                "retry_reason": outcome.reason,
                "retry_message": outcome.message,
                "retried_at": now,
            }
        db.session.execute(update(attempts_t).where(attempts_t.c.id == attempt_id).values(**settle))
        audit.record(
            actor,
            AuditAction.REPROCESS_SALE,
            "sync_attempt",
            attempt_id,
            store_id=store_of_device(claimed.device_id).id,
            outcome=outcome.status,
            order_id=outcome.order_id,
            reason=outcome.reason,
        )
        return outcome

    return run_write(unit, retry_on_integrity=True)


def mark_handled(attempt_id: int, note: str, *, actor: str, scope: StoreScope = EVERY_STORE) -> datetime:
    """Mark a rejected or conflicting sale handled, with the manager's note; audited. Returns when."""
    note = (note or "").strip()[:NOTE_MAX]
    if not note:
        raise SkippedSaleError(SkippedSaleError.NO_NOTE, "say what was done about this sale")

    def unit() -> datetime:
        now = utcnow()
        claimed = db.session.execute(
            update(attempts_t)
            .where(
                attempts_t.c.id == attempt_id,
                attempts_t.c.status.in_(NEEDS_ACTION),
                attempts_t.c.resolution.is_(None),
                scope.tills(attempts_t.c.device_id),
            )
            .values(resolution=Resolution.HANDLED, resolved_at=now, resolved_by=actor, resolution_note=note)
            .returning(attempts_t.c.device_id)
        ).first()
        if claimed is None:
            raise _not_settled(attempt_id, NEEDS_ACTION, SkippedSaleError.NOT_HANDLEABLE, scope)
        audit.record(
            actor,
            AuditAction.HANDLE_SKIPPED_SALE,
            "sync_attempt",
            attempt_id,
            store_id=store_of_device(claimed.device_id).id,
            note=note,
        )
        return now

    return run_write(unit)
