"""Words for codes: a label and a one-sentence explanation for every member of every vocabulary.

Templates use `{{ code|label("kind") }}`, `{{ code|explain("kind") }}` and the
`coded()` macro (label, with the code as a small detail for support). A code
no table knows (a payment method a till invented, a value from a newer
release) is shown as it is rather than hidden.
"""

from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l

from .. import vocabulary as v

Words = dict[str, tuple[str, str]]

KIND: Words = {
    v.DuplicateKind.SAME_OFFLINE_ID: (
        _l("Same sale stored twice"),
        _l(
            "The same sale (one offline id) was stored more than once. One copy is real; the others are voided by a fix."
        ),
    ),
    v.DuplicateKind.SAME_INVOICE_SAME_CONTENT: (
        _l("Same invoice, same sale"),
        _l("Orders with the same invoice number and the same content: one sale stored several times."),
    ),
    v.DuplicateKind.RESENT_WITH_NEW_ID: (
        _l("Re-sent by the till"),
        _l(
            "The till sent the same sale again under a new id: same till, same second, same basket. "
            "A till rings one sale at a time, so these are one sale; a fix keeps the first one received."
        ),
    ),
    v.DuplicateKind.INVOICE_COLLISION: (
        _l("Two sales, one invoice number"),
        _l(
            "Different sales that share an invoice number. Both are real sales and both are kept: a fix cannot merge them."
        ),
    ),
    v.DuplicateKind.SUSPECTED_DOUBLE_ENTRY: (
        _l("Perhaps rung up twice"),
        _l(
            "The same basket on the same till within a short time: perhaps entered twice, perhaps two customers. Check before fixing."
        ),
    ),
    v.DuplicateKind.DUPLICATE_LINES: (
        _l("Line written twice"),
        _l("A line written twice in one order whose total counts it once: the extra line is voided by a fix."),
    ),
    v.DuplicateKind.DUPLICATE_MOVEMENTS: (
        _l("Stock taken twice"),
        _l("A line that took stock more than once: a fix books the extra stock back."),
    ),
}

CONFIDENCE: Words = {
    v.Confidence.CERTAIN: (_l("certain"), _l("Certainly a duplicate: it can be fixed without a closer look.")),
    v.Confidence.REVIEW: (_l("to review"), _l("Perhaps a duplicate: a manager decides.")),
}

GROUP_STATUS: Words = {
    v.GroupStatus.OPEN: (_l("open"), _l("Waiting for a manager: fix it or dismiss it.")),
    v.GroupStatus.DISMISSED: (_l("dismissed"), _l("A manager decided these are not duplicates.")),
    v.GroupStatus.FIXED: (_l("fixed"), _l("A fix voided the extra copies; the books count the sale once.")),
}

SALE_STATUS: Words = {
    v.SaleStatus.CREATED: (_l("created"), _l("The sale was stored.")),
    v.SaleStatus.DUPLICATE: (
        _l("duplicate"),
        _l("The till sent a sale already stored; nothing was stored twice. Harmless."),
    ),
    v.SaleStatus.CONFLICT: (_l("conflict"), _l("The sale's id or receipt number is already used by a different sale.")),
    v.SaleStatus.REJECTED: (
        _l("rejected"),
        _l("The sale was not stored: its money is missing from the books until it is dealt with."),
    ),
}

REASON: Words = {
    v.Reason.UNKNOWN_SKU: (
        _l("Unknown product"),
        _l("The sale names a product code the catalogue does not have. Add the product, then re-process the sale."),
    ),
    v.Reason.INVALID_ORDER: (
        _l("Sale not readable"),
        _l("The till sent a sale with missing or malformed fields; the message says which."),
    ),
    v.Reason.INVALID_CREATED_AT: (
        _l("Impossible sale time"),
        _l("The sale's time is missing, has no time zone, or is far in the past or future: check the till's clock."),
    ),
    v.Reason.TOTAL_MISMATCH: (_l("Total does not add up"), _l("The sale's total is not the sum of its lines.")),
    v.Reason.PAYMENTS_MISMATCH: (
        _l("Payments do not add up"),
        _l("The payments recorded do not add up to the sale's total."),
    ),
    v.Reason.NON_POSITIVE_QUANTITY: (_l("Zero or negative quantity"), _l("A line sells zero or fewer items.")),
    v.Reason.NEGATIVE_PRICE: (_l("Negative price"), _l("A line has a price below zero.")),
    v.Reason.TOO_MANY_DECIMALS: (
        _l("Too many decimals"),
        _l("An amount has more decimal places than the store's currency has (2 for most, 3 for KWD or JOD)."),
    ),
    v.Reason.TOO_MANY_LINES: (_l("Too many lines"), _l("The sale has more lines than one sale may have.")),
    v.Reason.OFFLINE_ID_REUSED: (
        _l("Id used by another sale"),
        _l("The till sent a different sale under an id that is already stored. The stored sale was kept."),
    ),
    v.Reason.RECEIPT_NUMBER_COLLISION: (
        _l("Receipt number already used"),
        _l("The receipt number was already taken, so the sale was stored under a new invoice number."),
    ),
    v.Reason.DUPLICATE: (
        _l("Sent again"),
        _l("The till sent a sale that was already stored. Nothing was stored twice."),
    ),
}

