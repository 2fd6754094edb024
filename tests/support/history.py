"""Clients of a real server, and the history of every answer they got, checked against the database."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from decimal import Decimal

import requests
from sqlalchemy import create_engine, text

from .sales import CATALOG, bearer, make_sale

SYNC_PATH = "/api/v1/sync"
ACKNOWLEDGED = ("created", "duplicate")
RETRY_STATUSES = (500, 502, 503, 504)


def varied_sale(rng: random.Random, prefix: str, **overrides) -> dict:
    """A valid sale of 1 to 4 lines over the catalogue, in a random order, with small quantities."""
    skus = rng.sample(sorted(CATALOG), rng.randint(1, len(CATALOG)))
    lines = [{"sku": sku, "quantity": str(rng.randint(1, 3)), "unit_price": CATALOG[sku][1]} for sku in skus]
    return make_sale(prefix=prefix, lines=lines, **overrides)


def expected_stock(sales) -> dict[str, Decimal]:
    """Each product's stock once every sale in `sales` is stored exactly once."""
    stock = {sku: Decimal(opening) for sku, (_name, _price, opening) in CATALOG.items()}
    for sale in sales:
        for line in sale["lines"]:
            stock[line["sku"]] -= Decimal(str(line["quantity"]))
    return stock


def stored_stock(database_url: str) -> dict[str, Decimal]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {
                sku: Decimal(str(qty)) for sku, qty in conn.execute(text("SELECT sku, stock_quantity FROM products"))
            }
    finally:
        engine.dispose()


def query(database_url: str, sql: str, **params) -> list:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


class History:
    """Every 200 answer the clients received, per sale, plus counts of the failed attempts. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.results: dict[str, list[dict]] = defaultdict(list)
        self.errors: Counter = Counter()
        self.answered = 0

    def record(self, orders: list[dict], body: dict) -> None:
        results = body["results"]
        # One result per sale, in request order.
        assert [r["offline_id"] for r in results] == [o["offline_id"] for o in orders], body
        assert body["received"] == len(orders)
        with self._lock:
            self.answered += 1
            for result in results:
                self.results[result["offline_id"]].append(result)

    def error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] += 1

    def statuses(self, offline_id: str) -> list[str]:
        return [r["status"] for r in self.results[offline_id]]

    def check_against(
        self, stored: dict[str, tuple[int, str]], sales: list[dict], *, exactly_one_created: bool
    ) -> None:
        """Every answer is created/duplicate for a stored sale, with the stored ids (invariants 1 and 6).

        A sale is created at most once; with `exactly_one_created` (no answer could be lost) exactly once.
        """
        for sale in sales:
            offline_id = sale["offline_id"]
            answers = self.results[offline_id]
            assert answers, f"sale {offline_id} never got an answer"
            statuses = Counter(r["status"] for r in answers)
            assert set(statuses) <= set(ACKNOWLEDGED), f"{offline_id}: unexpected answers {answers}"
            if exactly_one_created:
                assert statuses["created"] == 1, f"{offline_id}: {statuses['created']} 'created' answers: {answers}"
            else:
                assert statuses["created"] <= 1, f"{offline_id}: created more than once: {answers}"
            ids = {(r["order_id"], r["invoice_number"]) for r in answers}
            assert len(ids) == 1, f"{offline_id}: answers disagree on order_id/invoice_number: {ids}"
            assert offline_id in stored, f"sale {offline_id} was acknowledged but is not stored"
            assert ids == {stored[offline_id]}, f"{offline_id}: answered {ids}, stored {stored[offline_id]}"


def encode_batch(orders: list[dict]) -> bytes:
    return json.dumps({"batch_id": str(uuid.uuid4()), "orders": orders}).encode()


def post_batch(
    session: requests.Session,
    url: str,
    token: str,
    orders: list[dict],
    *,
    timeout: float | tuple = 60,
    body: bytes | None = None,
) -> requests.Response:
    """POST the batch; `body` is its encoding made beforehand (so that racing clients start in step)."""
    return session.post(
        url + SYNC_PATH,
        data=body if body is not None else encode_batch(orders),
        headers={**bearer(token), "Content-Type": "application/json"},
        timeout=timeout,
    )


def send_until_answered(
    session: requests.Session,
    url: str,
    token: str,
    orders: list[dict],
    history: History,
    *,
    deadline: float,
    pause: float = 0.05,
) -> dict:
    """What a till does: send the batch again after a lost connection or a 5xx, until a 200 comes back.

    Anything but 200/5xx/connection failure is a test failure; so is no answer by `deadline` (monotonic).
    """
    while True:
        try:
            response = post_batch(session, url, token, orders)
        except requests.RequestException as exc:
            history.error(type(exc).__name__)
        else:
            if response.status_code == 200:
                body = response.json()
                history.record(orders, body)
                return body
            assert response.status_code in RETRY_STATUSES, f"unexpected {response.status_code}: {response.text[:500]}"
            history.error(f"http_{response.status_code}")
        assert time.monotonic() < deadline, f"no answer before the deadline; failures so far: {history.errors}"
        time.sleep(pause)
