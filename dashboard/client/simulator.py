"""The fleet simulator: several tills selling the bakery's real baskets and syncing through faults.

Each till is a real Till (its own outbox file, its own thread) talking HTTP to
the server, with faults (see faults.py) injected between the till and the network:

- drop: answers are lost after the server got the request; the till retries.
- replay: batches are also sent twice at once from two threads, then once more.
- crash: the till dies mid-upload and a new Till restarts from the same outbox file.
- outage: the till is offline for the first two thirds of its sales, then uploads the backlog.
- (every till) closes each business day it sold on, as a real till prints its Z-report: the close is
  recorded in the outbox when the first sale of the next day is made, and the last day's when selling
  ends, and is sent with the next sync, often while some of that day's sales are still in the outbox.
- (a fleet across stores) each till sells in its store's currency decimals and closes its days in its
  store's time zone; the report adds each store's figures.
- legacy-ids: the last till behaves like the old buggy clients: it loses answers and
  resends with a new offline_id (half the sales with their receipt number, half with a new
  one), same time and basket, so the server stores those sales twice; the duplicate scan
  finds each as a certain resent_with_new_id group.

The server is only reached over HTTP, so this runs against any deployment;
registering the tills is the CLI's job (it needs the app context).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..domain.catalog import bakery_sku, bakery_transactions
from .faults import FAULTS, FaultPlan, FaultyTransport, FleetStats, LegacyTill, SimulatedCrash, closed_port_url
from .outbox import FLAGGED, PENDING, SYNCED
from .till import Till
from .transport import HttpTransport

CASHIERS = ("Amal", "Ben", "Chloe", "Dara")
OUTAGE_SHARE = 2 / 3


@dataclass(frozen=True)
class SimTill:
    """A registered till: its device name (also its receipt prefix) and token, and its store's money and days."""

    name: str
    token: str
    money_places: int = 2  # decimals of its store's currency
    store: str = ""  # its store's code, to report per store ("" when the caller did not say)
    zone: str | None = None  # its store's time zone, in which it closes its days (None: the fleet's zone)


# Seconds between two sales of one till (uniform between the two).
SALE_GAP_SECONDS = (150.0, 480.0)


@lru_cache(maxsize=1)
def bakery_baskets() -> tuple[tuple[tuple[str, int], ...], ...]:
    """The bakery's transactions as baskets of (item, quantity); an item twice in a transaction is quantity 2."""
    grouped: dict[str, Counter] = {}
    for _date, _time, number, item in bakery_transactions():
        grouped.setdefault(number, Counter())[item] += 1
    return tuple(tuple(basket.items()) for basket in grouped.values())


@dataclass
class TillResult:
    """How one till's run ended."""

    name: str
    outbox: str
    legacy: bool
    store: str = ""
    sales_made: int = 0
    acknowledged: int = 0
    pending: int = 0
    flagged: int = 0
    recovered: int = 0
    error: str | None = None
    last_sync_error: str | None = None
    # The business days this till closed, in order, and its closes the server has not answered yet.
    closed_days: list[str] = field(default_factory=list)
    closings_pending: int = 0
    # Every offline_id each sale of this run was sent with (several only for the legacy till).
    identities: dict[int, list[str]] = field(default_factory=dict)


