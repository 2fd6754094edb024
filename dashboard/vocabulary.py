"""The product's vocabularies: one definition for each set of codes.

The codes are what the database stores, the API answers and support reads.
Everything else is built from these enumerations: the check constraints
(`sql_in`), the domain's rules, the form and command-line choices, and the
words a manager reads (`dashboard/admin/labels.py`, which must give every
member a label and an explanation; a test checks that it does).

No Flask here: the domain, the models and the till client may import it.
"""
from __future__ import annotations

from enum import StrEnum


class DuplicateKind(StrEnum):
    """What a duplicate group is, in the scan's order of precedence."""

    SAME_OFFLINE_ID = "same_offline_id"
    SAME_INVOICE_SAME_CONTENT = "same_invoice_same_content"
    RESENT_WITH_NEW_ID = "resent_with_new_id"
    INVOICE_COLLISION = "invoice_collision"
    SUSPECTED_DOUBLE_ENTRY = "suspected_double_entry"
    DUPLICATE_LINES = "duplicate_lines"
    DUPLICATE_MOVEMENTS = "duplicate_movements"


# Kinds whose fix needs no human judgement: "Fix all certain groups" takes them.
CERTAIN_KINDS: tuple[DuplicateKind, ...] = (
    DuplicateKind.SAME_OFFLINE_ID, DuplicateKind.SAME_INVOICE_SAME_CONTENT, DuplicateKind.RESENT_WITH_NEW_ID,
    DuplicateKind.DUPLICATE_LINES, DuplicateKind.DUPLICATE_MOVEMENTS)


class Confidence(StrEnum):
    CERTAIN = "certain"
    REVIEW = "review"


class GroupStatus(StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"
    FIXED = "fixed"


class SaleStatus(StrEnum):
    """The per-sale answer of a sync (the contract's statuses)."""

    CREATED = "created"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REJECTED = "rejected"


class Reason(StrEnum):
    """Why a sale was not plainly created (the contract's reason codes)."""

    UNKNOWN_SKU = "unknown_sku"
    INVALID_ORDER = "invalid_order"
    INVALID_CREATED_AT = "invalid_created_at"
    TOTAL_MISMATCH = "total_mismatch"
    PAYMENTS_MISMATCH = "payments_mismatch"
    NON_POSITIVE_QUANTITY = "non_positive_quantity"
    NEGATIVE_PRICE = "negative_price"
    TOO_MANY_DECIMALS = "too_many_decimals"
    TOO_MANY_LINES = "too_many_lines"
    OFFLINE_ID_REUSED = "offline_id_reused"
    RECEIPT_NUMBER_COLLISION = "receipt_number_collision"
    DUPLICATE = "duplicate"


class SyncError(StrEnum):
    """Why a whole sync request was refused (the error code of the JSON answer)."""

    INVALID_JSON = "invalid_json"
    INVALID_REQUEST = "invalid_request"
    BODY_TOO_LARGE = "body_too_large"
    BATCH_TOO_LARGE = "batch_too_large"
    TOO_MANY_IDS = "too_many_ids"
    MISSING_TOKEN = "missing_token"
    UNKNOWN_TOKEN = "unknown_token"
    DEVICE_REVOKED = "device_revoked"
    RATE_LIMITED = "rate_limited"
    DATABASE_UNAVAILABLE = "database_unavailable"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    HTTP_ERROR = "http_error"


class Resolution(StrEnum):
    """How a manager settled a sale a sync did not store (a rejection or a conflict)."""

    REPROCESSED = "reprocessed"
    HANDLED = "handled"


class OrderStatus(StrEnum):
    COMPLETED = "completed"
    VOID = "void"


class MovementKind(StrEnum):
    """Why a product's stock changed."""

    SALE = "sale"
    ADJUSTMENT = "adjustment"
    COMPENSATION = "compensation"
    LEGACY = "legacy"
    REVERSAL = "reversal"


class PaymentMethod(StrEnum):
    """Payment methods the dashboard has words for; a till may send others, shown as sent."""

    CASH = "cash"
    CARD = "card"
    MOBILE = "mobile"
    VOUCHER = "voucher"
    OTHER = "other"


class PlanStatus(StrEnum):
    COMPUTING = "computing"
    READY = "ready"
    APPLYING = "applying"
    APPLIED = "applied"
    STALE = "stale"
    FAILED = "failed"
    DISCARDED = "discarded"


class PlanAction(StrEnum):
    """One step of a fix plan."""

    VOID_ORDER = "void_order"
    VOID_LINE = "void_line"
    COMPENSATE = "compensate"


class FixKind(StrEnum):
    APPLY = "apply"
    REVERT = "revert"


class ScanStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class Trigger(StrEnum):
    """Who or what started a scan."""

    SCHEDULE = "schedule"
    DASHBOARD = "dashboard"
    CLI = "cli"


class Role(StrEnum):
    """Dashboard roles. Their rank (admin > manager > viewer) is ROLE_RANK."""

    ADMIN = "admin"
    MANAGER = "manager"
    VIEWER = "viewer"


# Each role may do what the lower ones may.
ROLE_RANK = {Role.VIEWER: 1, Role.MANAGER: 2, Role.ADMIN: 3}


class JobStatus(StrEnum):
    """An RQ job's status as the dashboard reports it ('unreachable': Redis did not answer)."""

    QUEUED = "queued"
    DEFERRED = "deferred"
    SCHEDULED = "scheduled"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"
    CANCELED = "canceled"
    MISSING = "missing"
    UNREACHABLE = "unreachable"


class JobKind(StrEnum):
    """What a background job does (the name of its function in dashboard/jobs/)."""

    SCAN = "scan_job"
    SCHEDULED_SCAN = "scheduled_scan_job"
    PREVIEW = "preview_job"
    APPLY = "apply_job"


class AuditAction(StrEnum):
    """What an audit entry records."""

    DUPLICATE_SCAN = "duplicate_scan"
    DISMISS_GROUP = "dismiss_group"
    UNDO_DISMISSAL = "undo_dismissal"
    PREVIEW_FIX = "preview_fix"
    APPROVE_FIX = "approve_fix"
    APPLY_FIX = "apply_fix"
    APPLY_REFUSED_STALE = "apply_refused_stale"
    DISCARD_PLAN = "discard_plan"
    REVERT_FIX = "revert_fix"
    LEGACY_IMPORT = "legacy_import"
    DEVICE_ADD = "device.add"
    DEVICE_REVOKE = "device.revoke"
    DEVICE_ROTATE = "device.rotate"
    STORE_ADD = "store.add"
    USER_CREATE = "user.create"
    USER_DEACTIVATE = "user.deactivate"
    USER_ROLE = "user.role"
    USER_PASSWORD = "user.password"
    REPROCESS_SALE = "reprocess_sale"
    HANDLE_SKIPPED_SALE = "handle_skipped_sale"


def sql_in(column: str, values) -> str:
    """A check constraint's text: `column IN ('a', 'b')`, in the enumeration's order."""
    return f"{column} IN ({', '.join(repr(str(value)) for value in values)})"
