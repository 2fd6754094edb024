"""The reference till client: a durable outbox and an upload that follows the sync contract.

Standard library only (sqlite3 and urllib). The till side (this module, till.py,
outbox.py, transport.py, sale_content.py) needs neither Flask nor the server's
code, so a till application can vendor those files as a package of its own;
simulator.py, faults.py and cli.py are the server's test tools.

    from dashboard.client import Till

    till = Till("/var/lib/till/outbox.db", "https://sync.example.com", token, prefix="T03")
    offline_id = till.record_sale(
        [{"sku": "COFFEE", "quantity": 2, "unit_price": "2.50"},
         {"sku": "BREAD", "quantity": 1, "unit_price": "3.20"}],
        cashier="Amal", payments=[{"method": "cash", "amount": "8.20"}])
    # ... print the receipt: the sale is already on disk, with receipt number T03-000001 ...
    report = till.sync()            # call it whenever the network may be back; it never loses a sale
    if report.needs_attention:      # e.g. 401: the token is wrong; a person must act
        show_to_manager(report.error)   # (other errors: the network; the next sync() retries)
    for sale in till.flagged():     # 'conflict' or 'rejected': staff must look, retrying will not help
        show_to_staff(sale.receipt_number, sale.reason, sale.message)

What it promises:

- record_sale() commits the sale (offline_id, a time-ordered uuid7 made now, ids.py, and the next
  receipt number <prefix>-000042 from a counter in the same file) in one SQLite
  transaction (WAL, synchronous=FULL) before it returns. A crash or restart
  loses nothing: a new Till on the same file carries on.
- The order sent is frozen when the sale is made and resent byte for byte:
  the offline_id and receipt number never change on a retry.
- sync() uploads pending sales oldest first, in batches (batch_size). Per sale:
  'created'/'duplicate' -> synced (order_id, invoice_number kept);
  'conflict'/'rejected' -> flagged with reason and message, never resent
  automatically (till.requeue(offline_id) once staff fixed the cause).
  Whole request: 401/403 -> stop, report.error says why; 413/422 -> split the
  batch; 408/429/5xx, time-outs and connection errors -> exponential back-off
  with jitter (honouring Retry-After), at most max_attempts in a row, then stop
  with the sales still pending for the next sync().
- Each upload is recorded in the outbox ('in flight') before it is sent. If the
  till died before the answer, the next sync() asks GET /api/v1/sync/status
  first, marks the stored sales synced ('recovered') and resends only the others.
- Rows are never deleted; a sale leaves 'pending' only when the server answered
  for it (or, sent alone, was refused with 413/422: it is flagged, not dropped).

API:
  Till(outbox_path, server_url, token, prefix, *, batch_size=100, timeout=10.0,
       max_attempts=8, backoff=0.5, max_backoff=60.0)
  till.record_sale(lines, cashier, payments=None, created_at=None) -> offline_id
  till.sync() -> SyncReport: created, duplicate, conflict, rejected, recovered,
       pending, flagged, error, needs_attention, ok
  till.pending(), till.flagged(), till.synced() -> [OutboxSale]; till.sale(offline_id)
  till.requeue(offline_id); till.products(); till.close()  (or use it as a context manager)
"""

from .outbox import FLAGGED, PENDING, SYNCED, OutboxSale
from .till import SyncReport, Till
from .transport import AuthError, BatchTooLarge, HttpTransport, RequestError, SyncError, TransientError

__all__ = [
    "Till",
    "SyncReport",
    "OutboxSale",
    "PENDING",
    "SYNCED",
    "FLAGGED",
    "HttpTransport",
    "SyncError",
    "TransientError",
    "BatchTooLarge",
    "AuthError",
    "RequestError",
]
