"""The product catalogue: CSV import and the demo catalogue from the bakery data."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

from sqlalchemy import insert, select

from ..database import run_write
from ..extensions import db
from ..models import Product, StockMovement
from .money import MAX_MONEY, MAX_QUANTITY, NumberError, parse_decimal
from .text import describe_character, hidden_character

CSV_HEADER = ["sku", "name", "price", "stock_quantity"]


class CatalogError(ValueError):
    """A catalogue file that cannot be imported; nothing of it was written."""


@dataclass(frozen=True)
class ProductRow:
    sku: str
    name: str
    price: Decimal
    stock_quantity: Decimal


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int


def read_products_csv(text: str) -> list[ProductRow]:
    """Parse a catalogue CSV (header sku,name,price,stock_quantity); every bad row is reported."""
    reader = csv.DictReader(io.StringIO(text))
    if [field.strip() for field in (reader.fieldnames or [])] != CSV_HEADER:
        raise CatalogError(f"the header must be {','.join(CSV_HEADER)}, got {','.join(reader.fieldnames or [])}")
    rows, errors, seen = [], [], set()
    for line_no, record in enumerate(reader, start=2):
        try:
            sku = (record["sku"] or "").strip()
            name = (record["name"] or "").strip()
            if not sku or len(sku) > 64:
                raise CatalogError("sku must have 1 to 64 characters")
            if (hidden := hidden_character(sku)) is not None:
                raise CatalogError(f"sku contains an invisible, control or direction-changing character: "
                                   f"{describe_character(hidden)}")
            if not name or len(name) > 200:
                raise CatalogError("name must have 1 to 200 characters")
            if sku in seen:
                raise CatalogError(f"sku '{sku}' appears twice in the file")
            seen.add(sku)
            price = parse_decimal(record["price"], places=2, limit=MAX_MONEY)
            if price < 0:
                raise CatalogError("price must not be negative")
            stock = parse_decimal(record["stock_quantity"], places=3, limit=MAX_QUANTITY)
            rows.append(ProductRow(sku, name, price, stock))
        except (CatalogError, NumberError, TypeError) as exc:
            errors.append(f"line {line_no}: {exc}")
    if errors:
        raise CatalogError("; ".join(errors[:20]) + (f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""))
    return rows


def import_products(rows: list[ProductRow], *, update_existing: bool = True) -> ImportSummary:
    """Create new products and update existing ones by sku, in one transaction.

    A changed stock_quantity on an existing product is booked as an
    'adjustment' movement, so stock always equals opening stock plus movements.
    With update_existing=False, products that exist already are left as they are.
    """
    def unit() -> ImportSummary:
        existing = {p.sku: p for p in db.session.scalars(select(Product).where(Product.sku.in_([r.sku for r in rows])))}
        created = updated = 0
        adjustments = []
        for row in rows:
            product = existing.get(row.sku)
            if product is None:
                db.session.add(Product(sku=row.sku, name=row.name, price=row.price,
                                       opening_stock=row.stock_quantity, stock_quantity=row.stock_quantity))
                created += 1
                continue
            if not update_existing:
                continue
            product.name, product.price = row.name, row.price
            delta = row.stock_quantity - product.stock_quantity
            if delta:
                adjustments.append({"product_id": product.id, "quantity_delta": delta, "kind": "adjustment"})
                product.stock_quantity = row.stock_quantity
            updated += 1
        db.session.flush()
        if adjustments:
            db.session.execute(insert(StockMovement), adjustments)
        return ImportSummary(created, updated)

    return run_write(unit)


# Plausible prices for the bakery's items; anything not listed sells at the default.
_BAKERY_PRICES = {
    "Coffee": "2.50", "Bread": "3.20", "Tea": "2.00", "Cake": "3.50", "Pastry": "2.20",
    "Sandwich": "4.50", "Medialuna": "1.80", "Hot chocolate": "2.90", "Cookies": "1.50",
    "Brownie": "2.40", "Farm House": "4.00", "Muffin": "2.30", "Alfajores": "2.10",
    "Juice": "2.60", "Soup": "4.20", "Scone": "2.00", "Toast": "2.50", "Scandinavian": "3.00",
    "Truffles": "1.20", "Coke": "1.80", "Spanish Brunch": "8.50", "Baguette": "2.80",
    "Tiffin": "2.70", "Jam": "3.10", "Mineral water": "1.20", "Fudge": "1.90",
}
DEFAULT_BAKERY_PRICE = "2.50"
BAKERY_OPENING_STOCK = Decimal(500)


def bakery_sku(item: str) -> str:
    """A stable sku for a bakery item name: 'Hot chocolate' becomes 'HOT-CHOCOLATE'."""
    return "-".join(item.upper().replace("'", "").split())[:64]


def bakery_items() -> list[str]:
    """Item names of the real bakery transactions shipped with the package, most sold first."""
    counts: dict[str, int] = {}
    for _date, _time, _tx, item in bakery_transactions():
        counts[item] = counts.get(item, 0) + 1
    return sorted(counts, key=lambda item: (-counts[item], item))


def bakery_transactions():
    """Rows (date, time, transaction number, item) of the bakery data, skipping 'NONE' items."""
    text = resources.files("dashboard.data").joinpath("bakery.csv").read_text()
    for record in csv.reader(io.StringIO(text)):
        if len(record) == 4 and record[3] != "NONE" and record[0] != "Date":
            yield record[0], record[1], record[2], record[3]


def demo_catalog_rows() -> list[ProductRow]:
    """A catalogue row for every item the bakery sold, with a fixed price and opening stock."""
    return [ProductRow(bakery_sku(item), item, Decimal(_BAKERY_PRICES.get(item, DEFAULT_BAKERY_PRICE)),
                       BAKERY_OPENING_STOCK) for item in bakery_items()]


def list_products() -> list[Product]:
    """The catalogue, by sku."""
    return list(db.session.scalars(select(Product).order_by(Product.sku)))
