"""A legacy file with one case of every duplicate kind, and look-alikes that must not be flagged."""

from __future__ import annotations

import json
from pathlib import Path

T0 = "2026-03-01T10:00:00+00:00"


def sale(legacy_id, invoice, *, offline_id=None, device="OLD-1", at=T0, lines=None, total=None, movements=None):
    lines = lines or [{"sku": "COFFEE", "quantity": "2", "unit_price": "2.50"}]
    if total is None:
        total = str(sum(float(ln["quantity"]) * float(ln["unit_price"]) for ln in lines))
    if movements is None:
        movements = [
            {"line": i, "sku": ln["sku"], "quantity_delta": "-" + ln["quantity"]} for i, ln in enumerate(lines)
        ]
    return {
        "legacy_id": legacy_id,
        "invoice_number": invoice,
        "offline_id": offline_id,
        "device": device,
        "created_at": at,
        "cashier": "Old",
        "total": total,
        "lines": lines,
        "movements": movements,
    }


TEA = [{"sku": "TEA", "quantity": "1", "unit_price": "2.00"}]
BREAD2 = [
    {"sku": "BREAD", "quantity": "1", "unit_price": "3.20"},
    {"sku": "BREAD", "quantity": "1", "unit_price": "3.20"},
]

CASES = {
    # kind -> legacy ids that must form one group of that kind
    "same_offline_id": ["L1", "L2"],
    "same_invoice_same_content": ["L3", "L4"],
    "invoice_collision": ["L5", "L6"],
    "suspected_double_entry": ["L7", "L8"],
    "duplicate_lines": ["L9"],
    "duplicate_movements": ["L10"],
}

RECORDS = [
    sale("L1", "INV-1", offline_id="11111111-1111-4111-8111-111111111111"),
    sale("L2", "INV-2", offline_id="11111111-1111-4111-8111-111111111111", at="2026-03-01T10:05:00+00:00"),
    sale("L3", "INV-3", lines=TEA),
    sale("L4", "INV-3", lines=TEA, at="2026-03-01T11:00:00+00:00"),
    sale("L5", "INV-5", lines=TEA),
    sale("L6", "INV-5", lines=[{"sku": "CROISSANT", "quantity": "3", "unit_price": "1.80"}], device="OLD-2"),
    sale("L7", "INV-7", device="OLD-3", at="2026-03-02T09:00:00+00:00"),
    sale("L8", "INV-8", device="OLD-3", at="2026-03-02T09:01:30+00:00"),
    # Look-alike: same basket again, but 5 minutes later: two real sales.
    sale("L8b", "INV-8b", device="OLD-3", at="2026-03-02T09:06:30+00:00"),
    # The line was written twice but the total counts it once.
    sale("L9", "INV-9", device="OLD-4", lines=BREAD2, total="3.20"),
    # Look-alike: an identical line repeated, and the total includes every repeat: a quantity.
    sale("L9b", "INV-9b", device="OLD-4", lines=BREAD2, total="6.40", at="2026-03-05T10:00:00+00:00"),
    # One line, two sale movements.
    sale(
        "L10",
        "INV-10",
        device="OLD-5",
        lines=TEA,
        movements=[
            {"line": 0, "sku": "TEA", "quantity_delta": "-1"},
            {"line": 0, "sku": "TEA", "quantity_delta": "-1"},
        ],
    ),
    # Look-alike: same offline id absent (null) on many orders is not a duplicate.
    sale("L11", "INV-11", device="OLD-6", lines=TEA, at="2026-03-06T10:00:00+00:00"),
]


def write_legacy_file(path: Path, records=None, extra_lines=()) -> Path:
    with path.open("w") as out:
        for record in records if records is not None else RECORDS:
            out.write(json.dumps(record) + "\n")
        for line in extra_lines:
            out.write(line + "\n")
    return path
