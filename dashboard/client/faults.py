"""The faults the fleet simulator injects between a till and the network, and the legacy till's bug.

- drop: the server gets the request and answers, the till never sees the answer (it retries).
- replay: the same batch is sent twice at once from two threads, then once more.
- crash: the till dies mid-upload (before or after the request went out).
- outage: the till is offline: every request is refused by a closed port.
- legacy-ids: LegacyTill resends a failed batch under new offline_ids, some sales with their
  receipt number, others with a new one (the two ways old clients got it wrong).

Each fault a till is given hits its first chance for sure and later ones at random,
from the till's own seeded generator, so a run can be repeated.
"""

from __future__ import annotations

import random
import socket
import threading
from collections import Counter, defaultdict

from .till import Till
from .transport import HttpTransport, TransientError

FAULTS = ("drop", "replay", "crash", "outage", "legacy-ids")
# Chance of each fault on an upload once it has happened a first time.
DROP_RATE, REPLAY_RATE, CRASH_RATE = 0.3, 0.3, 0.25
MAX_CRASHES = 4


class SimulatedCrash(BaseException):
    """The till process died here. BaseException, so no code in the Till can catch it and tidy up."""


def closed_port_url() -> str:
    """A loopback URL where nothing listens: connecting to it is refused, as when the till is offline."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FleetStats:
    """What every till saw, shared between the till threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.faults = Counter({fault: 0 for fault in FAULTS})
        self.statuses = Counter({status: 0 for status in ("created", "duplicate", "conflict", "rejected")})
        self.collisions = 0
        self.answers: dict[str, set] = defaultdict(set)
        self.created: Counter = Counter()

    def fault(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] += 1

    def sync_answer(self, answer: dict) -> None:
        """Count every per-sale result the server sent, and remember what it said each sale is stored as."""
        with self.lock:
            for result in answer.get("results", []):
                status = result.get("status")
                self.statuses[status] += 1
                if result.get("reason") == "receipt_number_collision":
                    self.collisions += 1
                if status in ("created", "duplicate"):
                    self.answers[result["offline_id"]].add((result.get("order_id"), result.get("invoice_number")))
                if status == "created":
                    self.created[result["offline_id"]] += 1

    def status_answer(self, results: list[dict]) -> None:
        with self.lock:
            for result in results:
                if result.get("status") == "synced":
                    self.answers[result["offline_id"]].add((result.get("order_id"), result.get("invoice_number")))

    def mismatches(self) -> list[str]:
        """offline_ids answered as two different stored sales, or created twice (contract invariants 1 and 6)."""
        with self.lock:
            return sorted(
                {oid for oid, seen in self.answers.items() if len(seen) > 1}
                | {oid for oid, count in self.created.items() if count > 1}
            )


class FaultPlan:
    """Which faults hit which upload of one till, drawn from the till's own seeded random generator.
    Each fault the till is given hits its first chance for sure, and later ones at random."""

    def __init__(self, faults: set[str], rng: random.Random, legacy: bool):
        self.faults, self.rng = set(faults), rng
        if legacy:
            self.faults.add("drop")  # the legacy bug only shows when an answer is lost and the till retries
        self.online = "outage" not in faults
        self.injected: Counter = Counter()
        self.closings_answered = 0

    def _hits(self, fault: str, rate: float) -> bool:
        hit = fault in self.faults and (self.injected[fault] == 0 or self.rng.random() < rate)
        if hit:
            self.injected[fault] += 1
        return hit

    def drop_closing(self) -> bool:
        """Whether to lose the answer to this close: the first and every third, for a till that loses
        answers. Counted, not drawn, so adding closes left the seeded runs' sale faults as they were."""
        self.closings_answered += 1
        return "drop" in self.faults and self.closings_answered % 3 == 1

    def next_upload(self) -> tuple[str | None, bool, bool]:
        """(crash point 'before'/'after'/None, replay?, drop the answer?) for the next upload."""
        crash = None
        if self.injected["crash"] < MAX_CRASHES and self._hits("crash", CRASH_RATE):
            crash = "before" if self.rng.random() < 1 / 3 else "after"
            if crash == "before":
                return crash, False, False
        replay = self._hits("replay", REPLAY_RATE)
        drop = crash is None and self._hits("drop", DROP_RATE)
        return crash, replay, drop


class FaultyTransport:
    """An HttpTransport with this till's faults injected; answers are also reported to the fleet stats."""

    def __init__(self, inner: HttpTransport, offline: HttpTransport, plan: FaultPlan, stats: FleetStats):
        self.inner, self.offline, self.plan, self.stats = inner, offline, plan, stats

    def post_sync(self, body: bytes) -> dict:
        if not self.plan.online:
            self.stats.fault("outage")
            return self.offline.post_sync(body)
        crash, replay, drop = self.plan.next_upload()
        if crash == "before":
            self.stats.fault("crash")
            raise SimulatedCrash("the till died after marking the upload, before sending it")
        answer = self._send_replayed(body) if replay else self._send(body)
        if crash == "after":
            self.stats.fault("crash")
            raise SimulatedCrash("the till died after the server received the upload, before the answer")
        if drop:
            self.stats.fault("drop")
            raise TransientError("simulated: the answer was lost on the way back")
        return answer

    def sync_status(self, offline_ids: list[str]) -> list[dict]:
        if not self.plan.online:
            self.stats.fault("outage")
            return self.offline.sync_status(offline_ids)
        results = self.inner.sync_status(offline_ids)
        self.stats.status_answer(results)
        return results

    def post_closing(self, body: bytes) -> dict:
        """A close goes through the same network as the sales: offline in an outage, its answer sometimes lost."""
        if not self.plan.online:
            self.stats.fault("outage")
            return self.offline.post_closing(body)
        answer = self.inner.post_closing(body)
        if self.plan.drop_closing():
            self.stats.fault("drop")
            raise TransientError("simulated: the closing's answer was lost on the way back")
        return answer

    def products(self) -> list[dict]:
        return self.inner.products()

    def _send(self, body: bytes) -> dict:
        answer = self.inner.post_sync(body)
        self.stats.sync_answer(answer)
        return answer

    def _send_replayed(self, body: bytes) -> dict:
        """Send the batch from two threads at once, then once more; the till gets the first answer."""
        self.stats.fault("replay")
        outcomes: list = [None, None]

        def send(slot: int) -> None:
            try:
                outcomes[slot] = self._send(body)
            except TransientError as exc:
                outcomes[slot] = exc

        threads = [threading.Thread(target=send, args=(slot,)) for slot in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            outcomes.append(self._send(body))
        except TransientError as exc:
            outcomes.append(exc)
        for outcome in outcomes:
            if isinstance(outcome, dict):
                return outcome
        raise outcomes[0]


class LegacyTill(Till):
    """The old clients' bug, on purpose: every retried sale gets a new offline_id. Sales with an odd
    seq keep their receipt number (the server stores the copy renumbered), the others take a new one,
    so a run shows both forms; either way the copy keeps the sale's time and basket."""

    def __init__(self, *args, on_renumber, **kwargs):
        super().__init__(*args, **kwargs)
        self._on_renumber = on_renumber

    def _before_resend(self, batch) -> None:
        for sale in batch:
            renumbered = self.outbox.renumber(sale.seq, self.prefix, new_receipt=sale.seq % 2 == 0)
            self._on_renumber(sale.seq, renumbered.offline_id)
