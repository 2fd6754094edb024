"""Storing a till's batch of sales exactly once.

The whole batch is one transaction, written set-wise: a handful of statements
per batch, not a round trip per sale. Exactly-once rests on the unique indexes
on orders.offline_id and orders.invoice_number: sales are inserted with
ON CONFLICT DO NOTHING, and a sale the database did not take was stored by a
concurrent request, which we then read back and answer as a replay. The
look-up of already stored sales before inserting is only a fast path for
replays; it decides nothing the constraints would not.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from flask import current_app
from sqlalchemy import bindparam, insert, literal, select, update

from ..database import insert_ignoring_conflicts, run_write
from ..extensions import db
from ..models import Device, Order, OrderLine, Payment, Product, StockMovement, SyncAttempt, SyncLog
from ..models.types import UtcDateTime
from .numbering import allocate_server_numbers
from .results import CONFLICT, CREATED, DUPLICATE, REJECTED, SaleResult, SyncOutcome
from .sales import Rejection, Sale, content_hash, offline_id_of, parse_sale, shown_fields
from .stock_ledger import move_stock
from .stores import StoreInfo, store_of_device
from .text import is_storable, payload_record, storable

orders_t = Order.__table__
lines_t = OrderLine.__table__


@dataclass(frozen=True)
class StoredOrder:
    id: int
    device_id: int
    fingerprint: str
    invoice_number: str | None


def ingest_batch(*, device_id: int, batch_id: str | None, orders: list, started: float) -> SyncOutcome:
    """Validate and store one batch from one device; the answer holds a result per sale."""
    config = current_app.config
    now = datetime.now(timezone.utc)
    # Read before the write transaction: the till's store decides how many decimals its amounts have.
    store = store_of_device(device_id)
    parsed = [parse_sale(raw, max_lines=config["SYNC_MAX_LINES"], now=now, money=store.money) for raw in orders]
    batch = _Batch(device_id=device_id, store=store, batch_id=batch_id, raw=orders, parsed=parsed,
                   policy=config["INVOICE_POLICY"], started=started, now=now)
    return run_write(batch.store, retry_on_integrity=True)


class _Batch:
    """One attempt at storing a batch; store() may run again from scratch after a retry."""

    def __init__(self, *, device_id, store: StoreInfo, batch_id, raw, parsed, policy, started, now):
        self.device_id = device_id
        # Every sale of a batch is its till's store's: it records the store and moves that store's stock.
        self.store_info = store
        self.batch_id = batch_id
        self.raw = raw
        self.parsed: list[Sale | Rejection] = parsed
        self.policy = policy
        self.started = started
        self.now = now

    def store(self) -> SyncOutcome:
        sync_id = db.session.execute(
            insert(SyncLog).values(device_id=self.device_id, batch_id=self.batch_id, started_at=self.now,
                                   http_status=200, received=len(self.parsed)).returning(SyncLog.id)
        ).scalar_one()
        outcome = self.ingest(sync_id)
        self._record(outcome)
        return outcome

    def ingest(self, sync_id: int) -> SyncOutcome:
        """Store the sales under an existing sync call; records neither attempts nor log counts."""
        self.results: list[SaleResult | None] = [None] * len(self.parsed)
        candidates, repeats = self._split()
        stored = _stored_orders(list(candidates))
        new = []
        for offline_id, index in candidates.items():
            if offline_id in stored:
                self.results[index] = _answer_for_stored(self.parsed[index], stored[offline_id], self.device_id)
            else:
                new.append(index)
        new = self._reject_unknown_skus(new)
        created = self._insert_orders(new, sync_id)
        if created:
            self._insert_contents(created)
        self._answer_repeats(repeats)
        return SyncOutcome(sync_id=sync_id, results=self.results)

    def _split(self) -> tuple[dict[str, int], list[int]]:
        """Valid sales by offline_id (first occurrence), and the indexes of later repeats in the batch."""
        candidates: dict[str, int] = {}
        repeats: list[int] = []
        for index, sale in enumerate(self.parsed):
            if isinstance(sale, Rejection):
                self.results[index] = SaleResult(offline_id_of(self.raw[index]), REJECTED,
                                                 reason=sale.reason, message=sale.message)
            elif sale.offline_id in candidates:
                repeats.append(index)
            else:
                candidates[sale.offline_id] = index
        return candidates, repeats

    def _reject_unknown_skus(self, indexes: list[int]) -> list[int]:
        skus = {line.sku for index in indexes for line in self.parsed[index].lines}
        self.product_ids = dict(db.session.execute(
            select(Product.sku, Product.id).where(Product.sku.in_(skus))).all()) if skus else {}
        known = []
        for index in indexes:
            sale = self.parsed[index]
            unknown = next(((n, line.sku) for n, line in enumerate(sale.lines, start=1)
                            if line.sku not in self.product_ids), None)
            if unknown:
                self.results[index] = SaleResult(sale.offline_id, REJECTED, reason="unknown_sku",
                                                 message=f"line {unknown[0]}: no product with sku '{unknown[1]}'")
            else:
                known.append(index)
        return known

    def _wanted_invoice_numbers(self, indexes: list[int]) -> dict[int, str | None]:
        """Device policy: each sale asks for its receipt number, unless another sale holds it already."""
        if self.policy != "device":
            return {index: None for index in indexes}
        wanted: dict[int, str | None] = {}
        seen: set[str] = set()
        for index in indexes:
            number = self.parsed[index].receipt_number
            wanted[index] = number if number and number not in seen else None
            if number:
                seen.add(number)
        asked = [number for number in wanted.values() if number]
        taken = set(db.session.scalars(select(Order.invoice_number).where(Order.invoice_number.in_(asked)))) \
            if asked else set()
        return {index: (None if number in taken else number) for index, number in wanted.items()}

    def _insert_orders(self, indexes: list[int], sync_id: int) -> list[tuple[int, int]]:
        """Insert the new sales; returns (request index, order id) of those this transaction stored."""
        wanted = self._wanted_invoice_numbers(indexes)
        # A stable order of inserts keeps concurrent batches from deadlocking on the unique indexes.
        pending = sorted(indexes, key=lambda index: self.parsed[index].offline_id)
        created: dict[int, int] = {}
        invoice: dict[int, str | None] = {}
        while pending:
            rows = [self._order_row(index, wanted[index], sync_id) for index in pending]
            # executemany form: the statement compiles once and stays cached, whatever the batch size.
            got = dict(db.session.execute(
                insert_ignoring_conflicts(orders_t).returning(orders_t.c.offline_id, orders_t.c.id), rows
            ).all())
            lost = [index for index in pending if self.parsed[index].offline_id not in got]
            for index in pending:
                if index not in lost:
                    created[index] = got[self.parsed[index].offline_id]
                    invoice[index] = wanted[index]
            stored = _stored_orders([self.parsed[index].offline_id for index in lost]) if lost else {}
            pending = []
            for index in lost:
                sale = self.parsed[index]
                if sale.offline_id in stored:  # a concurrent request stored it first
                    self.results[index] = _answer_for_stored(sale, stored[sale.offline_id], self.device_id)
                elif wanted[index] is not None:  # its receipt number was taken meanwhile
                    wanted[index] = None
                    pending.append(index)
                else:
                    raise RuntimeError(f"sale {sale.offline_id} was neither inserted nor found")
        self._number_from_server_series(created, invoice)
        for index, order_id in created.items():
            sale = self.parsed[index]
            collision = self.policy == "device" and sale.receipt_number is not None \
                and invoice[index] != sale.receipt_number
            self.results[index] = SaleResult(sale.offline_id, CREATED, order_id=order_id,
                                             invoice_number=invoice[index],
                                             reason="receipt_number_collision" if collision else None)
        return sorted(created.items())

    def _order_row(self, index: int, invoice_number: str | None, sync_id: int) -> dict:
        sale = self.parsed[index]
        collision = self.policy == "device" and sale.receipt_number is not None and invoice_number is None
        return {
            "offline_id": sale.offline_id, "receipt_number": sale.receipt_number,
            "invoice_number": invoice_number, "device_id": self.device_id, "store_id": self.store_info.id,
            "created_at": sale.created_at,
            "received_at": self.now, "cashier": sale.cashier, "total": sale.total, "status": "completed",
            "fingerprint": sale.fingerprint, "receipt_number_collision": collision, "sync_id": sync_id,
            "content_hash": content_hash(self.device_id, sale.lines, sale.total),
        }

    def _number_from_server_series(self, created: dict[int, int], invoice: dict[int, str | None]) -> None:
        """Give every stored sale still without a number the next ones of the server series, in request order."""
        unnumbered = sorted(index for index in created if invoice[index] is None)
        if not unnumbered:
            return
        numbers = allocate_server_numbers(len(unnumbered), self.store_info)
        for index, number in zip(unnumbered, numbers):
            invoice[index] = number
        db.session.execute(
            update(orders_t).where(orders_t.c.id == bindparam("order_id")).values(invoice_number=bindparam("number")),
            [{"order_id": created[index], "number": invoice[index]} for index in unnumbered],
        )

    def _insert_contents(self, created: list[tuple[int, int]]) -> None:
        """Lines, one sale movement per line, payments, and the stock they move."""
        line_rows, payment_rows = [], []
        for index, order_id in created:
            sale = self.parsed[index]
            for line_no, line in enumerate(sale.lines, start=1):
                line_rows.append({"order_id": order_id, "line_no": line_no, "product_id": self.product_ids[line.sku],
                                  "sku": line.sku, "quantity": line.quantity, "unit_price": line.unit_price,
                                  "status": "completed"})
            payment_rows += [{"order_id": order_id, "method": p.method, "amount": p.amount} for p in sale.payments]
        db.session.execute(insert(lines_t), line_rows)
        # One sale movement per line, written by the database from the lines just stored: one
        # statement instead of reading the line ids back and sending a row per line.
        db.session.execute(insert(StockMovement.__table__).from_select(
            ["product_id", "store_id", "order_line_id", "quantity_delta", "kind", "created_at"],
            select(lines_t.c.product_id, literal(self.store_info.id), lines_t.c.id, -lines_t.c.quantity, literal("sale"),
                   literal(self.now, UtcDateTime())).where(lines_t.c.order_id.in_([o for _, o in created]))))
        if payment_rows:
            db.session.execute(insert(Payment.__table__), payment_rows)
        sold: dict[tuple[int, int], Decimal] = {}
        for row in line_rows:
            key = (self.store_info.id, row["product_id"])
            sold[key] = sold.get(key, Decimal(0)) - row["quantity"]
        # Last: these row locks are the ones concurrent batches share most.
        move_stock(sold)

    def _answer_repeats(self, repeats: list[int]) -> None:
        """Answer, against what is stored now, the sales whose offline_id came earlier in the batch,
        and the invalid sales whose offline_id is stored: reusing it is a conflict, not a rejection."""
        invalid = [index for index, sale in enumerate(self.parsed) if isinstance(sale, Rejection) and sale.offline_id]
        stored = _stored_orders([self.parsed[index].offline_id for index in repeats + invalid])
        for index in invalid:
            rejection = self.parsed[index]
            if rejection.offline_id in stored:
                self.results[index] = _conflict(rejection.offline_id, stored[rejection.offline_id], self.device_id,
                                                 f"; the new content is also invalid: {rejection.message}")
        for index in repeats:
            sale = self.parsed[index]
            if sale.offline_id in stored:
                self.results[index] = _answer_for_stored(sale, stored[sale.offline_id], self.device_id)
            else:
                self.results[index] = SaleResult(
                    sale.offline_id, REJECTED, reason="invalid_order",
                    message="offline_id appears more than once in this batch and its first sale was not stored")

    def _record(self, outcome: SyncOutcome) -> None:
        """Keep every sale that was not plainly created, with the payload the till sent, and the log counts."""
        attempts = [
            {"sync_id": outcome.sync_id, "device_id": self.device_id, "position": index,
             "offline_id": storable(result.offline_id), "status": result.status,
             "reason": result.reason or (result.status if result.status == DUPLICATE else None),
             "message": storable(result.message), "order_id": result.order_id, "received_at": self.now,
             "payload": payload_record(self.raw[index]), **shown_fields(self.raw[index], self.parsed[index])}
            for index, result in enumerate(outcome.results)
            if result.status != CREATED or result.reason
        ]
        if attempts:
            db.session.execute(insert(SyncAttempt.__table__), attempts)
        counts = outcome.counts()
        db.session.execute(update(SyncLog).where(SyncLog.id == outcome.sync_id).values(
            created=counts["created"], duplicates=counts["duplicates"], conflicts=counts["conflicts"],
            rejected=counts["rejected"], duration_ms=int((time.monotonic() - self.started) * 1000)))
        db.session.execute(update(Device).where(Device.id == self.device_id).values(last_seen_at=self.now))


def reingest_sale(*, device_id: int, sync_id: int, raw: object) -> SaleResult:
    """Store one sale again from its payload, under the sync call that first brought it.

    The same batch code as a till's request, inside the caller's unit of work: the
    caller records the outcome, so no sync call, attempt row or last-seen time is added.
    """
    config = current_app.config
    now = datetime.now(timezone.utc)
    store = store_of_device(device_id)
    batch = _Batch(device_id=device_id, store=store, batch_id=None, raw=[raw],
                   parsed=[parse_sale(raw, max_lines=config["SYNC_MAX_LINES"], now=now, money=store.money)],
                   policy=config["INVOICE_POLICY"], started=time.monotonic(), now=now)
    return batch.ingest(sync_id).results[0]


def _stored_orders(offline_ids: list[str]) -> dict[str, StoredOrder]:
    if not offline_ids:
        return {}
    rows = db.session.execute(
        select(Order.offline_id, Order.id, Order.device_id, Order.fingerprint, Order.invoice_number)
        .where(Order.offline_id.in_(offline_ids))
        # Legacy imports may hold several sales with one offline_id: the synced one answers for it.
        .order_by(Order.legacy_id.is_not(None).desc(), Order.id.desc()))
    return {row.offline_id: StoredOrder(row.id, row.device_id, row.fingerprint, row.invoice_number) for row in rows}


def _answer_for_stored(sale: Sale, stored: StoredOrder, device_id: int) -> SaleResult:
    """A replay gets the first answer again; a reused offline_id is a conflict that changes nothing."""
    if stored.device_id == device_id and stored.fingerprint == sale.fingerprint:
        return SaleResult(sale.offline_id, DUPLICATE, order_id=stored.id, invoice_number=stored.invoice_number)
    return _conflict(sale.offline_id, stored, device_id)


def _conflict(offline_id: str, stored: StoredOrder, device_id: int, detail: str = "") -> SaleResult:
    if stored.device_id != device_id:
        # Never reveal another till's sale (contract invariant 7).
        message = "this offline_id belongs to a sale of another device"
    else:
        message = f"offline_id is already stored with different content (invoice {stored.invoice_number})"
    return SaleResult(offline_id, CONFLICT, reason="offline_id_reused", message=message + detail)
