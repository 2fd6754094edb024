"""What one sync request answers: a result per sale, in request order, and counts."""

from __future__ import annotations

from dataclasses import dataclass, field

CREATED, DUPLICATE, CONFLICT, REJECTED = "created", "duplicate", "conflict", "rejected"


@dataclass
class SaleResult:
    """The outcome for one sale of a batch."""

    offline_id: str | None
    status: str
    order_id: int | None = None
    invoice_number: str | None = None
    reason: str | None = None
    message: str | None = None

    def as_json(self) -> dict:
        answer: dict = {"offline_id": self.offline_id, "status": self.status}
        if self.order_id is not None:
            answer["order_id"] = self.order_id
            answer["invoice_number"] = self.invoice_number
        if self.reason:
            answer["reason"] = self.reason
        if self.message:
            answer["message"] = self.message
        return answer


@dataclass
class SyncOutcome:
    """Everything a sync request answers with."""

    sync_id: int
    results: list[SaleResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        statuses = [result.status for result in self.results]
        return {
            "received": len(statuses),
            "created": statuses.count(CREATED),
            "duplicates": statuses.count(DUPLICATE),
            "conflicts": statuses.count(CONFLICT),
            "rejected": statuses.count(REJECTED),
        }

    def as_json(self) -> dict:
        return {"sync_id": self.sync_id, **self.counts(), "results": [result.as_json() for result in self.results]}
