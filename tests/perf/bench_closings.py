"""Daily-close figures: answering a close, and the dashboard's grid and day page, with a busy fleet.

Not a pytest test: run it as a module,

    .venv/bin/python -m tests.perf.bench_closings [--backend sqlite|postgres|both] [--tills 20] [--days 14] [--sales 60]

For each backend it builds a migrated database with the demo catalogue, registers
the tills, stores `--sales` sales a till a day over `--days` days through
POST /api/v1/sync (in-process), leaves a tenth of each day's sales unsent, and has
every till close every day with its offline_ids. Then it prints the median time
of: a close answered (POST /api/v1/closings, a replay, recomputed), the grid of
every day for one page of tills, and one day's page for all of them. The figures
are printed; nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from datetime import time as clock
from decimal import Decimal
from pathlib import Path

from tests.conftest import make_app
from tests.perf.bench_sync import PostgresBackend, SqliteBackend
from tests.support.sales import bearer, make_sale
from tests.support.services import RedisServer

PASSWORD = "benchmark password"
LINES = [{"sku": "COFFEE", "quantity": "1", "unit_price": "2.50"}]


def median_ms(call, repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def run(url: str, redis_url: str, workdir: Path, tills: int, days: int, sales: int) -> dict:
    from dashboard.domain.catalog import ProductRow, import_products
    from dashboard.domain.devices import add_device
    from dashboard.domain.users import create_user
    from dashboard.extensions import db

    app = make_app(url, redis_url, Path(tempfile.mkdtemp(dir=workdir)), WTF_CSRF_ENABLED=False)
    with app.app_context():
        import_products([ProductRow("COFFEE", "Coffee", Decimal("2.50"), Decimal(10**6))])
        create_user("admin@bench.example", PASSWORD, "admin")
        tokens = [add_device(f"B{n:02d}") for n in range(1, tills + 1)]
        client = app.test_client()
        last = datetime.now(timezone.utc).date() - timedelta(days=1)
        closes = []
        started = time.perf_counter()
        for index, token in enumerate(tokens):
            for back in range(days):
                day = last - timedelta(days=back)
                made = [
                    make_sale(
                        prefix=f"B{index + 1:02d}",
                        lines=LINES,
                        created_at=datetime.combine(day, clock(8, 0), tzinfo=timezone.utc)
                        .replace(minute=n % 60, hour=8 + n // 60)
                        .isoformat(),
                    )
                    for n in range(sales)
                ]
                sent = made[: sales - sales // 10]
                assert client.post("/api/v1/sync", json={"orders": sent}, headers=bearer(token)).status_code == 200
                close = {
                    "business_day": day.isoformat(),
                    "sales_count": len(made),
                    "sales_total": str(sum(Decimal(s["total"]) for s in made)),
                    "offline_ids": [s["offline_id"] for s in made],
                }
                assert client.post("/api/v1/closings", json=close, headers=bearer(token)).status_code == 200
                closes.append((token, close))
        seeded = time.perf_counter() - started
        token, close = closes[len(closes) // 2]
        figures = {
            "sales stored": tills * days * (sales - sales // 10),
            "closes": len(closes),
            "seeding s": round(seeded, 1),
            "POST /api/v1/closings (replay, recomputed) ms": median_ms(
                lambda: client.post("/api/v1/closings", json=close, headers=bearer(token))
            ),
        }
        assert client.post("/login", data={"email": "admin@bench.example", "password": PASSWORD}).status_code in (
            302,
            303,
        )
        first = (last - timedelta(days=days - 1)).isoformat()
        for name, path in (
            (f"grid, {days} days x {tills} tills ms", f"/closings?from={first}&to={last.isoformat()}"),
            (f"day page, {tills} tills ms", f"/closings/{last.isoformat()}"),
        ):
            assert client.get(path).status_code == 200
            figures[name] = median_ms(lambda path=path: client.get(path))
        db.session.remove()
        db.engine.dispose()
    return {key: round(value, 1) if isinstance(value, float) else value for key, value in figures.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--tills", type=int, default=20)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--sales", type=int, default=60)
    args = parser.parse_args()
    redis = RedisServer()
    with tempfile.TemporaryDirectory(prefix="bench-closings-") as folder:
        workdir = Path(folder)
        backends = []
        try:
            if args.backend in ("sqlite", "both"):
                backends.append(SqliteBackend(workdir))
            if args.backend in ("postgres", "both"):
                backends.append(PostgresBackend(workdir))
            for backend in backends:
                figures = run(backend.create("closings"), redis.url, workdir, args.tills, args.days, args.sales)
                print(f"{backend.version()}: {figures}", flush=True)
        finally:
            for backend in backends:
                backend.close()
            redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
