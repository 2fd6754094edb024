"""The duplicate review, read-only: groups, scans, a group side by side, fix plans and fix history.

Everything here reads; the actions (dismiss, preview, approve, revert) are in
domain/duplicates.py and domain/fixes.py and run as jobs where they are long.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from ...extensions import db
from ...models import Device, DuplicateGroup, DuplicateScan, Fix, FixGroup, Store
from ...models.duplicates import CERTAIN_KINDS, KINDS
from ..duplicates import compare_group
from ..fix_plans import FIXABLE_KINDS, ORDER_KINDS, default_keeper_of
from ..fixes import latest_fix_of_group
from ..scope import EVERY_STORE, StoreScope, visible_store_codes
from .duplicate_rows import GroupDetails, group_details
from .paging import PER_PAGE, Page, newest_first
from .plans import plan_document, plan_request, plan_status, plan_view, plans  # noqa: F401  (one module for the views)

GROUP_STATUSES = ("open", "dismissed", "fixed")
CONFIDENCES = ("certain", "review")
# The fields compared side by side, in the order the group page shows them.
COMPARED = ("invoice_number", "receipt_number", "offline_id", "device", "created_at", "cashier", "total", "status")
GROUP_IDS_SHOWN = 12


@dataclass(frozen=True)
class GroupRow:
    id: int
    kind: str
    confidence: str
    status: str
    order_count: int
    detected_at: datetime
    details: GroupDetails | None = None


def duplicate_groups(
    *,
    kind: str | None = None,
    status: str | None = None,
    confidence: str | None = None,
    before: int | None = None,
    after: int | None = None,
    per_page: int = PER_PAGE,
    scope: StoreScope = EVERY_STORE,
) -> Page[GroupRow]:
    """Duplicate groups, newest first, filtered; keyset pages on (status, kind, id), or on (store, status, id)
    for someone limited to stores (ix_duplicate_groups_store_status)."""
    stmt = select(
        DuplicateGroup.id,
        DuplicateGroup.kind,
        DuplicateGroup.confidence,
        DuplicateGroup.status,
        DuplicateGroup.order_count,
        DuplicateGroup.detected_at,
    ).where(scope.stores(DuplicateGroup.store_id))
    if status:
        stmt = stmt.where(DuplicateGroup.status == status)
    if kind:
        stmt = stmt.where(DuplicateGroup.kind == kind)
    if confidence:
        # Confidence follows from the kind: filtering on the kinds lets ix_duplicate_groups_status_kind serve it.
        kinds = [k for k in KINDS if (k in CERTAIN_KINDS) == (confidence == "certain")]
        stmt = stmt.where(DuplicateGroup.kind.in_(kinds), DuplicateGroup.confidence == confidence)
    page = newest_first(
        stmt, DuplicateGroup.id, lambda row: GroupRow(**row._mapping), before=before, after=after, per_page=per_page
    )
    details = group_details(page.items)
    return Page([replace(row, details=details[row.id]) for row in page.items], page.newer, page.older)


def open_certain_count(scope: StoreScope = EVERY_STORE) -> int:
    """Open groups a bulk fix would take."""
    return (
        db.session.scalar(
            select(func.count()).where(
                DuplicateGroup.status == "open",
                DuplicateGroup.kind.in_(CERTAIN_KINDS),
                scope.stores(DuplicateGroup.store_id),
            )
        )
        or 0
    )


@dataclass(frozen=True)
class ScanRow:
    id: int
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    found: list[tuple[str, int]]  # groups found, by kind
    open_after: list[tuple[str, int, int]]  # kind, open groups, orders in them
    stock_drift: list[dict]
    error: str | None


def scan_row(scan: DuplicateScan, store_codes: frozenset[str] | None = None) -> ScanRow:
    """A scan and its findings (the JSON duplicates.run_scan writes) as rows to show.

    The scan runs over the whole chain, and its counts are the chain's: for someone limited to stores
    (`store_codes`: theirs), they are left out and only their stores' stock drift is shown."""
    try:
        findings = json.loads(scan.findings) if scan.findings else {}
    except ValueError:
        findings = {"error": scan.findings}
    findings = findings if isinstance(findings, dict) else {}
    found = findings.get("found") or {} if store_codes is None else {}
    kinds = findings.get("kinds") or {} if store_codes is None else {}
    drift = [
        row
        for row in findings.get("stock_drift") or []
        if store_codes is None or (isinstance(row, dict) and row.get("store", "") in store_codes)
    ]
    return ScanRow(
        scan.id,
        scan.trigger,
        scan.status,
        scan.started_at,
        scan.finished_at,
        [(kind, int(found.get(kind, 0))) for kind in KINDS if kind in found],
        [
            (kind, int(kinds[kind].get("groups", 0)), int(kinds[kind].get("orders", 0)))
            for kind in KINDS
            if isinstance(kinds.get(kind), dict)
        ],
        drift,
        findings.get("error"),
    )


