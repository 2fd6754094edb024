"""Duplicate scans and duplicate groups: recording what a scan found, dismissing, comparing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from sqlalchemy import case, func, select, tuple_, update

from ..database import chunks, insert_ignoring_conflicts, run_write
from ..extensions import db
from ..models import DuplicateGroup, DuplicateGroupMember, DuplicateScan, Order, OrderLine
from ..models.duplicates import KINDS
from ..models.types import utcnow
from ..vocabulary import AuditAction, GroupStatus
from . import audit
from .duplicate_detection import FoundGroup, find_duplicates, stock_drift
from .scope import EVERY_STORE, StoreScope

WRITE_CHUNK = 500


class DuplicateError(ValueError):
    """A duplicate-group action that cannot be done; the message says why."""


@dataclass
class ScanSummary:
    """What a scan found, and the open groups by kind afterwards."""

    scan_id: int | None
    found: dict[str, int]
    kinds: dict[str, dict[str, int]]
    stock_drift: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"scan_id": self.scan_id, "kinds": self.kinds, "found": self.found, "stock_drift": self.stock_drift}


DEFAULT_DOUBLE_ENTRY_WINDOW = timedelta(seconds=120)  # the DUPLICATE_WINDOW_SECONDS default


def double_entry_window(config) -> timedelta:
    """The DUPLICATE_WINDOW_SECONDS setting, from the app config the caller holds."""
    return timedelta(seconds=config["DUPLICATE_WINDOW_SECONDS"])


def run_scan(
    *, trigger: str, actor: str, progress=None, window: timedelta = DEFAULT_DOUBLE_ENTRY_WINDOW
) -> ScanSummary:
    """Scan the books, record the groups found (new ones open, known ones updated) and the scan itself.

    window: same device, same basket, entered again within it is a suspected double entry.
    """
    scan_id = run_write(lambda: _start_scan(trigger))
    try:
        found = list(find_duplicates(double_entry_window=window, progress=progress))
        drift = [
            {"store": d.store, "sku": d.sku, "stock_quantity": str(d.stock_quantity), "expected": str(d.expected)}
            for d in stock_drift()
        ]
        for start in range(0, len(found), WRITE_CHUNK):
            chunk = found[start : start + WRITE_CHUNK]
            run_write(partial(_record_groups, chunk, scan_id), retry_on_integrity=True)
            if progress:
                progress(min(1.0, (start + len(chunk)) / max(len(found), 1)), "recording groups")
        found_by_kind: dict[str, int] = {kind: sum(1 for g in found if g.kind == kind) for kind in KINDS}
        return run_write(lambda: _finish_scan(scan_id, actor, found_by_kind, drift))
    except Exception as exc:
        run_write(partial(_fail_scan, scan_id, exc))
        raise


def _start_scan(trigger: str) -> int:
    scan = DuplicateScan(trigger=trigger, status="running")
    db.session.add(scan)
    db.session.flush()
    return scan.id


def _fail_scan(scan_id: int, exc: Exception) -> None:
    db.session.execute(
        update(DuplicateScan)
        .where(DuplicateScan.id == scan_id)
        .values(status="failed", finished_at=utcnow(), findings=json.dumps({"error": str(exc)[:500]}))
    )


def _record_groups(groups: list[FoundGroup], scan_id: int) -> None:
    """Create the groups not known yet, reopen fixed ones found again, and add their members."""
    keys = [(g.kind, g.key) for g in groups]
    db.session.execute(
        insert_ignoring_conflicts(DuplicateGroup),
        [
            {
                "kind": g.kind,
                "group_key": g.key,
                "confidence": g.confidence,
                "status": "open",
                "detected_at": utcnow(),
                "last_seen_scan_id": scan_id,
                "order_count": len(g.order_ids),
            }
            for g in groups
        ],
    )
    ids = {
        (kind, key): (group_id, status)
        for group_id, kind, key, status in db.session.execute(
            select(DuplicateGroup.id, DuplicateGroup.kind, DuplicateGroup.group_key, DuplicateGroup.status).where(
                tuple_(DuplicateGroup.kind, DuplicateGroup.group_key).in_(keys)
            )
        )
    }
    for group in groups:
        group_id, status = ids[(group.kind, group.key)]
        values: dict[str, object] = {"last_seen_scan_id": scan_id, "order_count": len(group.order_ids)}
        if status == "fixed":
            # Found again after a fix: new copies arrived, or the fix was reverted.
            values.update(status="open", resolved_at=None, resolved_by=None)
        db.session.execute(update(DuplicateGroup).where(DuplicateGroup.id == group_id).values(**values))
    members = [
        {"group_id": ids[(g.kind, g.key)][0], "order_id": order_id, "order_line_id": None}
        for g in groups
        if not g.line_ids
        for order_id in g.order_ids
    ]
    members += [
        {"group_id": ids[(g.kind, g.key)][0], "order_id": g.order_ids[0], "order_line_id": line_id}
        for g in groups
        for line_id in g.line_ids
    ]
    if members:
        db.session.execute(insert_ignoring_conflicts(DuplicateGroupMember), members)
    label_groups_with_their_store(sorted({group_id for group_id, _status in ids.values()}))


def label_groups_with_their_store(group_ids: list[int]) -> None:
    """Set each group's store_id to the one store of all its orders (members of earlier scans included), or
    NULL when they are in several: who may see and fix a group follows from it (domain/scope.py).
    Migration 0012 labels existing groups with the same rule."""
    their_store = (
        select(case((func.count(Order.store_id.distinct()) == 1, func.min(Order.store_id))))
        .select_from(DuplicateGroupMember)
        .join(Order, Order.id == DuplicateGroupMember.order_id)
        .where(DuplicateGroupMember.group_id == DuplicateGroup.id)
        .scalar_subquery()
    )
    for chunk in chunks(group_ids):
        db.session.execute(update(DuplicateGroup).where(DuplicateGroup.id.in_(chunk)).values(store_id=their_store))


def _finish_scan(scan_id: int, actor: str, found: dict[str, int], drift: list[dict]) -> ScanSummary:
    # Open groups this scan did not find any more were resolved some other way (e.g. by another group's fix).
    db.session.execute(
        update(DuplicateGroup)
        .where(
            DuplicateGroup.status == "open",
            (DuplicateGroup.last_seen_scan_id.is_(None)) | (DuplicateGroup.last_seen_scan_id != scan_id),
        )
        .values(status="fixed", resolved_at=utcnow(), resolved_by="scan: no longer found")
    )
    kinds = open_group_counts()
    findings = {"found": found, "kinds": kinds, "stock_drift": drift}
    db.session.execute(
        update(DuplicateScan)
        .where(DuplicateScan.id == scan_id)
        .values(status="finished", finished_at=utcnow(), findings=json.dumps(findings))
    )
    audit.record(actor, "duplicate_scan", "duplicate_scan", scan_id, found=found)
    return ScanSummary(scan_id, found, kinds, drift)


def open_group_counts(scope: StoreScope = EVERY_STORE) -> dict[str, dict[str, int]]:
    """For every kind (0 included): open groups and the orders in them."""
    counts: dict[str, dict[str, int]] = {kind: {"groups": 0, "orders": 0} for kind in KINDS}
    rows = db.session.execute(
        select(
            DuplicateGroup.kind,
            func.count(func.distinct(DuplicateGroup.id)),
            func.count(func.distinct(DuplicateGroupMember.order_id)),
        )
        .join(DuplicateGroupMember, DuplicateGroupMember.group_id == DuplicateGroup.id)
        .where(DuplicateGroup.status == "open", scope.stores(DuplicateGroup.store_id))
        .group_by(DuplicateGroup.kind)
    )
    for kind, groups, orders in rows:
        counts[kind] = {"groups": groups, "orders": orders}
    return counts


def preview_counts(found: list[FoundGroup]) -> dict[str, dict[str, int]]:
    """Counts by kind, as open_group_counts gives them, for groups found but not recorded (dry runs)."""
    counts: dict[str, dict[str, int]] = {kind: {"groups": 0, "orders": 0} for kind in KINDS}
    for group in found:
        counts[group.kind]["groups"] += 1
        counts[group.kind]["orders"] += len(group.order_ids)
    return counts


def dismiss_group(group_id: int, reason: str, actor: str, scope: StoreScope = EVERY_STORE) -> None:
    """Mark an open group 'not a duplicate', with the manager's reason; audited."""
    dismiss_groups([group_id], reason, actor, scope)