SYNC_ERROR: Words = {
    v.SyncError.INVALID_JSON: (_l("Unreadable request"), _l("The till sent something that is not JSON.")),
    v.SyncError.INVALID_REQUEST: (
        _l("Malformed request"),
        _l("The request does not have the shape the contract asks for."),
    ),
    v.SyncError.BODY_TOO_LARGE: (
        _l("Request too large"),
        _l("The request was over the size limit; the till should send smaller batches."),
    ),
    v.SyncError.BATCH_TOO_LARGE: (
        _l("Too many sales"),
        _l("The batch had more sales than allowed; the till should split it."),
    ),
    v.SyncError.TOO_MANY_IDS: (_l("Too many ids"), _l("The till asked about more sales at once than allowed.")),
    v.SyncError.MISSING_TOKEN: (_l("No token"), _l("The request carried no till token.")),
    v.SyncError.UNKNOWN_TOKEN: (_l("Unknown token"), _l("The request's token belongs to no registered till.")),
    v.SyncError.DEVICE_REVOKED: (_l("Till stopped"), _l("The till has been stopped by an administrator.")),
    v.SyncError.RATE_LIMITED: (
        _l("Too many requests"),
        _l("The till sent too many requests in a minute and was asked to wait."),
    ),
    v.SyncError.DATABASE_UNAVAILABLE: (
        _l("Server busy"),
        _l("The database could not be reached; the till will retry."),
    ),
    v.SyncError.SCHEMA_NOT_READY: (
        _l("Server not set up"),
        _l(
            "The server's database is not migrated to this version; an operator must run the migrations. The till keeps its sales."
        ),
    ),
    v.SyncError.NOT_FOUND: (_l("Unknown address"), _l("The till called an address the server does not have.")),
    v.SyncError.METHOD_NOT_ALLOWED: (
        _l("Wrong method"),
        _l("The till used an HTTP method this address does not take."),
    ),
    v.SyncError.UNSUPPORTED_MEDIA_TYPE: (
        _l("Not sent as JSON"),
        _l("The till said its request was something other than JSON."),
    ),
    v.SyncError.HTTP_ERROR: (_l("HTTP error"), _l("The request failed for another HTTP reason.")),
    v.SyncError.URI_TOO_LONG: (_l("Address too long"), _l("The request's address was longer than the server accepts.")),
    v.SyncError.INTERNAL_ERROR: (_l("Server error"), _l("The server failed while answering; nothing was stored.")),
    v.SyncError.SERVER_UNAVAILABLE: (
        _l("Server not answering"),
        _l("The proxy could not reach the application; the till will retry."),
    ),
    v.SyncError.SERVER_TIMEOUT: (
        _l("Server too slow"),
        _l("The application did not answer the proxy in time; the till will retry."),
    ),
    v.SyncError.INVALID_CLOSING: (
        _l("Unreadable daily close"),
        _l("The till's daily close is missing a field or has one the server cannot read."),
    ),
}

CLOSING_STATUS: Words = {
    v.ClosingStatus.MATCHED: (
        _l("matched"),
        _l("The till's count and total for the day are exactly what the server stored."),
    ),
    v.ClosingStatus.DIFFERS: (
        _l("differs"),
        _l("The till's figures for the day and the server's books differ; the day's page says why."),
    ),
    v.ClosingStatus.NOT_RECEIVED: (_l("no close received"), _l("The till has not sent its close of this day yet.")),
}

