"""The Till: record sales into the durable outbox, and upload them as the sync contract says."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from .daily_close import build_close, send_pending_closes
from .outbox import FLAGGED, PENDING, SYNCED, Outbox, OutboxSale
from .sale_content import sale_content
from .transport import AuthError, BatchTooLarge, HttpTransport, RequestError, SyncError, TransientError

STORED = ("created", "duplicate")
REFUSED = ("conflict", "rejected")
RECOVERED = "recovered"


@dataclass
class SyncReport:
    """What one Till.sync() did. ok is True when it ended with nothing left to send and no error.

    error says why the sync stopped early. needs_attention is True when retrying will not help
    until a person acts (401/403, a refused request, an answer that breaks the contract);
    otherwise the next sync() simply tries again.
    """

    requests: int = 0
    sent: int = 0
    created: int = 0
    duplicate: int = 0
    conflict: int = 0
    rejected: int = 0
    recovered: int = 0
    retries: int = 0
    pending: int = 0
    flagged: int = 0
    closings_sent: int = 0
    closings_pending: int = 0
    error: str | None = None
    needs_attention: bool = False

    @property
    def acknowledged(self) -> int:
        """Sales this run found stored on the server (created, duplicate or recovered)."""
        return self.created + self.duplicate + self.recovered

    @property
    def ok(self) -> bool:
        return self.error is None and self.pending == 0

    def stop(self, message: str) -> None:
        """Record an error that retrying will not cure; a person must act first."""
        self.error, self.needs_attention = message, True


class Till:
    """One till: its outbox file, its server and token, and its receipt prefix (e.g. 'T03').

    money_places: decimals of the till's store's currency (3 for KWD or JOD); the sale is refused here
    when an amount has more, as the server would.
    batch_size: sales per upload. timeout: seconds to wait for the server. max_attempts: failed
    requests in a row before sync() gives up for now. backoff, max_backoff: the first and the
    longest pause between attempts, in seconds. transport, sleep and rng stand in for the network,
    the clock and the jitter in tests and in the fleet simulator.
    """

    # A failed upload with a body above this size is retried as smaller batches.
    large_body_bytes = 1_000_000

    def __init__(
        self,
        outbox_path: str | Path,
        server_url: str,
        token: str,
        prefix: str,
        *,
        batch_size: int = 100,
        timeout: float = 10.0,
        max_attempts: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        transport=None,
        sleep=time.sleep,
        rng: random.Random | None = None,
        zone: str | None = None,
        money_places: int = 2,
    ):
        prefix = (prefix or "").strip()
        if not prefix or len(prefix) > 40 or any(char.isspace() for char in prefix):
            raise ValueError("prefix must be a short code without spaces, such as 'T03'")
        self.prefix = prefix
        # Decimals of the till's store's currency: the server refuses amounts with more.
        self.money_places = money_places
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.transport = transport or HttpTransport(server_url, token, timeout=timeout)
        self.outbox = Outbox(outbox_path)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._sync_lock = threading.Lock()
        self.zone = ZoneInfo(zone) if zone else datetime.now().astimezone().tzinfo

    def __enter__(self) -> Till:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        self.outbox.close()

    # Selling ---------------------------------------------------------------------------------

    def record_sale(
        self,
        lines: list[dict],
        cashier: str | None,
        payments: list[dict] | None = None,
        created_at: datetime | None = None,
    ) -> str:
        """Write a sale to the outbox (durably, before anything else) and return its offline_id.

        lines: [{"sku", "quantity", "unit_price"}] with numbers as str, int or Decimal.
        payments: optional [{"method", "amount"}] adding up to the total.
        Raises ValueError, and records nothing, for a sale the server could never accept.
        """
        content = sale_content(lines, cashier, payments, self.money_places)
        moment = (created_at or datetime.now()).astimezone()

        def build(offline_id: str, receipt_number: str) -> dict:
            return {
                "offline_id": offline_id,
                "receipt_number": receipt_number,
                "created_at": moment.isoformat(),
                **content,
            }

        return self.outbox.add_sale(self.prefix, build).offline_id

    def products(self) -> list[dict]:
        """The server's catalogue, [{"sku", "name", "price"}]; raises a SyncError when it cannot be had."""
        return self.transport.products()

    def close_day(self, day: date) -> dict:
        """Record the close of a business day in the outbox (durably, like a sale); the next sync sends it.
        Closing a day again after more sales were recorded queues the new close, which replaces the old."""
        return self.outbox.add_closing(
            day.isoformat(), lambda sales: build_close(sales, day, self.zone, places=self.money_places)
        )

    def closings(self) -> list[dict]:
        """Every close recorded, with the server's answer once it came (status 'matched' or 'differs')."""
        return self.outbox.closings()

    # Looking at the outbox --------------------------------------------------------------------

    def pending(self) -> list[OutboxSale]:
        """Sales not acknowledged by the server yet, oldest first."""
        return self.outbox.sales(PENDING)

    def flagged(self) -> list[OutboxSale]:
        """Sales the server answered 'conflict' or 'rejected' for; staff must look at them (reason, message)."""
        return self.outbox.sales(FLAGGED)

    def synced(self) -> list[OutboxSale]:
        """Sales the server acknowledged, with their order_id and invoice_number."""
        return self.outbox.sales(SYNCED)

    def sale(self, offline_id: str) -> OutboxSale | None:
        return self.outbox.get(offline_id)

    def requeue(self, offline_id: str) -> bool:
        """Send a flagged sale again, unchanged, once staff fixed the cause (e.g. a product now exists)."""
        return self.outbox.requeue(offline_id)

    # Uploading --------------------------------------------------------------------------------

    def sync(self) -> SyncReport:
        """Upload every pending sale; returns what happened. Never raises for network or server trouble:
        sales that could not be sent stay pending, and report.error says why it stopped."""
        report = SyncReport()
        with self._sync_lock:
            if self._resolve_interrupted(report):
                self._upload_pending(report)
                if report.error is None:
                    self.send_closings(report)
            report.pending = self.outbox.count(PENDING)
            report.closings_pending = len(self.outbox.pending_closings())
            report.flagged = self.outbox.count(FLAGGED)
        return report

    def send_closings(self, report: SyncReport | None = None) -> SyncReport:
        """Send the recorded closes not answered yet, oldest first, whether or not the day's sales are all
        uploaded (the server then shows them pending). A close is safe to send again: the server keeps one."""
        report = report or SyncReport()
        send_pending_closes(self, report)
        return report

    def _resolve_interrupted(self, report: SyncReport) -> bool:
        """Ask the server about sales whose upload was under way when the till stopped; False on failure."""
        interrupted = self.outbox.in_flight()
        if not interrupted:
            return True
        failures = 0
        while True:
            try:
                answers = self.transport.sync_status([sale.offline_id for sale in interrupted])
                break
            except TransientError as exc:
                failures += 1
                if not self._wait_before_retry(report, failures, exc):
                    return False
            except SyncError as exc:
                report.stop(f"status check failed: {exc}")
                return False
        stored: list[tuple[int, str, int, str, str | None]] = []
        unknown: list[int] = []
        for sale, answer in zip(interrupted, answers):
            status = answer.get("status") if isinstance(answer, dict) else None
            if (
                not isinstance(answer, dict)
                or not _same_id(answer.get("offline_id"), sale.offline_id)
                or status not in ("synced", "unknown")
                or (status == "synced" and not (answer.get("order_id") and answer.get("invoice_number")))
            ):
                report.stop(f"status answer breaks the contract for {sale.offline_id}: {answer!r}")
                return False
            if status == "synced":
                stored.append((sale.seq, RECOVERED, answer["order_id"], answer["invoice_number"], None))
            else:
                unknown.append(sale.seq)
        self.outbox.mark_synced(stored)
        self.outbox.clear_in_flight(unknown)
        report.recovered += len(stored)
        return True

    def _upload_pending(self, report: SyncReport) -> None:
        size, failures = self.batch_size, 0
        while True:
            batch = self.outbox.next_batch(size)
            if not batch:
                return
            upload_id = str(uuid.uuid4())
            # Recorded before sending: after a crash, the next sync asks the server before resending.
            self.outbox.mark_in_flight([sale.seq for sale in batch], upload_id)
            body = json.dumps(
                {"batch_id": upload_id, "orders": [sale.order for sale in batch]},
                separators=(",", ":"),
                ensure_ascii=False,
            ).encode()
            report.requests += 1
            report.sent += len(batch)
            try:
                answer = self.transport.post_sync(body)
            except TransientError as exc:
                failures += 1
                if not self._wait_before_retry(report, failures, exc):
                    return
                if len(body) > self.large_body_bytes and len(batch) > 1:
                    # A server refusing a body over its limit may close the connection before reading it
                    # all: the till then sees a broken pipe, not the 413. Big batches are retried smaller.
                    size = max(1, len(batch) // 2)
                self._before_resend(batch)
                continue
            except BatchTooLarge as exc:
                if len(batch) > 1:
                    size = max(1, len(batch) // 2)
                else:
                    self.outbox.mark_flagged([(batch[0].seq, "rejected", exc.code or "too_large", str(exc))])
                    report.rejected += 1
                continue
            except (AuthError, RequestError) as exc:
                report.stop(str(exc))
                return
            failures = 0
            if not self._apply(batch, answer, report):
                return

    def _apply(self, batch: list[OutboxSale], answer: dict, report: SyncReport) -> bool:
        """Record the server's answer for each sale of the batch, in one outbox transaction."""
        results = answer["results"]
        if len(results) != len(batch):
            report.stop(f"the server answered {len(results)} results for {len(batch)} sales")
            return False
        acks, flags = [], []
        for sale, result in zip(batch, results):
            status = result.get("status") if isinstance(result, dict) else None
            if (
                not isinstance(result, dict)
                or not _same_id(result.get("offline_id"), sale.offline_id)
                or status not in STORED + REFUSED
                or (status in STORED and not (result.get("order_id") and result.get("invoice_number")))
            ):
                report.stop(f"the answer for {sale.offline_id} breaks the contract: {result!r}")
                return False
            if status in STORED:
                acks.append((sale.seq, status, result["order_id"], result["invoice_number"], result.get("reason")))
            else:
                flags.append((sale.seq, status, result.get("reason"), result.get("message")))
            setattr(report, status, getattr(report, status) + 1)
        self.outbox.mark_synced(acks)
        self.outbox.mark_flagged(flags)
        return True

    def _wait_before_retry(self, report: SyncReport, failures: int, exc: TransientError) -> bool:
        """Sleep before the next attempt; False, with report.error set, once attempts are used up."""
        if failures >= self.max_attempts:
            report.error = f"gave up after {failures} failed attempts: {exc}"
            return False
        report.retries += 1
        delay = min(self.max_backoff, self.backoff * 2 ** (failures - 1))
        # Jitter, so tills that lost the network together do not all come back in the same second.
        delay = self._rng.uniform(delay / 2, delay)
        if exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, self.max_backoff))
        self._sleep(delay)
        return True

    def _before_resend(self, batch: list[OutboxSale]) -> None:
        """Nothing: a correct till resends the very same sales. (The simulator's legacy till overrides this.)"""


def _same_id(answered, ours: str) -> bool:
    try:
        return isinstance(answered, str) and uuid.UUID(answered) == uuid.UUID(ours)
    except ValueError:
        return False
