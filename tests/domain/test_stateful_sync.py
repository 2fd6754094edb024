"""The sync contract as a Hypothesis state machine, against the real app and a real database.

Two tills (T01, T02) send batches through the Flask test client: new sales, replays
(numbers written differently, keys reordered, the offline_id in capitals), replays
with changed content, invalid sales of every rejection reason, another till's
offline_id, receipt numbers that collide, and batches mixing all of these. An
in-memory model says what each sale's answer must be and what must be stored;
after every step the database is compared with the model.

Each example gets a fresh database: a copy of a migrated SQLite template, or (for the
PostgreSQL run) a new database cloned from the session's migrated template.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import shutil
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import create_engine, text

from dashboard.domain.catalog import ProductRow, import_products
from dashboard.domain.devices import add_device
from dashboard.extensions import db
from tests.conftest import make_app, migrate
from tests.support.invariants import check_invariants
from tests.support.sales import CATALOG, bearer

SETTINGS = settings(
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
DEVICES = ("T01", "T02")
SKUS = sorted(CATALOG)
OPENING = {sku: Decimal(stock) for sku, (_name, _price, stock) in CATALOG.items()}
CENT, MILLI = Decimal("0.01"), Decimal("0.001")
NOW = datetime.now(timezone.utc)
# Rate limiting is off in these apps, so Redis is never contacted.
NO_REDIS = "redis://127.0.0.1:1/0"

# --------------------------------------------------------------------------- databases


@functools.cache
def _sqlite_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="tillsync-stateful-template-"))
    migrate(f"sqlite:///{folder / 'template.db'}", folder)
    return folder / "template.db"


def sqlite_database():
    """A fresh migrated SQLite database: (url, cleanup)."""
    folder = Path(tempfile.mkdtemp(prefix="tillsync-stateful-"))
    shutil.copy(_sqlite_template(), folder / "tillsync.db")
    return f"sqlite:///{folder / 'tillsync.db'}", lambda: shutil.rmtree(folder, ignore_errors=True)


_pg_numbers = itertools.count(1)


def postgres_database(server, template: str):
    """A fresh database cloned from the migrated PostgreSQL template: (url, cleanup)."""
    name = f"stateful_{os.getpid()}_{next(_pg_numbers)}"
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE {template}'))
    admin.dispose()

    def cleanup():
        admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.url(name), cleanup


# --------------------------------------------------------------------------- sales, as the model sees them


@dataclass(frozen=True)
class Spec:
    """A sale's content. Two specs are the same sale content iff their keys are equal."""

    offline_id: str
    receipt_number: str | None
    created_at: datetime  # aware; sent in some offset
    cashier: str | None
    lines: tuple[tuple[str, Decimal, Decimal], ...]  # sku, quantity, unit_price
    total: Decimal
    payments: tuple[tuple[str, Decimal], ...]  # () = not sent

    def key(self):
        return (
            self.offline_id,
            self.receipt_number,
            self.created_at.astimezone(timezone.utc),
            self.cashier,
            self.lines,
            self.total,
            self.payments,
        )


@dataclass
class Stored:
    device: str
    spec: Spec
    order_id: int
    invoice_number: str


@dataclass(frozen=True)
class Item:
    """One order object of a request and what the model needs to predict its answer.

    kind: 'valid' (parses, every sku known), 'unknown_sku' (parses, a sku is not in the
    catalogue) or 'invalid' (fails parsing with `reason`). oid is the canonical offline_id
    when the payload has a valid one, else None.
    """

    payload: object
    kind: str
    oid: str | None
    spec: Spec | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Expected:
    status: str
    reason: str | None = None
    order_id: int | None = None
    invoice_number: str | None = None
    receipt_collision: bool = False


def total_of(lines) -> Decimal:
    return sum((q * p for _sku, q, p in lines), Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)


def write_number(value: Decimal, places: int, style: str):
    """The same number written in one of the ways a till may write it."""
    if style == "fixed":
        return f"{value:.{places}f}"
    if style == "short":
        text_ = format(value.normalize(), "f")
        return "0" if text_ in ("-0", "0") else text_
    if style == "number":
        return int(value) if value == value.to_integral_value() else float(value)  # float repr is exact here
    raise AssertionError(style)