CLOSING_DIFFERENCE: Words = {
    v.ClosingDifference.PENDING: (
        _l("Not received yet"),
        _l(
            "Sales the till counts that the server has not stored: still in the till's outbox, or lost. "
            "They usually arrive at the till's next sync."
        ),
    ),
    v.ClosingDifference.REJECTED: (
        _l("Refused by the server"),
        _l(
            "Sales the till counts that the server refused; they are on the skipped sales page until re-processed or handled."
        ),
    ),
    v.ClosingDifference.DUPLICATE: (
        _l("Duplicate not fixed yet"),
        _l(
            "Copies of a sale the server stored twice; the till counts the sale once. Fixing the duplicate group settles it."
        ),
    ),
    v.ClosingDifference.LEGACY: (
        _l("Imported from the old system"),
        _l("Sales imported from an older system for this till and day, which the till does not count."),
    ),
    v.ClosingDifference.NOT_COUNTED: (
        _l("Not counted by the till"),
        _l("Sales the server stored for this till and day that the till's close does not count."),
    ),
    v.ClosingDifference.TOTAL_DIFFERS: (
        _l("Total differs"),
        _l("The same sales on both sides, but the till's total is not the sum of the stored sales."),
    ),
}

CLOSING_RECORD: Words = {
    v.ClosingRecord.RECORDED: (_l("recorded"), _l("The till's first close of this day.")),
    v.ClosingRecord.REPLACED: (
        _l("replaced"),
        _l("A later close of the same day replaced an earlier one, which stays in the history."),
    ),
    v.ClosingRecord.UNCHANGED: (_l("already received"), _l("The same close was received before; nothing changed.")),
}

RESOLUTION: Words = {
    v.Resolution.REPROCESSED: (
        _l("re-processed"),
        _l("A manager stored the sale again from what the till sent, once its cause was fixed."),
    ),
    v.Resolution.HANDLED: (_l("handled"), _l("A manager dealt with the sale another way and said how in a note.")),
}

ORDER_STATUS: Words = {
    v.OrderStatus.COMPLETED: (_l("completed"), _l("A sale in the books.")),
    v.OrderStatus.VOID: (_l("void"), _l("Voided as a duplicate: kept for the record, left out of every total.")),
}

MOVEMENT_KIND: Words = {
    v.MovementKind.SALE: (_l("sale"), _l("Stock taken by a sale.")),
    v.MovementKind.ADJUSTMENT: (_l("adjustment"), _l("Stock set by hand or by a catalogue import.")),
    v.MovementKind.COMPENSATION: (_l("given back by a fix"), _l("Stock given back when a duplicate was voided.")),
    v.MovementKind.LEGACY: (_l("imported sale"), _l("Stock taken by a sale imported from an older system.")),
    v.MovementKind.REVERSAL: (_l("fix reverted"), _l("Stock taken again when a fix was reverted.")),
}

PAYMENT_METHOD: Words = {
    v.PaymentMethod.CASH: (_l("cash"), _l("Paid in cash.")),
    v.PaymentMethod.CARD: (_l("card"), _l("Paid by card.")),
    v.PaymentMethod.MOBILE: (_l("mobile"), _l("Paid by phone or wallet.")),
    v.PaymentMethod.VOUCHER: (_l("voucher"), _l("Paid with a voucher or gift card.")),
    v.PaymentMethod.OTHER: (_l("other"), _l("Another way of paying.")),
}

PLAN_STATUS: Words = {
    v.PlanStatus.COMPUTING: (_l("being worked out"), _l("A background job is working out what the fix would do.")),
    v.PlanStatus.READY: (_l("ready for approval"), _l("Read the plan; nothing changes until a manager approves it.")),
    v.PlanStatus.APPLYING: (_l("approved, being applied"), _l("A background job is applying the approved fix.")),
    v.PlanStatus.APPLIED: (_l("applied"), _l("The fix was applied.")),
    v.PlanStatus.STALE: (
        _l("out of date"),
        _l("The data changed after the preview, so nothing was applied; preview again."),
    ),
    v.PlanStatus.FAILED: (_l("failed"), _l("The job failed; nothing was changed. Run it again.")),
    v.PlanStatus.DISCARDED: (
        _l("discarded"),
        _l("A manager set this plan aside before approving it; nothing was changed."),
    ),
}

PLAN_ACTION: Words = {
    v.PlanAction.VOID_ORDER: (_l("void order"), _l("The order is voided: kept for the record, left out of totals.")),
    v.PlanAction.VOID_LINE: (_l("void line"), _l("The line is voided: kept for the record, left out of totals.")),
    v.PlanAction.COMPENSATE: (_l("give stock back"), _l("A movement gives back the stock the voided sale took.")),
}

