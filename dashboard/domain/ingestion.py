"""Storing a till's batch of sales exactly once.

The whole batch is one transaction, written set-wise: a handful of statements
per batch, not a round trip per sale. Exactly-once rests on the unique indexes
on orders.offline_id and orders.invoice_number: sales are inserted with
ON CONFLICT DO NOTHING, and a sale the database did not take was stored by a
concurrent request, which we then read back and answer as a replay. The
look-up of already stored sales before inserting is only a fast path for
replays; it decides nothing the constraints would not.

On SQLite one write transaction runs at a time, so what needs no lock happens
before it opens: validation, the catalogue and receipt-number reads, and the
rows themselves (sale_rows.py). Inside, the statements go to the driver as
plain SQL (exec_driver_sql), each once per batch. A number or a sale taken by
a concurrent request between the reads and the write is still caught by the
unique indexes, which is what decides.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import cast

from sqlalchemy import insert

from ..database import bind_processor, insert_values, rows_in, run_write
from ..extensions import db
from ..models import Order, OrderLine, Payment, SyncAttempt, SyncLog
from ..vocabulary import InvoicePolicy
from .numbering import allocate_server_numbers
from .replays import Replay, StoredOrder, exact_replay, replayable, stored_orders, stored_with_ids
from .results import CONFLICT, CREATED, DUPLICATE, REJECTED, SaleResult, SyncOutcome
from .sale_rows import (
    LINE_COLUMNS,
    ORDER_COLUMNS,
    PAYMENT_COLUMNS,
    BatchStatements,
    SaleRows,
    sale_rows,
)
from .sales import Rejection, Sale, offline_id_of, parse_sale, shown_fields
from .stock_ledger import move_stock
from .stores import StoreInfo, store_of_device
from .text import payload_record, storable

lines_t = OrderLine.__table__

# The batch's reads of the catalogue and of the receipt numbers taken (database.rows_in).
_PRODUCT_IDS = "SELECT sku, id FROM products WHERE sku IN ({marks})"
_TAKEN_NUMBERS = "SELECT invoice_number FROM orders WHERE invoice_number IN ({marks})"


@dataclass(frozen=True)
class IngestRules:
    """The settings a batch is stored under, handed in by the caller (the domain reads no app config)."""

    max_lines: int
    invoice_policy: InvoicePolicy

    @classmethod
    def from_config(cls, config: Mapping) -> IngestRules:
        """From the app config that dashboard.config.Settings filled (checked at start-up)."""
        return cls(
            max_lines=config["SYNC_MAX_LINES"],
            invoice_policy=InvoicePolicy(config["INVOICE_POLICY"]),
        )


def ingest_batch(
    *, device_id: int, batch_id: str | None, orders: list, started: float, rules: IngestRules
) -> SyncOutcome:
    """Validate and store one batch from one device; the answer holds a result per sale."""
    now = datetime.now(timezone.utc)
    # Read before the write transaction: the till's store decides how many decimals its amounts have.
    store = store_of_device(device_id)
    # Also before it, one indexed read: the batch's sales already stored. A sale sent again as stored
    # by this till is answered from that row, without building a Sale (replays.py says why that is
    # exact). Stored orders are never deleted and their ids and fingerprint never change, so the read
    # holds inside the transaction too.
    stored = stored_with_ids(orders)
    replays = replayable(stored, device_id)
    parsed: list[Sale | Rejection | Replay] = []
    for raw in orders:
        replay = exact_replay(raw, replays, max_lines=rules.max_lines, money=store.money, now=now) if replays else None
        parsed.append(replay or parse_sale(raw, max_lines=rules.max_lines, now=now, money=store.money))
    batch = _Batch(
        device_id=device_id,
        store=store,
        batch_id=batch_id,
        raw=orders,
        parsed=parsed,
        rules=rules,
        started=started,
        now=now,
        stored=stored,
    )
    batch.prepare()
    return run_write(batch.store, retry_on_integrity=True)


class _Batch:
    """A batch's sales: prepare() once, then store() in a write transaction, again from scratch after a retry."""

    def __init__(
        self, *, device_id, store: StoreInfo, batch_id, raw, parsed, rules: IngestRules, started, now, stored=None
    ):
        self.device_id = device_id
        # Every sale of a batch is its till's store's: it records the store and moves that store's stock.
        self.store_info = store
        self.batch_id = batch_id
        self.raw = raw
        self.parsed: list[Sale | Rejection | Replay] = parsed
        # The stored sales with the batch's offline_ids, read before the transaction: not read again.
        self.stored: dict[str, StoredOrder] = stored or {}
        self.rules = rules
        self.policy = rules.invoice_policy
        self.started = started
        self.now = now

    def prepare(self) -> None:
        """Everything that needs no write lock: the answers the stored sales and the checks give, the
        catalogue and receipt-number reads, and the new sales' rows, bound for the driver."""
        self.answered: list[SaleResult | None] = [None] * len(self.parsed)
        candidates, self.repeats = self._split()
        new = []
        for offline_id, index in candidates.items():
            if offline_id in self.stored:
                self.answered[index] = _answer_for_stored(self._sale(index), self.stored[offline_id], self.device_id)
            elif isinstance(self.parsed[index], Replay):  # cannot happen: a Replay is made from a stored row
                raise RuntimeError(f"replayed sale {offline_id} is not stored")
            else:
                new.append(index)
        product_ids = self._product_ids(new)
        self.new = self._reject_unknown_skus(new, product_ids)
        self.wanted = self._wanted_invoice_numbers(self.new)
        self.rows: dict[int, SaleRows] = sale_rows(
            {index: self._sale(index) for index in self.new},
            device_id=self.device_id,
            store_id=self.store_info.id,
            received_at=self.now,
            product_ids=product_ids,
        )
        self.sql = BatchStatements.of(db.session.get_bind().dialect)
        # The batch's time and the collision flag as the driver takes them (all timestamps are UtcDateTime).
        self.bound_now = bind_processor(SyncLog.__table__, "started_at")(self.now)
        self.bound_flag = bind_processor(Order.__table__, "receipt_number_collision")

    def store(self) -> SyncOutcome:
        sync_id = (
            db.session.connection()
            .exec_driver_sql(
                self.sql.insert_sync_log, (self.device_id, self.batch_id, self.bound_now, 200, len(self.parsed))
            )
            .scalar_one()
        )
        outcome = self.ingest(sync_id)
        self._record(outcome)
        return outcome

    def ingest(self, sync_id: int) -> SyncOutcome:
        """Store the prepared sales under an existing sync call; records neither attempts nor log counts."""
        self.results: list[SaleResult | None] = list(self.answered)
        created = self._insert_orders(self.new, sync_id)
        if created:
            self._insert_contents(created)
        self._answer_repeats(self.repeats)
        return SyncOutcome(sync_id=sync_id, results=self.results)

    def _sale(self, index: int) -> Sale:
        """The parsed sale at index, for the indexes _split took as sales (rejections never get here).

        An exact replay (a Replay: offline_id and fingerprint only) is always answered from its
        stored row, which reads nothing else of it.
        """
        return cast(Sale, self.parsed[index])

    def _split(self) -> tuple[dict[str, int], list[int]]:
        """Valid sales by offline_id (first occurrence), and the indexes of later repeats in the batch."""
        candidates: dict[str, int] = {}
        repeats: list[int] = []
        for index, sale in enumerate(self.parsed):
            if isinstance(sale, Rejection):
                self.answered[index] = SaleResult(
                    offline_id_of(self.raw[index]), REJECTED, reason=sale.reason, message=sale.message
                )
            elif sale.offline_id in candidates:
                repeats.append(index)
            else:
                candidates[sale.offline_id] = index
        return candidates, repeats

    def _product_ids(self, indexes: list[int]) -> dict[str, int]:
        """The catalogue's ids of the skus these sales sell (products are never deleted)."""
        skus = {line.sku for index in indexes for line in self._sale(index).lines}
        return dict(rows_in(_PRODUCT_IDS, list(skus)))

    def _reject_unknown_skus(self, indexes: list[int], product_ids: dict[str, int]) -> list[int]:
        known = []
        for index in indexes:
            sale = self._sale(index)
            unknown = next(
                ((n, line.sku) for n, line in enumerate(sale.lines, start=1) if line.sku not in product_ids), None
            )
            if unknown:
                self.answered[index] = SaleResult(
                    sale.offline_id,
                    REJECTED,
                    reason="unknown_sku",
                    message=f"line {unknown[0]}: no product with sku '{unknown[1]}'",
                )
            else:
                known.append(index)
        return known

    def _wanted_invoice_numbers(self, indexes: list[int]) -> dict[int, str | None]:
        """Device policy: each sale asks for its receipt number, unless another sale holds it already.

        Read before the transaction: a number taken in between makes that sale's insert lose on the
        unique index, and _insert_orders inserts it again without the number.
        """
        if self.policy != InvoicePolicy.DEVICE:
            return {index: None for index in indexes}
        wanted: dict[int, str | None] = {}
        seen: set[str] = set()
        for index in indexes:
            number = self._sale(index).receipt_number
            wanted[index] = number if number and number not in seen else None
            if number:
                seen.add(number)
        asked = [number for number in wanted.values() if number]
        taken = {number for (number,) in rows_in(_TAKEN_NUMBERS, asked)}
        return {index: (None if number in taken else number) for index, number in wanted.items()}

    def _insert_orders(self, indexes: list[int], sync_id: int) -> list[tuple[int, int]]:
        """Insert the new sales; returns (request index, order id) of those this transaction stored."""
        wanted = dict(self.wanted)
        # A stable order of inserts keeps concurrent batches from deadlocking on the unique indexes.
        pending = sorted(indexes, key=lambda index: self._sale(index).offline_id)
        created: dict[int, int] = {}
        invoice: dict[int, str | None] = {}
        while pending:
            rows = [self._order_row(index, wanted[index], sync_id) for index in pending]
            got = dict(
                insert_values(
                    Order.__table__,
                    ORDER_COLUMNS,
                    rows,
                    ignore_conflicts=True,
                    returning=("offline_id", "id"),
                )
            )
            lost = [index for index in pending if self._sale(index).offline_id not in got]
            for index in pending:
                if index not in lost:
                    created[index] = got[self._sale(index).offline_id]
                    invoice[index] = wanted[index]
            stored = stored_orders([self._sale(index).offline_id for index in lost]) if lost else {}
            pending = []
            for index in lost:
                sale = self._sale(index)
                if sale.offline_id in stored:  # a concurrent request stored it first
                    self.results[index] = _answer_for_stored(sale, stored[sale.offline_id], self.device_id)
                elif wanted[index] is not None:  # its receipt number was taken meanwhile
                    wanted[index] = None
                    pending.append(index)
                else:
                    raise RuntimeError(f"sale {sale.offline_id} was neither inserted nor found")
        self._number_from_server_series(created, invoice)
        for index, order_id in created.items():
            sale = self._sale(index)
            collision = (
                self.policy == InvoicePolicy.DEVICE
                and sale.receipt_number is not None
                and invoice[index] != sale.receipt_number
            )
            self.results[index] = SaleResult(
                sale.offline_id,
                CREATED,
                order_id=order_id,
                invoice_number=invoice[index],
                reason="receipt_number_collision" if collision else None,
            )
        return sorted(created.items())

    def _order_row(self, index: int, invoice_number: str | None, sync_id: int) -> tuple:
        """The values of ORDER_COLUMNS for one sale: its prepared row and what the transaction decided."""
        sale = self._sale(index)
        collision = self.policy == InvoicePolicy.DEVICE and sale.receipt_number is not None and invoice_number is None
        return self.rows[index].order + (invoice_number, self.bound_flag(collision), sync_id)

    def _number_from_server_series(self, created: dict[int, int], invoice: dict[int, str | None]) -> None:
        """Give every stored sale still without a number the next ones of the server series, in request order."""
        unnumbered = sorted(index for index in created if invoice[index] is None)
        if not unnumbered:
            return
        numbers = allocate_server_numbers(len(unnumbered), self.store_info)
        for index, number in zip(unnumbered, numbers):
            invoice[index] = number
        db.session.connection().exec_driver_sql(
            self.sql.set_invoice_number, [(invoice[index], created[index]) for index in unnumbered]
        )

    def _insert_contents(self, created: list[tuple[int, int]]) -> None:
        """Lines, one sale movement per line, payments, and the stock they move."""
        rows = self.rows
        line_rows = [(order_id, *line) for index, order_id in created for line in rows[index].lines]
        payment_rows = [(order_id, *payment) for index, order_id in created for payment in rows[index].payments]
        sold: dict[tuple[int, int], Decimal] = {}
        store_id = self.store_info.id
        for index, _ in created:
            for product_id, quantity in rows[index].stock:
                sold[(store_id, product_id)] = sold.get((store_id, product_id), Decimal(0)) - quantity
        insert_values(lines_t, LINE_COLUMNS, line_rows)
        order_ids = [order_id for _, order_id in created]
        db.session.connection().exec_driver_sql(
            self.sql.sale_movements(len(order_ids)), (store_id, self.bound_now, *order_ids)
        )
        insert_values(Payment.__table__, PAYMENT_COLUMNS, payment_rows)
        # Last: these row locks are the ones concurrent batches share most.
        move_stock(sold)

    def _answer_repeats(self, repeats: list[int]) -> None:
        """Answer, against what is stored now, the sales whose offline_id came earlier in the batch,
        and the invalid sales whose offline_id is stored: reusing it is a conflict, not a rejection."""
        invalid = [index for index, sale in enumerate(self.parsed) if isinstance(sale, Rejection) and sale.offline_id]
        stored = stored_orders([self.parsed[index].offline_id for index in repeats + invalid])
        for index in invalid:
            rejection = cast(Rejection, self.parsed[index])
            if rejection.offline_id in stored:
                self.results[index] = _conflict(
                    rejection.offline_id,
                    stored[rejection.offline_id],
                    self.device_id,
                    f"; the new content is also invalid: {rejection.message}",
                )
        for index in repeats:
            sale = self._sale(index)
            if sale.offline_id in stored:
                self.results[index] = _answer_for_stored(sale, stored[sale.offline_id], self.device_id)
            else:
                self.results[index] = SaleResult(
                    sale.offline_id,
                    REJECTED,
                    reason="invalid_order",
                    message="offline_id appears more than once in this batch and its first sale was not stored",
                )

    def _record(self, outcome: SyncOutcome) -> None:
        """Keep each conflict, rejection and renumbered sale with the payload the till sent, and the log counts.

        Replays are only counted: they changed nothing and need no one, and a payload
        row each was most of what answering a replayed batch cost.
        """
        attempts = [
            {
                "sync_id": outcome.sync_id,
                "device_id": self.device_id,
                "position": index,
                "offline_id": storable(result.offline_id),
                "status": result.status,
                "reason": result.reason,
                "message": storable(result.message),
                "order_id": result.order_id,
                "received_at": self.now,
                "payload": payload_record(self.raw[index]),
                # Never a Replay: those are answered duplicate, which is only counted.
                **shown_fields(self.raw[index], cast(Sale | Rejection, self.parsed[index])),
            }
            for index, result in enumerate(outcome.results)
            if result.status != DUPLICATE and (result.status != CREATED or result.reason)
        ]
        if attempts:
            db.session.execute(insert(SyncAttempt.__table__), attempts)
        counts = outcome.counts()
        conn = db.session.connection()
        conn.exec_driver_sql(
            self.sql.count_sync_log,
            (
                counts["created"],
                counts["duplicates"],
                counts["duplicates"],
                counts["conflicts"],
                counts["rejected"],
                int((time.monotonic() - self.started) * 1000),
                outcome.sync_id,
            ),
        )
        conn.exec_driver_sql(self.sql.device_seen, (self.bound_now, self.device_id))


def reingest_sale(*, device_id: int, sync_id: int, raw: object, rules: IngestRules) -> SaleResult:
    """Store one sale again from its payload, under the sync call that first brought it.

    The same batch code as a till's request, inside the caller's unit of work: the
    caller records the outcome, so no sync call, attempt row or last-seen time is added.
    """
    now = datetime.now(timezone.utc)
    store = store_of_device(device_id)
    parsed = parse_sale(raw, max_lines=rules.max_lines, now=now, money=store.money)
    batch = _Batch(
        device_id=device_id,
        store=store,
        batch_id=None,
        raw=[raw],
        parsed=[parsed],
        rules=rules,
        started=time.monotonic(),
        now=now,
        stored=stored_orders([parsed.offline_id] if parsed.offline_id else []),
    )
    batch.prepare()
    return batch.ingest(sync_id).results[0]


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
