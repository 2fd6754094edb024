"""Importing an older system's sales, duplicates and all, so they can be found and fixed here.

One JSON object a line (JSONL). Each good line becomes an order with its lines
and its stock movements in the same transaction; a bad line is reported with
its number and skipped whole. orders.legacy_id is unique, so importing the
same file again inserts nothing and moves no stock.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import IO

from sqlalchemy import insert, select

from ..database import insert_ignoring_conflicts, run_write
from ..extensions import db
from ..models import Device, LegacyImport, Order, OrderLine, Product, StockMovement
from ..models.types import utcnow
from . import audit
from .money import MAX_MONEY, MAX_QUANTITY, NumberError, parse_decimal
from .sales import SaleLine, content_hash, fingerprint
from .stock_ledger import move_stock
from .stores import default_store_id
from .text import is_storable

CHUNK = 500
MAX_REPORTED_ERRORS = 1000


class LegacyLineError(ValueError):
    """Why one line of the file cannot be imported."""


@dataclass(frozen=True)
class LegacySale:
    line_number: int
    legacy_id: str
    invoice_number: str
    offline_id: str | None
    device: str
    created_at: datetime
    cashier: str | None
    total: Decimal
    lines: tuple[SaleLine, ...]
    movements: tuple[tuple[int, Decimal], ...]  # (index into lines, quantity_delta)


@dataclass
class LegacyImportSummary:
    import_id: int
    lines_read: int = 0
    imported: int = 0
    already_there: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def _text(record: dict, key: str, max_len: int, required: bool = True) -> str | None:
    value = record.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise LegacyLineError(f"{key} must be a non-empty string")
    if len(value) > max_len:
        raise LegacyLineError(f"{key} is longer than {max_len} characters")
    if not is_storable(value):
        raise LegacyLineError(f"{key} contains a NUL or an unpaired surrogate character")
    return value.strip()


def _decimal(value, name: str, places: int, limit: Decimal) -> Decimal:
    try:
        return parse_decimal(value, places=places, limit=limit)
    except NumberError as exc:
        raise LegacyLineError(f"{name} {exc}") from None


def _offline_id(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 36 or not is_storable(value):
        raise LegacyLineError("offline_id must be null or a string of at most 36 characters")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return value.strip()


def _created_at(value) -> datetime:
    if not isinstance(value, str):
        raise LegacyLineError("created_at must be an ISO 8601 timestamp")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise LegacyLineError(f"created_at '{value[:40]}' is not an ISO 8601 timestamp") from None
    # Older systems often wrote local times without an offset; they are taken as UTC.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _movement_lines(movements: list, lines: tuple[SaleLine, ...]) -> tuple[tuple[int, Decimal], ...]:
    """Resolve each movement's `line` to an index into lines: 0-based, or 1-based where only that fits."""
    parsed = []
    for number, movement in enumerate(movements, start=1):
        if (
            not isinstance(movement, dict)
            or isinstance(movement.get("line"), bool)
            or not isinstance(movement.get("line"), int)
        ):
            raise LegacyLineError(f"movement {number}: line must be the index of a line")
        delta = _decimal(movement.get("quantity_delta"), f"movement {number}: quantity_delta", 3, MAX_QUANTITY)
        parsed.append((movement["line"], movement.get("sku"), delta))
    for base in (0, 1):
        if all(0 <= index - base < len(lines) and sku in (None, lines[index - base].sku) for index, sku, _ in parsed):
            return tuple((index - base, delta) for index, _, delta in parsed)
    raise LegacyLineError("movements do not match the lines (by line index and sku)")


def parse_legacy_line(text: str, line_number: int) -> LegacySale:
    """One line of the file as a sale, or LegacyLineError saying why not."""
    try:
        record = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise LegacyLineError(f"not valid JSON ({getattr(exc, 'msg', exc)})") from None
    if not isinstance(record, dict):
        raise LegacyLineError("must be a JSON object")
    raw_lines = record.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise LegacyLineError("lines must be a non-empty list")
    lines = []
    for number, line in enumerate(raw_lines, start=1):
        if not isinstance(line, dict):
            raise LegacyLineError(f"line {number} must be an object")
        quantity = _decimal(line.get("quantity"), f"line {number}: quantity", 3, MAX_QUANTITY)
        price = _decimal(line.get("unit_price"), f"line {number}: unit_price", 2, MAX_MONEY)
        if quantity <= 0 or price < 0:
            raise LegacyLineError(f"line {number}: quantity must be above zero and unit_price not negative")
        lines.append(SaleLine(_text(line, "sku", 64), quantity, price))
    movements = record.get("movements") or []
    if not isinstance(movements, list):
        raise LegacyLineError("movements must be a list")
    return LegacySale(
        line_number=line_number,
        legacy_id=_text(record, "legacy_id", 100),
        invoice_number=_text(record, "invoice_number", 64),
        offline_id=_offline_id(record.get("offline_id")),
        device=_text(record, "device", 100),
        created_at=_created_at(record.get("created_at")),
        cashier=_text(record, "cashier", 100, required=False),
        total=_decimal(record.get("total"), "total", 2, MAX_MONEY),
        lines=tuple(lines),
        movements=_movement_lines(movements, tuple(lines)),
    )