FIX_KIND: Words = {
    v.FixKind.APPLY: (_l("fix"), _l("A fix that voided duplicates.")),
    v.FixKind.REVERT: (_l("revert"), _l("A fix that was undone.")),
}

SCAN_STATUS: Words = {
    v.ScanStatus.RUNNING: (_l("running"), _l("The scan is still looking.")),
    v.ScanStatus.FINISHED: (_l("finished"), _l("The scan looked at every sale.")),
    v.ScanStatus.FAILED: (_l("failed"), _l("The scan stopped on an error; run it again.")),
}

TRIGGER: Words = {
    v.Trigger.SCHEDULE: (_l("daily schedule"), _l("Started by the daily schedule.")),
    v.Trigger.DASHBOARD: (_l("dashboard"), _l("Started by a manager on the dashboard.")),
    v.Trigger.CLI: (_l("command line"), _l("Started by an operator's command.")),
}

ROLE: Words = {
    v.Role.VIEWER: (_l("Viewer (read only)"), _l("Sees every screen, changes nothing.")),
    v.Role.MANAGER: (_l("Manager (review and fix)"), _l("Reviews and fixes duplicates and skipped sales.")),
    v.Role.ADMIN: (_l("Admin (everything, users and devices)"), _l("Everything, and manages users and tills.")),
}

JOB_STATUS: Words = {
    v.JobStatus.QUEUED: (_l("waiting"), _l("Waiting for a worker.")),
    v.JobStatus.DEFERRED: (_l("waiting"), _l("Waiting for another job to finish.")),
    v.JobStatus.SCHEDULED: (_l("scheduled"), _l("Will start at its set time.")),
    v.JobStatus.STARTED: (_l("running"), _l("A worker is on it.")),
    v.JobStatus.FINISHED: (_l("finished"), _l("The job has finished its work.")),
    v.JobStatus.FAILED: (_l("failed"), _l("The job failed; it can be run again.")),
    v.JobStatus.STOPPED: (_l("stopped"), _l("The job was stopped; it can be run again.")),
    v.JobStatus.CANCELED: (_l("cancelled"), _l("The job was cancelled.")),
    v.JobStatus.MISSING: (
        _l("not found"),
        _l("The queue no longer knows this job (it finished long ago, or Redis lost it)."),
    ),
    v.JobStatus.UNREACHABLE: (_l("unknown"), _l("The job queue (Redis) did not answer.")),
}

JOB_KIND: Words = {
    v.JobKind.SCAN: (
        _l("duplicate scan"),
        _l("Looks for duplicates in every order, asked for on the dashboard or the command line."),
    ),
    v.JobKind.SCHEDULED_SCAN: (_l("daily duplicate scan"), _l("The duplicate scan the schedule runs every day.")),
    v.JobKind.PREVIEW: (_l("fix preview"), _l("Works out what a fix would do, changing nothing.")),
    v.JobKind.APPLY: (_l("fix being applied"), _l("Applies an approved fix in one transaction.")),
    v.JobKind.SCHEDULED_PRUNE: (
        _l("daily prune"),
        _l("Deletes sync records, scans and audit entries older than the retention settings."),
    ),
}