class _TillRun:
    """One till's day: sell in chunks, sync after each chunk, survive its faults, drain the outbox."""

    def __init__(
        self,
        sim: SimTill,
        index: int,
        *,
        url: str,
        sales: int,
        seed: int,
        faults: set[str],
        legacy: bool,
        outbox_dir: Path,
        stats: FleetStats,
        batch_size: int,
        deadline: float,
        offline_url: str,
        zone: str = "UTC",
    ):
        self.sim, self.url, self.sales, self.faults, self.legacy = sim, url, sales, faults, legacy
        self.stats, self.batch_size, self.deadline = stats, batch_size, deadline
        self.rng = random.Random(f"{seed}:{index}")
        self.plan = FaultPlan(faults, random.Random(f"{seed}:{index}:faults"), legacy)
        self.offline = HttpTransport(offline_url, sim.token, timeout=2)
        self.result = TillResult(sim.name, str(outbox_dir / f"{sim.name}.db"), legacy, sim.store)
        self.start = (seed * 7919 + index * max(1, sales)) % len(bakery_baskets())
        # Sales are spread over the past hours a few minutes apart, as at a real counter, so the
        # duplicate scan's "same basket again within two minutes" finds the buggy till's copies
        # rather than every customer who bought the same coffee as the last one.
        self.clock = datetime.now(timezone.utc) - timedelta(seconds=SALE_GAP_SECONDS[1] * max(1, sales))
        self.till: Till | None = None
        # A fleet may span stores: each till closes its days where its store is, as the server reads them.
        self.zone = sim.zone or zone
        self.open_day: date | None = None

    def _open_till(self) -> Till:
        transport = FaultyTransport(
            HttpTransport(self.url, self.sim.token, timeout=10), self.offline, self.plan, self.stats
        )
        options: dict[str, Any] = dict(
            batch_size=self.batch_size,
            max_attempts=5,
            backoff=0.01,
            max_backoff=0.2,
            transport=transport,
            rng=random.Random(self.rng.random()),
            zone=self.zone,
            money_places=self.sim.money_places,  # the legacy till too sells in its store's currency
        )
        if self.legacy:
            return LegacyTill(
                self.result.outbox, self.url, self.sim.token, self.sim.name, on_renumber=self._renumbered, **options
            )
        return Till(self.result.outbox, self.url, self.sim.token, self.sim.name, **options)

    def _renumbered(self, seq: int, offline_id: str) -> None:
        self.stats.fault("legacy-ids")
        self.result.identities.setdefault(seq, []).append(offline_id)

    def run(self) -> None:
        try:
            self.till = self._open_till()
            prices = {p["sku"]: self._local_price(p["price"]) for p in self.till.products()}
            if not prices:
                raise RuntimeError("the server has no products: load the demo catalogue (flask demo catalog)")
            chunk = max(1, math.ceil(self.sales / 5))
            outage_ends = math.ceil(self.sales * OUTAGE_SHARE)
            baskets = self._baskets(prices)
            while self.result.sales_made < self.sales:
                for _ in range(min(chunk, self.sales - self.result.sales_made)):
                    self._sell(next(baskets))
                if not self.plan.online and self.result.sales_made >= outage_ends:
                    self.plan.online = True
                self._sync_once()
            self._close_day()
            self.plan.online = True
            while time.monotonic() < self.deadline and self._sync_once():
                pass
        except Exception as exc:  # noqa: BLE001 - one till's failure is reported, the fleet goes on
            self.result.error = f"{type(exc).__name__}: {exc}"
        finally:
            if self.till:
                self._tally()
                self.till.close()

    def _local_price(self, price: str) -> str:
        """The catalogue's price (chain-wide, usually in cents) as this till charges it. A till of a store
        whose currency has more decimals (KWD, JOD) charges a third of it, to its own minor unit, so that
        amounts to the fils go through its sales, the server's totals and its closes."""
        if self.sim.money_places <= 2:
            return price
        return str((Decimal(price) / 3).quantize(Decimal(1).scaleb(-self.sim.money_places)))

    def _baskets(self, prices: dict):
        """Baskets from this till's place in the bakery data onwards, only with items the server sells."""
        all_baskets = bakery_baskets()
        position = self.start
        while True:
            basket = [(bakery_sku(item), quantity) for item, quantity in all_baskets[position % len(all_baskets)]]
            position += 1
            lines = [
                {"sku": sku, "quantity": quantity, "unit_price": prices[sku]}
                for sku, quantity in basket
                if sku in prices
            ]
            if lines:
                yield lines

    def _sell(self, lines: list[dict]) -> None:
        total = sum((Decimal(line["unit_price"]) * line["quantity"] for line in lines), Decimal(0))
        method = "card" if self.rng.random() < 0.4 else "cash"
        self.clock += timedelta(seconds=self.rng.uniform(*SALE_GAP_SECONDS))
        sold_at = min(self.clock, datetime.now(timezone.utc))
        if self.open_day is not None and sold_at.astimezone(ZoneInfo(self.zone)).date() != self.open_day:
            self._close_day()
        self.open_day = sold_at.astimezone(ZoneInfo(self.zone)).date()
        offline_id = self.till.record_sale(
            lines,
            cashier=self.rng.choice(CASHIERS),
            payments=[{"method": method, "amount": str(total)}],
            created_at=sold_at,
        )
        self.result.identities[self.till.sale(offline_id).seq] = [offline_id]
        self.result.sales_made += 1

    def _close_day(self) -> None:
        """The end of the open business day: the till records its close (sent by the next sync)."""
        if self.open_day is not None:
            self.till.close_day(self.open_day)
            self.result.closed_days.append(self.open_day.isoformat())

    def _sync_once(self) -> bool:
        """One Till.sync(); a simulated crash replaces the Till by a new one on the same outbox.
        True while the outbox still holds sales that another sync could send."""
        try:
            report = self.till.sync()
        except SimulatedCrash:
            self.till.close()
            self.till = self._open_till()
            return True
        self.result.recovered += report.recovered
        self.result.last_sync_error = report.error
        return (report.pending > 0 or report.closings_pending > 0) and not report.needs_attention

    def _tally(self) -> None:
        made = set(self.result.identities)
        states = Counter(sale.state for sale in self.till.outbox.sales() if sale.seq in made)
        self.result.acknowledged = states[SYNCED]
        self.result.pending = states[PENDING]
        self.result.flagged = states[FLAGGED]
        self.result.closings_pending = len(self.till.outbox.pending_closings())
        if self.result.error is None and (self.result.pending or self.result.closings_pending):
            self.result.error = self.result.last_sync_error or "the run ended before the outbox was drained"


