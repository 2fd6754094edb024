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


class InvoicePolicy(StrEnum):
    """INVOICE_POLICY: whose numbers a stored sale's invoice number comes from."""

    DEVICE = "device"  # the till's receipt number, unless another sale holds it
    SERVER = "server"  # always the server's own series


class LogFormat(StrEnum):
    """How the server writes its log lines (LOG_FORMAT)."""

    JSON = "json"
    TEXT = "text"


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
    DuplicateKind.SAME_OFFLINE_ID,
    DuplicateKind.SAME_INVOICE_SAME_CONTENT,
    DuplicateKind.RESENT_WITH_NEW_ID,
    DuplicateKind.DUPLICATE_LINES,
    DuplicateKind.DUPLICATE_MOVEMENTS,
)


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
    """Why a whole API request was refused: the `error` code of the JSON answer.

    The last four never reach the sync log: the HTTP server (gunicorn, nginx)
    answers them before the app sees the request, or the app failed.
    """

    INVALID_JSON = "invalid_json"
    INVALID_REQUEST = "invalid_request"
    BODY_TOO_LARGE = "body_too_large"
    BATCH_TOO_LARGE = "batch_too_large"
    TOO_MANY_IDS = "too_many_ids"
    MISSING_TOKEN = "missing_token"  # noqa: S105 (an error code, not a secret)
    UNKNOWN_TOKEN = "unknown_token"  # noqa: S105 (an error code, not a secret)
    DEVICE_REVOKED = "device_revoked"
    RATE_LIMITED = "rate_limited"
    DATABASE_UNAVAILABLE = "database_unavailable"
    SCHEMA_NOT_READY = "schema_not_ready"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    HTTP_ERROR = "http_error"
    URI_TOO_LONG = "uri_too_long"
    INTERNAL_ERROR = "internal_error"
    SERVER_UNAVAILABLE = "server_unavailable"
    SERVER_TIMEOUT = "server_timeout"
    INVALID_CLOSING = "invalid_closing"


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
    SCHEDULED_PRUNE = "scheduled_prune_job"


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
    USER_PASSWORD = "user.password"  # noqa: S105 (an audit action, not a secret)
    REPROCESS_SALE = "reprocess_sale"
    HANDLE_SKIPPED_SALE = "handle_skipped_sale"
    RETENTION_PRUNE = "retention_prune"


class ClosingStatus(StrEnum):
    """How a till's daily close compares with what the server stored for that till and day."""

    MATCHED = "matched"
    DIFFERS = "differs"
    # Grid only, never stored: the till sent no close for that day.
    NOT_RECEIVED = "not_received"


class ClosingDifference(StrEnum):
    """One kind of difference between a till's close and the server's books for that day."""

    # Sales the till counts that the server has not stored: still in the outbox, or lost.
    PENDING = "pending"
    # Sales the till counts that the server refused (skipped sales not yet re-processed).
    REJECTED = "rejected"
    # Sales the server counts that the till does not: copies in an open duplicate group.
    DUPLICATE = "duplicate"
    # Sales the server counts that the till does not: imported from an older system.
    LEGACY = "legacy"
    # Sales the server counts that the till does not, for no reason the server knows.
    NOT_COUNTED = "not_counted"
    # Same sales, different money: the till's total is not the sum of the stored sales.
    TOTAL_DIFFERS = "total_differs"


class ClosingRecord(StrEnum):
    """What POST /api/v1/closings did with the close it received."""

    RECORDED = "recorded"
    REPLACED = "replaced"
    UNCHANGED = "unchanged"


def sql_in(column: str, values) -> str:
    """A check constraint's text: `column IN ('a', 'b')`, in the enumeration's order."""
    return f"{column} IN ({', '.join(repr(str(value)) for value in values)})"