def scans(
    *, before: int | None = None, after: int | None = None, per_page: int = 20, scope: StoreScope = EVERY_STORE
) -> Page[ScanRow]:
    """Duplicate scans, newest first (ix_duplicate_scans_started_at), with what each found; per_page=1: the last."""
    stmt = select(DuplicateScan.id, DuplicateScan.started_at, DuplicateScan)
    codes = visible_store_codes(scope)
    return newest_first(
        stmt,
        DuplicateScan.id,
        lambda row: scan_row(row[2], codes),
        time_col=DuplicateScan.started_at,
        before=before,
        after=after,
        per_page=per_page,
    )


@dataclass(frozen=True)
class ComparedLine:
    id: int
    line_no: int
    sku: str
    quantity: Decimal
    unit_price: Decimal
    status: str
    flagged: bool  # the scan named this line (an extra line, or a line with extra movements)


@dataclass(frozen=True)
class ComparedOrder:
    id: int
    values: dict  # field name -> value, for COMPARED
    lines: list[ComparedLine]
    keepable: bool
    currency: str | None = None  # its till's store's; None for the default store following DASHBOARD_CURRENCY


@dataclass(frozen=True)
class GroupFix:
    id: int
    kind: str
    applied_at: datetime
    applied_by: str
    plan_id: int | None
    reverted: bool


@dataclass(frozen=True)
class GroupReview:
    group: DuplicateGroup
    orders: list[ComparedOrder]
    fields: tuple[str, ...]
    differing: frozenset[str]
    fixable: bool
    choose_keep: bool  # order kinds with more than one order still completed
    default_keep: int | None
    fixes: list[GroupFix]
    latest_fix_id: int | None


def group_review(group_id: int, scope: StoreScope = EVERY_STORE) -> GroupReview | None:
    """A group's orders side by side, what differs, the order kept by default, and its fixes; None when there
    is no such group in the scope's stores."""
    found = db.session.get(DuplicateGroup, group_id)
    if found is None or not scope.allows(found.store_id):
        return None
    comparison = compare_group(group_id)
    device_ids = {row["device_id"] for row in comparison.orders}
    tills = {
        row.id: row
        for row in db.session.execute(
            select(Device.id, Device.name, Store.currency)
            .join(Store, Store.id == Device.store_id)
            .where(Device.id.in_(device_ids))
        )
    }
    names = {device_id: till.name for device_id, till in tills.items()}
    orders = []
    for row in comparison.orders:
        values = {name: row[name] for name in COMPARED if name != "device"}
        values["device"] = names.get(row["device_id"], "")
        lines = [
            ComparedLine(
                ln.id, ln.line_no, ln.sku, ln.quantity, ln.unit_price, ln.status, ln.id in comparison.flagged_line_ids
            )
            for ln in row["line_objects"]
        ]
        till = tills.get(row["device_id"])
        orders.append(
            ComparedOrder(row["id"], values, lines, row["status"] == "completed", till.currency if till else None)
        )
    differing = {("device" if name == "device_id" else name) for name in comparison.differing}
    group = comparison.group
    keepable = [o.id for o in orders if o.keepable]
    choose = group.status == "open" and group.kind in ORDER_KINDS and len(keepable) > 1
    return GroupReview(
        group,
        orders,
        COMPARED,
        frozenset(differing),
        group.kind in FIXABLE_KINDS,
        choose,
        default_keeper_of(group.kind, keepable) if choose else None,
        _group_fixes(group_id),
        latest_fix_of_group(group_id),
    )