@dataclass
class FleetReport:
    """The outcome of a simulation run; as_dict() is what `flask pos simulate --format json` prints."""

    url: str
    seed: int
    faults: list[str]
    outbox_dir: str
    tills: list[TillResult]
    statuses: dict
    faults_injected: dict
    replay_mismatches: list[str]
    receipt_number_collisions: int
    elapsed_seconds: float
    duplicates_made: int | None = None
    extra_copies: int | None = None
    lost_sales: int | None = None

    @property
    def drained(self) -> bool:
        return all(till.pending == 0 and till.closings_pending == 0 and till.error is None for till in self.tills)

    def as_dict(self) -> dict:
        recovered = sum(till.recovered for till in self.tills)
        report = {
            "url": self.url,
            "seed": self.seed,
            "faults": self.faults,
            "tills": len(self.tills),
            "sales_made": sum(till.sales_made for till in self.tills),
            "acknowledged": sum(till.acknowledged for till in self.tills),
            "pending": sum(till.pending for till in self.tills),
            "flagged": sum(till.flagged for till in self.tills),
            "statuses": {**self.statuses, "recovered": recovered},
            "faults_injected": self.faults_injected,
            "receipt_number_collisions": self.receipt_number_collisions,
            "replay_mismatches": len(self.replay_mismatches),
            "drained": self.drained,
            "elapsed_seconds": round(self.elapsed_seconds, 2),
            "outbox_dir": self.outbox_dir,
            "per_till": [
                {
                    "name": t.name,
                    "outbox": t.outbox,
                    "legacy": t.legacy,
                    "store": t.store,
                    "sales_made": t.sales_made,
                    "acknowledged": t.acknowledged,
                    "pending": t.pending,
                    "flagged": t.flagged,
                    "closed_days": t.closed_days,
                    "closings_pending": t.closings_pending,
                    "error": t.error,
                }
                for t in self.tills
            ],
            "per_store": per_store(self.tills),
        }
        if self.duplicates_made is not None:
            report.update(
                duplicates_made=self.duplicates_made, extra_copies=self.extra_copies, lost_sales=self.lost_sales
            )
        return report