NUMBER_STYLES = ("fixed", "short", "number")


def encode(spec: Spec, styles: list[str], *, upper_id: bool = False, key_order: list[str] | None = None) -> dict:
    """The JSON object a till sends for spec; styles (cycled) say how each number is written."""
    style = itertools.cycle(styles or ["fixed"])
    body = {
        "offline_id": spec.offline_id.upper() if upper_id else spec.offline_id,
        "created_at": spec.created_at.isoformat(),
        "lines": [
            {"sku": sku, "quantity": write_number(q, 3, next(style)), "unit_price": write_number(p, 2, next(style))}
            for sku, q, p in spec.lines
        ],
        "total": write_number(spec.total, 2, next(style)),
    }
    if spec.receipt_number is not None:
        body["receipt_number"] = spec.receipt_number
    if spec.cashier is not None:
        body["cashier"] = spec.cashier
    if spec.payments:
        body["payments"] = [{"method": m, "amount": write_number(a, 2, next(style))} for m, a in spec.payments]
    if key_order:
        body = {k: body[k] for k in sorted(body, key=lambda k: key_order.index(k) if k in key_order else 99)}
    return body


KEYS = ["offline_id", "receipt_number", "created_at", "cashier", "lines", "total", "payments"]

quantities = st.integers(1, 5000).map(lambda n: Decimal(n) * MILLI) | st.integers(1, 5).map(Decimal)
prices = st.integers(0, 2000).map(lambda n: Decimal(n) * CENT)
line_specs = st.tuples(st.sampled_from(SKUS), quantities, prices)
offsets = st.sampled_from([0, 60, 90, -300, 330, 720]).map(lambda m: timezone(timedelta(minutes=m)))
created_ats = st.tuples(st.integers(0, 60 * 24 * 60), offsets).map(
    lambda t: (NOW - timedelta(minutes=t[0])).replace(microsecond=0).astimezone(t[1])
)
cashiers = st.sampled_from([None, "Amal", "Jonas", "Zoë"])
styles = st.lists(st.sampled_from(NUMBER_STYLES), min_size=1, max_size=4)


# --------------------------------------------------------------------------- the machine