def dismiss_groups(group_ids: list[int], reason: str, actor: str, scope: StoreScope = EVERY_STORE) -> int:
    """Mark open groups 'not a duplicate', all with one reason, all or none; audited per group. A group
    outside the scope's stores is not there for this person."""
    reason = (reason or "").strip()[:2000]
    if not reason:
        raise DuplicateError("say why these orders are not duplicates")
    ids = sorted(set(group_ids))
    if not ids:
        raise DuplicateError("choose at least one duplicate group")

    def unit() -> int:
        groups = {
            g.id: g
            for g in db.session.scalars(
                select(DuplicateGroup)
                .where(DuplicateGroup.id.in_(ids), scope.stores(DuplicateGroup.store_id))
                .order_by(DuplicateGroup.id)
                .with_for_update()
            )
        }
        for group_id in ids:
            group = groups.get(group_id)
            if group is None:
                raise DuplicateError(f"no duplicate group {group_id}")
            if group.status != GroupStatus.OPEN:
                raise DuplicateError(f"group {group_id} is {group.status}, not open")
        now = utcnow()
        for group_id in ids:
            group = groups[group_id]
            group.status, group.dismissed_reason = GroupStatus.DISMISSED, reason
            group.resolved_at, group.resolved_by = now, actor
            audit.record(
                actor, AuditAction.DISMISS_GROUP, "duplicate_group", group_id, store_id=group.store_id, reason=reason
            )
        return len(ids)

    return run_write(unit)


