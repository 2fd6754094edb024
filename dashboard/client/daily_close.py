"""The till's close of a business day (its Z-report): the count and total of the day's sales, from the outbox.

A sale belongs to the day its created_at falls on in the shop's time zone,
whatever became of it: synced, still pending, or refused by the server (the
server explains those as skipped). The close lists the day's offline_ids, so
the server can say which sales it is missing; a day with more sales than the
server takes ids for is closed with count and total only.
"""

from __future__ import annotations

import json
from datetime import date, datetime, tzinfo
from decimal import Decimal

from .outbox import CLOSE_SENT, FLAGGED, OutboxSale
from .transport import AuthError, BatchTooLarge, RequestError, TransientError

# The server's default CLOSING_MAX_OFFLINE_IDS; a busier day is sent without ids.
MAX_IDS = 5000


def business_day_of(sale: OutboxSale, zone: tzinfo) -> date:
    return datetime.fromisoformat(sale.created_at).astimezone(zone).date()


def build_close(sales: list[OutboxSale], day: date, zone: tzinfo, *, max_ids: int = MAX_IDS, places: int = 2) -> dict:
    """The close of `day` as POST /api/v1/closings takes it; places: its store's currency decimals (3 for
    KWD or JOD: rounding a dinar total to 2 would make the close differ from the server's books)."""
    todays = [sale for sale in sales if business_day_of(sale, zone) == day]
    total = sum((Decimal(str(sale.order["total"])) for sale in todays), Decimal(0))
    close = {
        "business_day": day.isoformat(),
        "sales_count": len(todays),
        "sales_total": str(total.quantize(Decimal(1).scaleb(-places))),
        "first_receipt": todays[0].receipt_number if todays else None,
        "last_receipt": todays[-1].receipt_number if todays else None,
    }
    if len(todays) <= max_ids:
        close["offline_ids"] = [sale.offline_id for sale in todays]
    return close


def without_ids(close: dict) -> dict:
    """The same close by count and total only, for a server that takes fewer ids than the day had."""
    return {key: value for key, value in close.items() if key != "offline_ids"}


def send_pending_closes(till, report) -> None:
    """POST each close the till recorded and the server has not answered yet, oldest first (Till.send_closings).

    Transient failures back off as uploads do and leave the close pending for the next sync; a close the
    server cannot read is flagged and stops the sync, as a refused request does."""
    failures = 0
    for seq, close in till.outbox.pending_closings():
        while True:
            try:
                answer = till.transport.post_closing(json.dumps(close, separators=(",", ":")).encode())
                break
            except TransientError as exc:
                failures += 1
                if not till._wait_before_retry(report, failures, exc):
                    return
            except BatchTooLarge as exc:
                if exc.code == "too_many_ids" and "offline_ids" in close:
                    close = without_ids(close)  # the server takes fewer ids: count and total still tell
                    continue
                till.outbox.mark_closing(seq, FLAGGED, None, str(exc))
                report.stop(f"the close of {close['business_day']} was refused: {exc}")
                return
            except (AuthError, RequestError) as exc:
                report.stop(str(exc))
                return
        till.outbox.mark_closing(seq, CLOSE_SENT, answer["status"], answer)
        report.closings_sent += 1
