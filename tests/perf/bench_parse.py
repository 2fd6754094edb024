"""What checking a sale costs: parse_sale with its memory of accepted lines, and with none, side by side.

Not a pytest test: run it as a module,

    .venv/bin/python -m tests.perf.bench_parse [--sales 5000] [--rounds 15]

The sales are bench_sync's (the demo bakery catalogue, 3 lines, a cash payment), as a till's
JSON decodes them. Each round checks every sale once with the line memory
(sales.checked_line: an accepted line's checks, sums and texts from one look-up) and once with a
memory that keeps nothing, so every line is checked as before it existed; the two alternate, so
both see the same machine. The best round of each is printed, with their ratio. No database,
no HTTP: the validation only. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta
from decimal import Decimal

from dashboard.domain.catalog import demo_catalog_rows
from dashboard.domain.sales import Sale, parse_sale
from tests.perf.bench_sync import SaleMaker
from tests.support.line_memory import no_line_memory


def _round(raws: list[dict], now) -> float:
    started = time.perf_counter()
    for raw in raws:
        parse_sale(raw, max_lines=200, now=now)
    return (time.perf_counter() - started) / len(raws)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    products = [(row.sku, row.price.quantize(Decimal("0.01"))) for row in demo_catalog_rows()]
    maker = SaleMaker(products, seed=1)
    raws = [json.loads(json.dumps(maker.sale("B01"))) for _ in range(args.sales)]
    now = maker.now + timedelta(hours=1)
    assert all(isinstance(parse_sale(raw, max_lines=200, now=now), Sale) for raw in raws)
    best = {"with the line memory": float("inf"), "checking every line": float("inf")}
    for _ in range(args.rounds):
        best["with the line memory"] = min(best["with the line memory"], _round(raws, now))
        with no_line_memory():
            best["checking every line"] = min(best["checking every line"], _round(raws, now))
    print(f"parse_sale, {args.sales:,} sales of 3 lines, best of {args.rounds} alternating rounds:")
    for label, seconds in best.items():
        print(f"  {label:<22} {seconds * 1e6:6.1f} us a sale")
    ratio = best["with the line memory"] / best["checking every line"]
    print(f"  ratio                  {ratio:6.2f}")


if __name__ == "__main__":
    main()