class SyncMachine(RuleBasedStateMachine):
    """Drives POST /api/v1/sync and GET /api/v1/sync/status; checks the database against the model."""

    database_factory = staticmethod(sqlite_database)

    def __init__(self):
        super().__init__()
        self.url, self._cleanup = self.database_factory()
        self._instance = tempfile.mkdtemp(prefix="tillsync-stateful-instance-")
        self.app = make_app(self.url, NO_REDIS, Path(self._instance))
        self._ctx = self.app.app_context()
        self._ctx.push()
        import_products(
            [ProductRow(sku, name, Decimal(price), Decimal(stock)) for sku, (name, price, stock) in CATALOG.items()]
        )
        self.tokens = {name: add_device(name) for name in DEVICES}
        self.client = self.app.test_client()
        self.stored: dict[str, Stored] = {}  # canonical offline_id -> what the server must hold
        self.rejected_ids: set[str] = set()  # valid offline_ids only ever sent in rejected sales
        self.receipts = itertools.count(1)
        self.requests = 0

    def teardown(self):
        try:
            db.session.remove()
            db.engine.dispose()
            self._ctx.pop()
        finally:
            shutil.rmtree(self._instance, ignore_errors=True)
            self._cleanup()

    # ----------------------------------------------------------------- building sales

    def _new_spec(self, data, device: str, offline_id: str | None = None) -> Spec:
        lines = tuple(data.draw(st.lists(line_specs, min_size=1, max_size=4), label="lines"))
        total = total_of(lines)
        payments: tuple = ()
        if data.draw(st.booleans(), label="payments?"):
            cents = int(total / CENT)
            first = Decimal(data.draw(st.integers(0, cents), label="first payment")) * CENT
            payments = (("card", first), ("cash", total - first)) if first else (("cash", total),)
        receipt = f"{device}-{next(self.receipts):06d}"
        taken = [s.spec.receipt_number for s in self.stored.values() if s.spec.receipt_number]
        choice = data.draw(
            st.sampled_from(["own", "own", "own", "none"] + (["collide"] if taken else [])), label="receipt"
        )
        if choice == "none":
            receipt = None
        elif choice == "collide":
            receipt = data.draw(st.sampled_from(sorted(taken)), label="colliding receipt")
        return Spec(
            offline_id=offline_id or str(uuid.uuid4()),
            receipt_number=receipt,
            created_at=data.draw(created_ats, label="created_at"),
            cashier=data.draw(cashiers),
            lines=lines,
            total=total,
            payments=payments,
        )

    def _valid_item(self, data, spec: Spec, *, vary: bool) -> Item:
        if vary:
            payload = encode(
                spec,
                data.draw(styles, label="number styles"),
                upper_id=data.draw(st.booleans(), label="upper id"),
                key_order=data.draw(st.permutations(KEYS), label="key order"),
            )
        else:
            payload = encode(spec, data.draw(styles, label="number styles"))
        return Item(payload, "valid", spec.offline_id, spec=spec)

    def _changed(self, data, spec: Spec) -> Spec:
        """Other content under the same offline_id (still a valid sale)."""
        how = data.draw(
            st.sampled_from(["quantity", "add line", "cashier", "receipt", "time", "payments"]), label="change"
        )
        if how == "quantity":
            sku, q, p = spec.lines[0]
            lines = ((sku, q + 1, p),) + spec.lines[1:]
            return replace(spec, lines=lines, total=total_of(lines), payments=())
        if how == "add line":
            lines = spec.lines + (data.draw(line_specs, label="extra line"),)
            return replace(spec, lines=lines, total=total_of(lines), payments=())
        if how == "cashier":
            return replace(spec, cashier="Someone Else" if spec.cashier != "Someone Else" else "Amal")
        if how == "receipt":
            return replace(spec, receipt_number=f"X-{next(self.receipts):06d}")
        if how == "time":
            return replace(spec, created_at=spec.created_at - timedelta(seconds=1))
        # Payments sent where there were none, or left out where there were some.
        return replace(spec, payments=() if spec.payments else (("cash", spec.total),))

    def _invalid_item(self, data, base: Spec, reason: str) -> Item:
        """base, broken so that it is refused for `reason` (and for nothing else)."""
        body = encode(base, ["fixed"])
        oid = base.offline_id
        if reason == "invalid_order":
            how = data.draw(
                st.sampled_from(
                    [
                        "empty lines",
                        "quantity bool",
                        "quantity text",
                        "price decimals",
                        "lines object",
                        "not a uuid",
                        "not an object",
                        "huge",
                    ]
                ),
                label="invalid how",
            )
            if how == "empty lines":
                body["lines"] = []
            elif how == "quantity bool":
                body["lines"][0]["quantity"] = True
            elif how == "quantity text":
                body["lines"][0]["quantity"] = "two"
            elif how == "price decimals":
                body["lines"][0]["unit_price"] = body["lines"][0]["unit_price"] + "1"
                # An amount finer than the store's currency has its own reason since stores have currencies.
                reason = "too_many_decimals"
            elif how == "lines object":
                body["lines"] = {"0": body["lines"][0]}
            elif how == "huge":
                body["lines"][0]["quantity"] = 10**30
            elif how == "not a uuid":
                body["offline_id"] = "till-sale-" + oid[:8]
                oid = None
            else:
                # The order is a JSON string holding the sale, not the sale itself.
                return Item(json.dumps(json.dumps(body)), "invalid", None, reason=reason)
        elif reason == "unknown_sku":
            body["lines"].append({"sku": "NO-SUCH-SKU", "quantity": "1", "unit_price": "1.00"})
            body["total"] = f"{base.total + 1:.2f}"
            body.pop("payments", None)
            return Item(
                body,
                "unknown_sku",
                oid,
                spec=replace(
                    base,
                    lines=base.lines + (("NO-SUCH-SKU", Decimal(1), Decimal(1)),),
                    total=base.total + 1,
                    payments=(),
                ),
                reason=reason,
            )
        elif reason == "total_mismatch":
            # Further off than any rounding convention can explain (at most half a cent per line).
            body["total"] = f"{base.total + len(base.lines) * CENT + CENT:.2f}"
            body.pop("payments", None)
        elif reason == "payments_mismatch":
            body["payments"] = [{"method": "cash", "amount": f"{base.total + 1:.2f}"}]
        elif reason == "non_positive_quantity":
            body["lines"][-1]["quantity"] = data.draw(st.sampled_from(["0", "-1", "-0.5", 0]), label="quantity")
        elif reason == "negative_price":
            body["lines"][-1]["unit_price"] = data.draw(st.sampled_from(["-0.01", "-2.50", -1]), label="price")
        elif reason == "invalid_created_at":
            body["created_at"] = data.draw(
                st.sampled_from(
                    [
                        "yesterday",
                        "2026-11-25T09:58:11",
                        "1999-12-31T23:59:59+00:00",
                        (NOW + timedelta(days=3)).isoformat(),
                        1732528691,
                    ]
                ),
                label="created_at",
            )
        elif reason == "too_many_lines":
            body["lines"] = [body["lines"][0]] * 201
        else:
            raise AssertionError(reason)
        return Item(body, "invalid", oid, reason=reason)

    # ----------------------------------------------------------------- sending and predicting

    def _predict(self, device: str, items: list[Item]) -> list[Expected]:
        """The answer for each item, and the model's new state (applied once the answer is checked)."""
        stored = dict(self.stored)
        invoices_before = {s.invoice_number for s in stored.values()}
        receipts_in_batch: set[str] = set()
        expected: list[Expected | None] = []
        self._pending: dict[int, Spec] = {}
        for index, item in enumerate(items):
            if item.kind == "invalid":
                expected.append(None)  # answered against what is stored at the end of the batch
                continue
            held = stored.get(item.oid)
            if held is not None:
                same = item.kind == "valid" and held.device == device and held.spec.key() == item.spec.key()
                expected.append(
                    Expected("duplicate", order_id=held.order_id, invoice_number=held.invoice_number)
                    if same
                    else Expected("conflict", reason="offline_id_reused")
                )
                continue
            if item.kind == "unknown_sku":
                expected.append(Expected("rejected", reason="unknown_sku"))
                continue
            receipt = item.spec.receipt_number
            collision = receipt is not None and (receipt in invoices_before or receipt in receipts_in_batch)
            if receipt is not None:
                receipts_in_batch.add(receipt)
            expected.append(
                Expected(
                    "created",
                    invoice_number=None if collision or receipt is None else receipt,
                    reason="receipt_number_collision" if collision else None,
                    receipt_collision=collision,
                )
            )
            # A placeholder until the answer tells the order id and invoice number.
            stored[item.oid] = Stored(device, item.spec, order_id=-(index + 1), invoice_number=f"?{index}")
            self._pending[index] = item.spec
        for index, item in enumerate(items):
            if item.kind == "invalid":
                expected[index] = (
                    Expected("conflict", reason="offline_id_reused")
                    if item.oid in stored
                    else Expected("rejected", reason=item.reason)
                )
        return expected

    def _send(self, device: str, items: list[Item]) -> list[dict]:
        expected = self._predict(device, items)
        body = (
            "["
            + ", ".join(item.payload if isinstance(item.payload, str) else json.dumps(item.payload) for item in items)
            + "]"
        )
        response = self.client.post(
            "/api/v1/sync",
            data='{"batch_id": "b-%d", "orders": %s}' % (self.requests, body),
            headers={**bearer(self.tokens[device]), "Content-Type": "application/json"},
        )
        self.requests += 1
        assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:500])
        answer = response.get_json()
        results = answer["results"]
        assert len(results) == len(items)
        statuses = Counter(r["status"] for r in results)
        assert (
            answer["received"],
            answer["created"],
            answer["duplicates"],
            answer["conflicts"],
            answer["rejected"],
        ) == (len(items), statuses["created"], statuses["duplicate"], statuses["conflict"], statuses["rejected"]), (
            answer
        )
        known_ids = {s.order_id for s in self.stored.values()}
        known_invoices = {s.invoice_number for s in self.stored.values()}
        created_here: dict[str, tuple[int, str]] = {}
        for index, (item, want, got) in enumerate(zip(items, expected, results)):
            where = f"item {index} ({item.kind} {item.reason or ''}): {got}"
            assert got["status"] == want.status, where
            if item.oid is not None:
                assert got["offline_id"].lower() == item.oid, where
            if want.status == "created":
                assert isinstance(got["order_id"], int) and got["order_id"] not in known_ids, where
                assert got["invoice_number"] and got["invoice_number"] not in known_invoices, where
                if want.receipt_collision:
                    # Still stored, numbered from the server's series, and marked.
                    assert got.get("reason") == "receipt_number_collision", where
                    assert got["invoice_number"] != item.spec.receipt_number, where
                else:
                    assert "reason" not in got, where
                    if want.invoice_number is not None:  # device policy: the receipt number is the invoice
                        assert got["invoice_number"] == want.invoice_number, where
                known_ids.add(got["order_id"])
                known_invoices.add(got["invoice_number"])
                created_here[item.oid] = (got["order_id"], got["invoice_number"])
            elif want.status == "duplicate":
                # A replay, even of a sale created earlier in this same batch, gets the first answer.
                first = created_here.get(item.oid) or (want.order_id, want.invoice_number)
                assert (got["order_id"], got["invoice_number"]) == first, where
            elif want.status == "conflict":
                assert got["reason"] == "offline_id_reused" and got.get("message"), where
                held = self.stored.get(item.oid)
                if held is not None and held.device != device:
                    # Never reveal another till's sale.
                    assert "order_id" not in got and "invoice_number" not in got, where
            else:  # rejected
                assert got["reason"] == want.reason and got.get("message"), where
                assert "order_id" not in got and "invoice_number" not in got, where
        # The answer matched the model: commit the model's new state.
        for _index, spec in self._pending.items():
            order_id, invoice = created_here[spec.offline_id]
            self.stored[spec.offline_id] = Stored(device, spec, order_id, invoice)
        for item, got in zip(items, results):
            if got["status"] == "rejected" and item.oid and item.oid not in self.stored:
                self.rejected_ids.add(item.oid)
        self.rejected_ids -= set(self.stored)
        return results

    def _own(self, device: str) -> list[str]:
        return sorted(oid for oid, s in self.stored.items() if s.device == device)

    def _others(self, device: str) -> list[str]:
        return sorted(oid for oid, s in self.stored.items() if s.device != device)

    # ----------------------------------------------------------------- rules

    @rule(data=st.data(), device=st.sampled_from(DEVICES))
    def submit_new_sale(self, data, device):
        spec = self._new_spec(data, device)
        self._send(device, [self._valid_item(data, spec, vary=False)])

    @precondition(lambda self: self.stored)
    @rule(data=st.data())
    def replay_sale(self, data):
        """The same sale again, numbers and keys written differently: a duplicate with the first answer."""
        oid = data.draw(st.sampled_from(sorted(self.stored)), label="replayed")
        held = self.stored[oid]
        before = (held.order_id, held.invoice_number)
        result = self._send(held.device, [self._valid_item(data, held.spec, vary=True)])[0]
        assert result["status"] == "duplicate" and (result["order_id"], result["invoice_number"]) == before

    @precondition(lambda self: self.stored)
    @rule(data=st.data())
    def replay_changed_sale(self, data):
        oid = data.draw(st.sampled_from(sorted(self.stored)), label="changed")
        held = self.stored[oid]
        changed = self._changed(data, held.spec)
        assert changed.key() != held.spec.key()
        result = self._send(held.device, [self._valid_item(data, changed, vary=True)])[0]
        assert result["status"] == "conflict"

    @precondition(lambda self: self.stored)
    @rule(data=st.data())
    def replay_another_tills_sale(self, data):
        """A till sending an offline_id another till stored (same content): a conflict that reveals nothing."""
        oid = data.draw(st.sampled_from(sorted(self.stored)), label="foreign")
        held = self.stored[oid]
        other = next(d for d in DEVICES if d != held.device)
        result = self._send(other, [self._valid_item(data, held.spec, vary=True)])[0]
        assert result["status"] == "conflict" and "order_id" not in result

    @rule(
        data=st.data(),
        device=st.sampled_from(DEVICES),
        reason=st.sampled_from(
            [
                "invalid_order",
                "unknown_sku",
                "total_mismatch",
                "payments_mismatch",
                "non_positive_quantity",
                "negative_price",
                "invalid_created_at",
                "too_many_lines",
            ]
        ),
    )
    def send_invalid_sale(self, data, device, reason):
        self._send(device, [self._invalid_item(data, self._new_spec(data, device), reason)])

    @precondition(lambda self: self.stored)
    @rule(
        data=st.data(),
        reason=st.sampled_from(
            ["total_mismatch", "invalid_created_at", "negative_price", "unknown_sku", "invalid_order"]
        ),
    )
    def send_invalid_sale_with_a_stored_offline_id(self, data, reason):
        """A stored offline_id with invalid content: a conflict, whichever till sends it; nothing changes."""
        oid = data.draw(st.sampled_from(sorted(self.stored)), label="stored id")
        device = data.draw(st.sampled_from(DEVICES), label="device")
        base = replace(self._new_spec(data, device), offline_id=oid)
        item = self._invalid_item(data, base, reason)
        result = self._send(device, [item])[0]
        if item.oid is not None:
            assert result["status"] == "conflict"

    @precondition(lambda self: self.rejected_ids)
    @rule(data=st.data(), device=st.sampled_from(DEVICES))
    def send_corrected_sale(self, data, device):
        """A rejected sale, corrected and sent again under its offline_id: a rejection kept nothing."""
        oid = data.draw(st.sampled_from(sorted(self.rejected_ids)), label="rejected id")
        spec = self._new_spec(data, device, offline_id=oid)
        assert self._send(device, [self._valid_item(data, spec, vary=True)])[0]["status"] == "created"

    @rule(data=st.data(), device=st.sampled_from(DEVICES))
    def send_mixed_batch(self, data, device):
        items: list[Item] = []
        batch_new: list[Spec] = []
        kinds = data.draw(
            st.lists(
                st.sampled_from(
                    ["new", "new", "replay", "replay new", "changed", "invalid", "invalid stored", "foreign"]
                ),
                min_size=2,
                max_size=7,
            ),
            label="kinds",
        )
        for kind in kinds:
            own = [self.stored[o].spec for o in self._own(device)]
            if kind == "new":
                spec = self._new_spec(data, device)
                batch_new.append(spec)
                items.append(self._valid_item(data, spec, vary=False))
            elif kind == "replay" and own:
                items.append(self._valid_item(data, data.draw(st.sampled_from(own), label="replay"), vary=True))
            elif kind == "replay new" and batch_new:
                spec = data.draw(st.sampled_from(batch_new), label="replay in batch")
                items.append(self._valid_item(data, spec, vary=True))
            elif kind == "changed" and (own or batch_new):
                spec = data.draw(st.sampled_from(own + batch_new), label="changed")
                items.append(self._valid_item(data, self._changed(data, spec), vary=True))
            elif kind == "invalid":
                reason = data.draw(
                    st.sampled_from(
                        [
                            "invalid_order",
                            "unknown_sku",
                            "total_mismatch",
                            "payments_mismatch",
                            "non_positive_quantity",
                            "negative_price",
                            "invalid_created_at",
                            "too_many_lines",
                        ]
                    ),
                    label="reason",
                )
                items.append(self._invalid_item(data, self._new_spec(data, device), reason))
            elif kind == "invalid stored" and self.stored:
                oid = data.draw(st.sampled_from(sorted(self.stored)), label="stored id")
                base = replace(self._new_spec(data, device), offline_id=oid)
                items.append(
                    self._invalid_item(
                        data,
                        base,
                        data.draw(
                            st.sampled_from(["total_mismatch", "negative_price", "invalid_created_at"]), label="reason"
                        ),
                    )
                )
            elif kind == "foreign" and self._others(device):
                oid = data.draw(st.sampled_from(self._others(device)), label="foreign id")
                items.append(self._valid_item(data, self.stored[oid].spec, vary=True))
        if items:
            self._send(device, items)

    @rule(data=st.data(), device=st.sampled_from(DEVICES))
    def ask_status(self, data, device):
        asked = data.draw(
            st.lists(
                st.sampled_from(sorted(self.stored) + sorted(self.rejected_ids) + [str(uuid.uuid4()), "not-a-uuid"]),
                min_size=1,
                max_size=6,
            ),
            label="asked",
        )
        asked = [a.upper() if data.draw(st.booleans(), label="upper") else a for a in asked]
        response = self.client.get(
            "/api/v1/sync/status", query_string=[("offline_id", a) for a in asked], headers=bearer(self.tokens[device])
        )
        assert response.status_code == 200
        for value, got in zip(asked, response.get_json()["results"], strict=True):
            held = self.stored.get(value.lower())
            if held is not None and held.device == device:
                assert got == {
                    "offline_id": value,
                    "status": "synced",
                    "order_id": held.order_id,
                    "invoice_number": held.invoice_number,
                }
            else:
                assert got == {"offline_id": value, "status": "unknown", "order_id": None, "invoice_number": None}

    # ----------------------------------------------------------------- invariants

    @invariant()
    def database_matches_the_model(self):
        with db.engine.connect() as conn:
            orders = {
                row.offline_id: row
                for row in conn.execute(
                    text(
                        "SELECT o.id, o.offline_id, o.invoice_number, o.receipt_number, o.total, o.status, d.name AS device "
                        "FROM orders o JOIN devices d ON d.id = o.device_id"
                    )
                )
            }
            lines: dict[int, list] = {}
            for row in conn.execute(
                text("SELECT order_id, line_no, sku, quantity, unit_price FROM order_lines ORDER BY order_id, line_no")
            ):
                lines.setdefault(row.order_id, []).append(
                    (row.sku, Decimal(str(row.quantity)).quantize(MILLI), Decimal(str(row.unit_price)).quantize(CENT))
                )
            stock = {
                row.sku: Decimal(str(row.stock_quantity)).quantize(MILLI)
                for row in conn.execute(text("SELECT sku, stock_quantity FROM products"))
            }
            movements = conn.execute(text("SELECT COUNT(*) FROM stock_movements WHERE kind = 'sale'")).scalar()
        assert set(orders) == set(self.stored), "stored offline_ids differ from the model"
        for oid, held in self.stored.items():
            row = orders[oid]
            assert (row.id, row.invoice_number, row.device, row.status) == (
                held.order_id,
                held.invoice_number,
                held.device,
                "completed",
            ), oid
            assert row.receipt_number == held.spec.receipt_number, oid
            assert Decimal(str(row.total)).quantize(CENT) == held.spec.total, oid
            assert lines.get(row.id) == [(s, q.quantize(MILLI), p.quantize(CENT)) for s, q, p in held.spec.lines], oid
        assert sum(map(len, lines.values())) == movements == sum(len(s.spec.lines) for s in self.stored.values())
        sold = Counter()
        for held in self.stored.values():
            for sku, q, _p in held.spec.lines:
                sold[sku] += q
        assert stock == {sku: (OPENING[sku] - sold[sku]).quantize(MILLI) for sku in SKUS}
        invoices = [s.invoice_number for s in self.stored.values()]
        assert len(invoices) == len(set(invoices))
        counts = check_invariants(db.engine)
        assert counts["orders"] == len(self.stored)


TestSyncOnSQLite = SyncMachine.TestCase
TestSyncOnSQLite.settings = SETTINGS


@pytest.mark.slow  # about two minutes: the same state machine over a real PostgreSQL
def test_stateful_sync_on_postgres(pg_server, pg_template):
    factory = functools.partial(postgres_database, pg_server, pg_template)
    machine = type("PostgresSyncMachine", (SyncMachine,), {"database_factory": staticmethod(factory)})
    run_state_machine_as_test(machine, settings=SETTINGS)