def import_legacy_file(stream: IO[str], file_name: str, actor: str = "cli") -> LegacyImportSummary:
    """Import every good line of a JSONL file; bad lines are reported by number and skipped."""
    import_id = run_write(lambda: _start(file_name, actor))
    summary = LegacyImportSummary(import_id)
    products = dict(db.session.execute(select(Product.sku, Product.id)).all())
    chunk: list[LegacySale] = []
    for line_number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        summary.lines_read += 1
        try:
            sale = parse_legacy_line(text, line_number)
            unknown = [line.sku for line in sale.lines if line.sku not in products]
            if unknown:
                raise LegacyLineError(f"no product with sku '{unknown[0]}' (import the catalogue first)")
        except LegacyLineError as exc:
            summary.skipped += 1
            if len(summary.errors) < MAX_REPORTED_ERRORS:
                summary.errors.append(f"line {line_number}: {exc}")
            continue
        chunk.append(sale)
        if len(chunk) >= CHUNK:
            _store_chunk(chunk, products, summary)
            chunk = []
    if chunk:
        _store_chunk(chunk, products, summary)
    run_write(lambda: _finish(summary, actor))
    return summary


def _start(file_name: str, actor: str) -> int:
    record = LegacyImport(file_name=file_name[:500], actor=actor)
    db.session.add(record)
    db.session.flush()
    return record.id


def _finish(summary: LegacyImportSummary, actor: str) -> None:
    record = db.session.get(LegacyImport, summary.import_id)
    record.lines_read, record.imported = summary.lines_read, summary.imported
    record.already_there, record.skipped = summary.already_there, summary.skipped
    record.errors = json.dumps(summary.errors)
    audit.record(
        actor,
        "legacy_import",
        "legacy_import",
        summary.import_id,
        file=record.file_name,
        imported=summary.imported,
        already_there=summary.already_there,
        skipped=summary.skipped,
    )


def _store_chunk(chunk: list[LegacySale], products: dict[str, int], summary: LegacyImportSummary) -> None:
    counts = run_write(lambda: _store(chunk, products, summary.import_id), retry_on_integrity=True)
    summary.imported += counts[0]
    summary.already_there += counts[1]


def _store(chunk: list[LegacySale], products: dict[str, int], import_id: int) -> tuple[int, int]:
    names = sorted({sale.device for sale in chunk})
    # Devices known only from old data get no token: they cannot sign in. They are the default
    # store's, as everything was before there were stores.
    store = default_store_id()
    db.session.execute(
        insert_ignoring_conflicts(Device.__table__),
        [{"name": name, "token_hash": None, "store_id": store, "created_at": utcnow()} for name in names],
    )
    device_rows = db.session.execute(select(Device.name, Device.id, Device.store_id).where(Device.name.in_(names)))
    devices, store_of = {}, {}
    for row in device_rows:
        devices[row.name], store_of[row.id] = row.id, row.store_id
    now = utcnow()
    rows = [
        {
            "offline_id": s.offline_id,
            "receipt_number": s.invoice_number,
            "invoice_number": s.invoice_number,
            "device_id": devices[s.device],
            "store_id": store_of[devices[s.device]],
            "created_at": s.created_at,
            "received_at": now,
            "cashier": s.cashier,
            "total": s.total,
            "status": "completed",
            "receipt_number_collision": False,
            "sync_id": None,
            "fingerprint": fingerprint(
                offline_id=s.offline_id,
                receipt_number=s.invoice_number,
                created_at=s.created_at,
                cashier=s.cashier,
                lines=s.lines,
                total=s.total,
                payments=(),
            ),
            "content_hash": content_hash(devices[s.device], s.lines, s.total),
            "legacy_id": s.legacy_id,
            "legacy_import_id": import_id,
        }
        for s in chunk
    ]
    orders_t = Order.__table__
    new = dict(
        db.session.execute(
            insert_ignoring_conflicts(orders_t).values(rows).returning(orders_t.c.legacy_id, orders_t.c.id)
        ).all()
    )
    stored = [s for s in chunk if s.legacy_id in new]
    line_rows = [
        {
            "order_id": new[s.legacy_id],
            "line_no": n,
            "product_id": products[line.sku],
            "sku": line.sku,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "status": "completed",
        }
        for s in stored
        for n, line in enumerate(s.lines, start=1)
    ]
    if line_rows:
        lines_t = OrderLine.__table__
        line_ids = (
            db.session.execute(insert(lines_t).returning(lines_t.c.id, sort_by_parameter_order=True), line_rows)
            .scalars()
            .all()
        )
        stores = {s.legacy_id: store_of[devices[s.device]] for s in stored}
        _book_legacy_movements(stored, stores, line_rows, list(line_ids), now)
    return len(stored), len(chunk) - len(stored)


def _book_legacy_movements(
    stored: list[LegacySale], stores: dict[str, int], line_rows: list[dict], line_ids: list[int], now
) -> None:
    """The old system's movements, applied to stock as it did (duplicates included, for the scan to find)."""
    line_at = {}
    position = 0
    for sale in stored:
        for index in range(len(sale.lines)):
            line_at[(sale.legacy_id, index)] = (line_ids[position], line_rows[position]["product_id"])
            position += 1
    movements = [
        {
            "product_id": line_at[(s.legacy_id, index)][1],
            "store_id": stores[s.legacy_id],
            "order_line_id": line_at[(s.legacy_id, index)][0],
            "quantity_delta": delta,
            "kind": "legacy",
            "created_at": now,
        }
        for s in stored
        for index, delta in s.movements
    ]
    if not movements:
        return
    db.session.execute(insert(StockMovement), movements)
    change: dict[tuple[int, int], Decimal] = {}
    for m in movements:
        key = (m["store_id"], m["product_id"])
        change[key] = change.get(key, Decimal(0)) + m["quantity_delta"]
    move_stock(change)