def undo_dismissal(group_id: int, actor: str, scope: StoreScope = EVERY_STORE) -> None:
    """Put a dismissed group back in the queue, open; the reason it had stays in the audit log."""

    def unit():
        group = db.session.get(DuplicateGroup, group_id, with_for_update=True)
        if group is None or not scope.allows(group.store_id):
            raise DuplicateError(f"no duplicate group {group_id}")
        if group.status != GroupStatus.DISMISSED:
            raise DuplicateError(f"group {group_id} is {group.status}, not dismissed")
        audit.record(
            actor,
            AuditAction.UNDO_DISMISSAL,
            "duplicate_group",
            group_id,
            store_id=group.store_id,
            reason=group.dismissed_reason,
        )
        group.status, group.dismissed_reason, group.resolved_at, group.resolved_by = GroupStatus.OPEN, None, None, None

    run_write(unit)


def group_order_ids(group_id: int) -> list[int]:
    """The orders of a group, earliest sale first."""
    return list(
        db.session.scalars(
            select(Order.id)
            .join(DuplicateGroupMember, DuplicateGroupMember.order_id == Order.id)
            .where(DuplicateGroupMember.group_id == group_id)
            .distinct()
            .order_by(Order.id)
        )
    )


COMPARED_FIELDS = (
    "offline_id",
    "receipt_number",
    "invoice_number",
    "device_id",
    "created_at",
    "cashier",
    "total",
    "status",
    "lines",
)


@dataclass
class GroupComparison:
    """A group's orders side by side, and the fields on which they differ."""

    group: DuplicateGroup
    orders: list[dict]
    differing: set[str]
    flagged_line_ids: set[int]


def compare_group(group_id: int) -> GroupComparison:
    """The group's orders with their lines, for a side-by-side view that highlights what differs."""
    group = db.session.get(DuplicateGroup, group_id)
    if group is None:
        raise DuplicateError(f"no duplicate group {group_id}")
    order_ids = group_order_ids(group_id)
    orders = {o.id: o for o in db.session.scalars(select(Order).where(Order.id.in_(order_ids)))}
    lines: dict[int, list[OrderLine]] = {}
    for line in db.session.scalars(
        select(OrderLine).where(OrderLine.order_id.in_(order_ids)).order_by(OrderLine.order_id, OrderLine.line_no)
    ):
        lines.setdefault(line.order_id, []).append(line)
    rows = []
    for order_id in sorted(order_ids, key=lambda i: (orders[i].created_at, i)):
        order = orders[order_id]
        row = {name: getattr(order, name) for name in COMPARED_FIELDS if name != "lines"}
        row["id"] = order.id
        row["lines"] = [(ln.sku, ln.quantity, ln.unit_price, ln.status) for ln in lines.get(order_id, [])]
        row["line_objects"] = lines.get(order_id, [])
        rows.append(row)
    differing = {name for name in COMPARED_FIELDS if len({repr(row[name]) for row in rows}) > 1}
    flagged = set(
        db.session.scalars(
            select(DuplicateGroupMember.order_line_id).where(
                DuplicateGroupMember.group_id == group_id, DuplicateGroupMember.order_line_id.is_not(None)
            )
        )
    )
    return GroupComparison(group, rows, differing, flagged)