def _reverted(fix_ids):
    return set(db.session.scalars(select(Fix.reverts_fix_id).where(Fix.reverts_fix_id.in_(fix_ids))))


def _group_fixes(group_id: int) -> list[GroupFix]:
    rows = db.session.execute(
        select(Fix.id, Fix.kind, Fix.applied_at, Fix.applied_by, Fix.plan_id)
        .join(FixGroup, FixGroup.fix_id == Fix.id)
        .where(FixGroup.group_id == group_id)
        .order_by(Fix.id)
    ).all()
    reverted = _reverted([row.id for row in rows])
    return [GroupFix(*row, reverted=row.id in reverted) for row in rows]


@dataclass(frozen=True)
class FixRow:
    id: int
    kind: str  # apply or revert
    applied_at: datetime
    applied_by: str
    plan_id: int | None
    reverts_fix_id: int | None
    summary: dict
    group_ids: list[int]  # the first GROUP_IDS_SHOWN
    group_count: int
    reverted_by: int | None
    revertable: bool  # an apply, not reverted, and the latest fix of each of its groups


def _revertable():
    """SQL: this fix is an apply, not reverted, and no later unreverted apply touched one of its groups."""
    reversal, later, mine, theirs, later_reversal = (
        aliased(Fix),
        aliased(Fix),
        aliased(FixGroup),
        aliased(FixGroup),
        aliased(Fix),
    )
    not_reverted = ~select(reversal.id).where(reversal.reverts_fix_id == Fix.id).exists()
    superseded = (
        select(later.id)
        .join(theirs, theirs.fix_id == later.id)
        .join(mine, mine.group_id == theirs.group_id)
        .where(
            mine.fix_id == Fix.id,
            later.id > Fix.id,
            later.kind == "apply",
            ~select(later_reversal.id).where(later_reversal.reverts_fix_id == later.id).exists(),
        )
        .exists()
    )
    return (Fix.kind == "apply") & not_reverted & ~superseded


def _fix_rows(stmt, **paging) -> Page[FixRow]:
    raw = newest_first(stmt.add_columns(_revertable().label("revertable")), Fix.id, lambda row: row, **paging)
    ids = [row.id for row in raw.items]
    groups: dict[int, list[int]] = {}
    for fix_id, group_id in db.session.execute(
        select(FixGroup.fix_id, FixGroup.group_id)
        .where(FixGroup.fix_id.in_(ids))
        .order_by(FixGroup.fix_id, FixGroup.group_id)
    ):
        groups.setdefault(fix_id, []).append(group_id)
    reverted_by = dict(db.session.execute(select(Fix.reverts_fix_id, Fix.id).where(Fix.reverts_fix_id.in_(ids))).all())
    items = [
        FixRow(
            row.id,
            row.kind,
            row.applied_at,
            row.applied_by,
            row.plan_id,
            row.reverts_fix_id,
            json.loads(row.summary or "{}"),
            groups.get(row.id, [])[:GROUP_IDS_SHOWN],
            len(groups.get(row.id, [])),
            reverted_by.get(row.id),
            bool(row.revertable),
        )
        for row in raw.items
    ]
    return Page(items, raw.newer, raw.older)


_FIX_COLUMNS = (Fix.id, Fix.kind, Fix.applied_at, Fix.applied_by, Fix.plan_id, Fix.reverts_fix_id, Fix.summary)


def fixes(
    *, before: int | None = None, after: int | None = None, per_page: int = PER_PAGE, scope: StoreScope = EVERY_STORE
) -> Page[FixRow]:
    """Fixes applied and reverted, newest first (by primary key: fixes are numbered as they are made;
    ix_fixes_store_id for someone limited to stores)."""
    return _fix_rows(
        select(*_FIX_COLUMNS).where(scope.stores(Fix.store_id)), before=before, after=after, per_page=per_page
    )


def fix_row(fix_id: int, scope: StoreScope = EVERY_STORE) -> FixRow | None:
    page = _fix_rows(select(*_FIX_COLUMNS).where(Fix.id == fix_id, scope.stores(Fix.store_id)))
    return page.items[0] if page.items else None