AUDIT_ACTION: Words = {
    v.AuditAction.DUPLICATE_SCAN: (_l("duplicate scan"), _l("Looked for duplicates in the books.")),
    v.AuditAction.DISMISS_GROUP: (_l("group dismissed"), _l("A duplicate group was marked as not duplicates.")),
    v.AuditAction.UNDO_DISMISSAL: (
        _l("dismissal undone"),
        _l("A dismissed duplicate group was put back in the queue, open."),
    ),
    v.AuditAction.PREVIEW_FIX: (_l("fix previewed"), _l("A fix was worked out, changing nothing.")),
    v.AuditAction.APPROVE_FIX: (_l("fix approved"), _l("A manager approved a fix as previewed.")),
    v.AuditAction.APPLY_FIX: (_l("fix applied"), _l("A fix voided duplicates and gave their stock back.")),
    v.AuditAction.APPLY_REFUSED_STALE: (
        _l("fix refused: data changed"),
        _l("The data changed after the preview, so the fix was not applied."),
    ),
    v.AuditAction.REVERT_FIX: (_l("fix reverted"), _l("A fix was undone.")),
    v.AuditAction.DISCARD_PLAN: (
        _l("fix plan discarded"),
        _l("A fix plan was set aside before approval; nothing was changed."),
    ),
    v.AuditAction.LEGACY_IMPORT: (_l("legacy import"), _l("Sales were imported from an older system.")),
    v.AuditAction.DEVICE_ADD: (_l("till added"), _l("A till was registered.")),
    v.AuditAction.DEVICE_REVOKE: (_l("till stopped"), _l("A till's token was revoked.")),
    v.AuditAction.DEVICE_ROTATE: (_l("till token replaced"), _l("A till was given a new token.")),
    v.AuditAction.STORE_ADD: (
        _l("store added"),
        _l("A store was added, with its currency, time zone and invoice series."),
    ),
    v.AuditAction.USER_CREATE: (_l("user added"), _l("A dashboard user was created.")),
    v.AuditAction.USER_DEACTIVATE: (_l("user deactivated"), _l("A dashboard user can no longer sign in.")),
    v.AuditAction.USER_ROLE: (
        _l("role changed"),
        _l("A dashboard user was given another role and signed out everywhere."),
    ),
    v.AuditAction.USER_PASSWORD: (
        _l("password changed"),
        _l("A dashboard user changed their password and was signed out everywhere else."),
    ),
    v.AuditAction.REPROCESS_SALE: (
        _l("skipped sale re-processed"),
        _l("A rejected sale was stored again from what the till sent, or refused again."),
    ),
    v.AuditAction.HANDLE_SKIPPED_SALE: (
        _l("skipped sale handled"),
        _l("A rejected or conflicting sale was marked handled, with a note."),
    ),
    v.AuditAction.RETENTION_PRUNE: (
        _l("old records pruned"),
        _l(
            "Sync records, scans, set-aside plans and audit entries older than the retention "
            "settings were deleted. Sales are never deleted."
        ),
    ),
}

# Vocabulary name (as templates say it) → its enumeration and its words.
VOCABULARIES: dict[str, tuple[type[StrEnum], Words]] = {
    "kind": (v.DuplicateKind, KIND),
    "confidence": (v.Confidence, CONFIDENCE),
    "group_status": (v.GroupStatus, GROUP_STATUS),
    "sale_status": (v.SaleStatus, SALE_STATUS),
    "reason": (v.Reason, REASON),
    "resolution": (v.Resolution, RESOLUTION),
    "sync_error": (v.SyncError, SYNC_ERROR),
    "order_status": (v.OrderStatus, ORDER_STATUS),
    "movement_kind": (v.MovementKind, MOVEMENT_KIND),
    "payment_method": (v.PaymentMethod, PAYMENT_METHOD),
    "plan_status": (v.PlanStatus, PLAN_STATUS),
    "plan_action": (v.PlanAction, PLAN_ACTION),
    "fix_kind": (v.FixKind, FIX_KIND),
    "scan_status": (v.ScanStatus, SCAN_STATUS),
    "trigger": (v.Trigger, TRIGGER),
    "role": (v.Role, ROLE),
    "job_status": (v.JobStatus, JOB_STATUS),
    "job_kind": (v.JobKind, JOB_KIND),
    "action": (v.AuditAction, AUDIT_ACTION),
    "closing_status": (v.ClosingStatus, CLOSING_STATUS),
    "closing_difference": (v.ClosingDifference, CLOSING_DIFFERENCE),
    "closing_record": (v.ClosingRecord, CLOSING_RECORD),
}


def _words(value, vocabulary: str) -> tuple[str, str] | None:
    if value is None:
        return None
    return VOCABULARIES[vocabulary][1].get(str(value))


def label(value, vocabulary: str) -> str:
    """The manager's word for a code; the code itself when no word is known."""
    words = _words(value, vocabulary)
    return str(words[0]) if words else ("" if value is None else str(value))


def explain(value, vocabulary: str) -> str:
    """One sentence saying what the code means for a manager ('' when unknown)."""
    words = _words(value, vocabulary)
    return str(words[1]) if words else ""


def is_known(value, vocabulary: str) -> bool:
    return _words(value, vocabulary) is not None


def choices(vocabulary: str) -> list[tuple[str, str]]:
    """(code, label) pairs for a form's select, in the enumeration's order."""
    enum, words = VOCABULARIES[vocabulary]
    return [(member.value, str(words[member][0])) for member in enum]  # [0]: the label, not (label, explanation)


def register_label_filters(bp) -> None:
    """The `label` and `explain` filters and `is_known` test for every template."""
    bp.add_app_template_filter(label, "label")
    bp.add_app_template_filter(explain, "explain")
    bp.add_app_template_test(is_known, "known_code")
