"""Previewing, approving, applying and reverting duplicate fixes.

A fix never deletes: duplicate orders become 'void' (pointing at the order
kept), extra lines become 'void', and each cancelled sale movement gets a
compensating movement, so stock comes back exactly. Applying is one
transaction: a worker killed half-way leaves nothing applied, and the retry
applies it whole. A plan is applied at most once (fixes.plan_id is unique), a
fix reverted at most once (fixes.reverts_fix_id is unique).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import partial

from sqlalchemy import select, update

from ..database import chunks, run_write
from ..extensions import db
from ..models import DuplicateGroup, Fix, FixGroup, FixPlan, Order, OrderLine
from ..models.types import utcnow
from ..vocabulary import AuditAction, PlanStatus
from . import audit
from .fix_plans import PlanError, PlanTarget, build_plan, plan_hash, targets_for_groups
from .scope import EVERY_STORE, StoreScope, common_store
from .stock_ledger import active_movements, book_cancellations, fix_movements


class StalePlan(PlanError):
    """The data changed since the preview: the plan was not applied; preview again."""


@dataclass(frozen=True)
class FixResult:
    fix_id: int
    already_done: bool
    summary: dict


# Plans that are not approved yet, and so may be discarded.
DISCARDABLE = (PlanStatus.COMPUTING, PlanStatus.READY, PlanStatus.FAILED)


def selection_key(selection: list[tuple[int, int | None]]) -> str:
    """The same groups with the same orders kept give the same key, in whatever order they were chosen."""
    return hashlib.sha256(json.dumps(sorted(selection, key=lambda pair: pair[0])).encode()).hexdigest()


def request_plan(selection: list[tuple[int, int | None]], actor: str, scope: StoreScope = EVERY_STORE) -> int:
    """Record a preview request for these (group id, order to keep) pairs; a job computes it.

    While a preview of the same selection is still computing, that plan is
    returned instead: uq_fix_plans_computing_selection lets only one exist, so
    two requests at once make one plan (the loser's insert fails and its retry
    finds the winner's plan), and the plan's deterministic job id one job.

    The plan is labelled with its groups' one store (None when they are in several): who may see,
    approve and apply it follows (domain/scope.py). Someone limited to stores asks for one store's
    groups at a time, since a plan over several stores is chain-wide.
    """
    if not selection:
        raise PlanError("choose at least one duplicate group")
    if len({group_id for group_id, _ in selection}) != len(selection):
        raise PlanError("each duplicate group can be chosen once")
    # Refuse unknown, closed, unfixable or out-of-scope groups now, not in the job.
    store_id = common_store(target.store_id for target in targets_for_groups(selection, scope))
    if store_id is None and not scope.is_chain_wide:
        raise PlanError("these groups are in several stores, or span stores: preview one store's groups at a time")
    key = selection_key(selection)

    def unit() -> int:
        computing = db.session.scalar(
            select(FixPlan.id).where(FixPlan.selection_key == key, FixPlan.status == PlanStatus.COMPUTING)
        )
        if computing is not None:
            return computing
        plan = FixPlan(
            created_by=actor,
            status="computing",
            selection_key=key,
            request=json.dumps([{"group_id": g, "keep_order_id": k} for g, k in selection]),
            store_id=store_id,
        )
        db.session.add(plan)
        db.session.flush()
        audit.record(actor, "preview_fix", "fix_plan", plan.id, store_id=store_id, groups=[g for g, _ in selection])
        return plan.id

    return run_write(unit, retry_on_integrity=True)


def discard_plan(plan_id: int, actor: str, scope: StoreScope = EVERY_STORE) -> None:
    """Set aside a plan nobody approved (computing, ready or failed); audited. Approving it is then refused."""

    def unit():
        plan = db.session.get(FixPlan, plan_id, with_for_update=True)
        if plan is None or not scope.allows(plan.store_id):
            raise PlanError(f"no fix plan {plan_id}")
        if plan.status not in DISCARDABLE:
            raise PlanError(f"plan {plan_id} is {plan.status}; only a plan not yet approved can be discarded")
        plan.status = PlanStatus.DISCARDED
        audit.record(actor, AuditAction.DISCARD_PLAN, "fix_plan", plan_id, store_id=plan.store_id)

    run_write(unit)


def _selection(plan: FixPlan) -> list[tuple[int, int | None]]:
    return [(item["group_id"], item["keep_order_id"]) for item in json.loads(plan.request)]


def compute_plan(plan_id: int, progress=None) -> str:
    """Work out the plan's actions and store them with their hash; returns the hash. Safe to run again."""
    plan = db.session.get(FixPlan, plan_id)
    if plan is None:
        raise PlanError(f"no fix plan {plan_id}")
    if plan.status not in ("computing", "ready", "failed"):
        return plan.plan_hash
    try:
        targets = targets_for_groups(_selection(plan))
        _check_plan_store(plan, targets)
        computed = build_plan(targets, progress)
    except PlanError as exc:
        run_write(partial(_set_plan, plan_id, status="failed", error=str(exc)))
        raise
    digest = plan_hash(computed)
    run_write(lambda: _set_plan(plan_id, status="ready", plan=json.dumps(computed), plan_hash=digest, error=None))
    return digest


def _check_plan_store(plan: FixPlan, targets: list[PlanTarget]) -> None:
    """A plan labelled with a store touches that store's orders only: a group that took in another store's
    order since it was chosen is refused, so a fix asked for by a store's manager never reaches past it."""
    if plan.store_id is None:
        return
    order_ids = sorted({order_id for target in targets for order_id in target.order_ids})
    for chunk in chunks(order_ids):
        elsewhere = db.session.scalar(
            select(Order.id).where(Order.id.in_(chunk), Order.store_id != plan.store_id).limit(1)
        )
        if elsewhere is not None:
            raise PlanError(f"order {elsewhere} of these groups is in another store than the plan's")


def _set_plan(plan_id: int, **values) -> None:
    # Only a plan still being previewed: one discarded (or approved) meanwhile keeps its status.
    db.session.execute(update(FixPlan).where(FixPlan.id == plan_id, FixPlan.status.in_(DISCARDABLE)).values(**values))


def approve_plan(plan_id: int, quoted_hash: str, actor: str, scope: StoreScope = EVERY_STORE) -> None:
    """Bind an approval to the previewed plan and its hash; the apply job does the work."""

    def unit():
        # Locked: a discard (or another approval) at the same moment waits, then sees this status.
        plan = db.session.get(FixPlan, plan_id, with_for_update=True)
        if plan is None or not scope.allows(plan.store_id):
            raise PlanError(f"no fix plan {plan_id}")
        if plan.status != "ready":
            raise PlanError(f"plan {plan_id} is {plan.status}; only a finished preview can be approved")
        if plan.plan_hash != quoted_hash:
            raise StalePlan("this approval does not match the previewed plan; preview again")
        plan.status, plan.approved_by, plan.approved_at = "applying", actor, utcnow()
        audit.record(actor, "approve_fix", "fix_plan", plan_id, store_id=plan.store_id, plan_hash=quoted_hash)

    run_write(unit)


def apply_plan(plan_id: int, actor: str, progress=None) -> FixResult:
    """Apply an approved plan in one transaction; refuses (and marks it stale) if the data changed."""
    outcome = run_write(lambda: _apply(plan_id, actor, progress), retry_on_integrity=True)
    if isinstance(outcome, StalePlan):
        raise outcome
    return outcome


def _apply(plan_id: int, actor: str, progress):
    done = db.session.scalar(select(Fix).where(Fix.plan_id == plan_id))
    if done is not None:
        return FixResult(done.id, True, json.loads(done.summary))
    plan = db.session.get(FixPlan, plan_id)
    if plan is None or plan.status not in ("applying", "ready"):
        raise PlanError(f"plan {plan_id} cannot be applied (it is {plan.status if plan else 'missing'})")
    try:
        targets = targets_for_groups(_selection(plan))
        _check_plan_store(plan, targets)
    except PlanError as exc:  # a group was fixed or dismissed since the preview, or reaches another store
        return _refuse_stale(plan, actor, str(exc))
    # Lock the orders first, so the plan computed next cannot be changed under us by a concurrent fix.
    order_ids = sorted({order_id for t in targets for order_id in t.order_ids})
    db.session.execute(select(Order.id).where(Order.id.in_(order_ids)).order_by(Order.id).with_for_update())
    current = build_plan(targets, progress)
    if plan_hash(current) != plan.plan_hash:
        return _refuse_stale(plan, actor, "the orders changed since this plan was previewed")
    fix = Fix(
        kind="apply",
        plan_id=plan_id,
        applied_by=actor,
        summary=json.dumps(current["totals"]),
        store_id=plan.store_id,
    )
    db.session.add(fix)
    db.session.flush()
    now = utcnow()
    actions = [a for g in current["groups"] for a in g["actions"]]
    for action in (a for a in actions if a["type"] == "void_order"):
        _void(Order, action["order_id"], fix.id, now, kept_order_id=action["keep_order_id"])
    for action in (a for a in actions if a["type"] == "void_line"):
        _void(OrderLine, action["order_line_id"], fix.id, now)
    compensated = {a["movement_id"] for a in actions if a["type"] == "compensate"}
    line_ids = sorted({a["order_line_id"] for a in actions if a["type"] == "compensate"})
    movements = [m for ms in active_movements(line_ids).values() for m in ms if m.id in compensated]
    book_cancellations(movements, kind="compensation", fix_id=fix.id, when=now)
    group_ids = [g["group_id"] for g in current["groups"]]
    db.session.execute(
        update(DuplicateGroup)
        .where(DuplicateGroup.id.in_(group_ids))
        .values(status="fixed", resolved_at=now, resolved_by=actor)
    )
    db.session.add_all(FixGroup(fix_id=fix.id, group_id=group_id) for group_id in group_ids)
    plan.status = "applied"
    audit.record(actor, "apply_fix", "fix", fix.id, store_id=plan.store_id, plan_id=plan_id, **current["totals"])
    return FixResult(fix.id, False, current["totals"])


def _refuse_stale(plan: FixPlan, actor: str, why: str) -> StalePlan:
    """Mark the plan stale (committed with the audit entry) and return the error to raise."""
    plan.status, plan.error = "stale", why
    audit.record(actor, "apply_refused_stale", "fix_plan", plan.id, store_id=plan.store_id, reason=why)
    return StalePlan(f"{why}; nothing was applied, preview again")


def _void(model, row_id: int, fix_id: int, now, **values) -> None:
    result = db.session.execute(
        update(model)
        .where(model.id == row_id, model.status == "completed")
        .values(status="void", voided_at=now, void_fix_id=fix_id, **values)
    )
    changed = result.rowcount  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
    if changed != 1:
        # Unreachable while the orders are locked; if it happens, nothing of this fix may stay.
        raise RuntimeError(f"{model.__tablename__} {row_id} was no longer completed")


def latest_fix_of_group(group_id: int) -> int | None:
    """The newest applied, not reverted fix that resolved the group."""
    reverted = select(Fix.reverts_fix_id).where(Fix.reverts_fix_id.is_not(None))
    return db.session.scalar(
        select(Fix.id)
        .join(FixGroup, FixGroup.fix_id == Fix.id)
        .where(FixGroup.group_id == group_id, Fix.kind == "apply", Fix.id.not_in(reverted))
        .order_by(Fix.id.desc())
        .limit(1)
    )


def revert_fix(fix_id: int, actor: str, scope: StoreScope = EVERY_STORE) -> FixResult:
    """Undo a fix: its orders and lines completed again, its compensations reversed. Audited."""
    return run_write(lambda: _revert(fix_id, actor, scope), retry_on_integrity=True)


def _revert(fix_id: int, actor: str, scope: StoreScope) -> FixResult:
    fix = db.session.get(Fix, fix_id)
    if fix is None or fix.kind != "apply" or not scope.allows(fix.store_id):
        raise PlanError(f"no applied fix {fix_id}")
    done = db.session.scalar(select(Fix).where(Fix.reverts_fix_id == fix_id))
    if done is not None:
        return FixResult(done.id, True, json.loads(done.summary))
    group_ids = list(db.session.scalars(select(FixGroup.group_id).where(FixGroup.fix_id == fix_id)))
    for group_id in group_ids:
        if latest_fix_of_group(group_id) != fix_id:
            raise PlanError(f"fix {fix_id} is not the latest fix of group {group_id}; revert the later one first")
    db.session.execute(select(Order.id).where(Order.void_fix_id == fix_id).with_for_update())
    revert = Fix(kind="revert", reverts_fix_id=fix_id, applied_by=actor, summary=fix.summary, store_id=fix.store_id)
    db.session.add(revert)
    db.session.flush()
    for model in (Order, OrderLine):
        values = {"status": "completed", "voided_at": None, "void_fix_id": None}
        if model is Order:
            values["kept_order_id"] = None
        db.session.execute(update(model).where(model.void_fix_id == fix_id).values(**values))
    book_cancellations(fix_movements(fix_id, "compensation"), kind="reversal", fix_id=revert.id, when=utcnow())
    db.session.execute(
        update(DuplicateGroup)
        .where(DuplicateGroup.id.in_(group_ids))
        .values(status="open", resolved_at=None, resolved_by=None)
    )
    db.session.add_all(FixGroup(fix_id=revert.id, group_id=group_id) for group_id in group_ids)
    audit.record(actor, "revert_fix", "fix", fix_id, store_id=fix.store_id, revert_id=revert.id)
    return FixResult(revert.id, False, json.loads(fix.summary))


def fix_now(selection: list[tuple[int, int | None]], actor: str, progress=None) -> FixResult:
    """Preview, approve and apply in this process (the command line's --force and --fix)."""
    plan_id = request_plan(selection, actor)
    digest = compute_plan(plan_id, progress)
    approve_plan(plan_id, digest, actor)
    return apply_plan(plan_id, actor, progress)