# What per_store() counts for each store.
_STORE_FIGURES = (
    "tills",
    "sales_made",
    "acknowledged",
    "pending",
    "flagged",
    "days_closed",
    "closings_pending",
    "errors",
)


def per_store(tills: list[TillResult]) -> list[dict]:
    """The run's figures for each store its tills sell in, in the order the stores first appear."""
    stores: dict[str, dict] = {}
    for till in tills:
        row = stores.setdefault(till.store, dict.fromkeys(_STORE_FIGURES, 0))
        row["tills"] += 1
        for key in ("sales_made", "acknowledged", "pending", "flagged", "closings_pending"):
            row[key] += getattr(till, key)
        row["days_closed"] += len(set(till.closed_days))
        row["errors"] += till.error is not None
    return [{"store": code, **row} for code, row in stores.items()]


def parse_faults(text: str) -> list[str]:
    """'drop,replay' -> ['drop', 'replay']; raises ValueError naming an unknown fault."""
    faults = [part.strip() for part in (text or "").split(",") if part.strip()]
    unknown = [fault for fault in faults if fault not in FAULTS]
    if unknown:
        raise ValueError(f"unknown fault(s) {', '.join(unknown)}; choose from {', '.join(FAULTS)}")
    return list(dict.fromkeys(faults))


def simulate(
    url: str,
    tills: list[SimTill],
    *,
    sales: int,
    seed: int,
    faults: list[str],
    outbox_dir: Path,
    batch_size: int = 50,
    timeout: float = 300.0,
    zone: str = "UTC",
) -> FleetReport:
    """Run the fleet until every outbox is drained (or timeout seconds passed) and report.
    zone: the time zone in which tills without one of their own (SimTill.zone) close their business days."""
    started = time.monotonic()
    outbox_dir = Path(outbox_dir)
    outbox_dir.mkdir(parents=True, exist_ok=True)
    stats = FleetStats()
    offline_url = closed_port_url()
    runs = [
        _TillRun(
            sim,
            index,
            url=url,
            sales=sales,
            seed=seed,
            faults=set(faults),
            legacy="legacy-ids" in faults and index == len(tills) - 1,
            outbox_dir=outbox_dir,
            stats=stats,
            batch_size=batch_size,
            deadline=started + timeout,
            offline_url=offline_url,
            zone=zone,
        )
        for index, sim in enumerate(tills)
    ]
    threads = [threading.Thread(target=run.run, name=f"till-{run.sim.name}") for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = FleetReport(
        url=url,
        seed=seed,
        faults=list(faults),
        outbox_dir=str(outbox_dir),
        tills=[run.result for run in runs],
        statuses=dict(stats.statuses),
        faults_injected=dict(stats.faults),
        replay_mismatches=stats.mismatches(),
        receipt_number_collisions=stats.collisions,
        elapsed_seconds=0.0,
    )
    legacy = [run for run in runs if run.legacy]
    if legacy:
        report.duplicates_made, report.extra_copies, report.lost_sales = _count_copies(legacy[0], url)
    report.elapsed_seconds = time.monotonic() - started
    return report


def _count_copies(run: _TillRun, url: str) -> tuple[int, int, int]:
    """(sales stored more than once, extra stored copies, sales not stored) of the legacy till,
    asked of the server by every offline_id each sale was ever sent with."""
    identities = run.result.identities
    every_id = [offline_id for ids in identities.values() for offline_id in ids]
    answers = HttpTransport(url, run.sim.token).sync_status(every_id)
    stored = {answer["offline_id"] for answer in answers if answer.get("status") == "synced"}
    copies = [sum(offline_id in stored for offline_id in ids) for ids in identities.values()]
    return (sum(1 for n in copies if n > 1), sum(n - 1 for n in copies if n > 1), sum(1 for n in copies if n == 0))
