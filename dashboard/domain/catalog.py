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
from ..models import Product, StockLevel, StockMovement, Store
from .money import MAX_MONEY, MAX_MONEY_PLACES, MAX_QUANTITY, NumberError, parse_decimal
from .stock_ledger import move_stock
from .stores import StoreError, default_store_id, find_store
from .text import describe_character, hidden_character

CSV_HEADER = ["sku", "name", "price", "stock_quantity"]
# Optional last column: the code of the store whose stock the row sets (empty: the default store).
STORE_COLUMN = "store"


class CatalogError(ValueError):
    """A catalogue file that cannot be imported; nothing of it was written."""


@dataclass(frozen=True)
class ProductRow:
    sku: str
    name: str
    price: Decimal
    stock_quantity: Decimal
    store: str | None = None  # a store code; None is the default store


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int


def read_products_csv(text: str) -> list[ProductRow]:
    """Parse a catalogue CSV (header sku,name,price,stock_quantity[,store]); every bad row is reported.

    The catalogue is the chain's: a sku listed for several stores (one row each) must have
    the same name and price on each row; its stock_quantity is that store's.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = [field.strip() for field in (reader.fieldnames or [])]
    if header not in (CSV_HEADER, CSV_HEADER + [STORE_COLUMN]):
        raise CatalogError(
            f"the header must be {','.join(CSV_HEADER)} (and optionally ,{STORE_COLUMN}), "
            f"got {','.join(reader.fieldnames or [])}"
        )
    reader.fieldnames = header
    rows, errors, seen = [], [], set()
    catalogue: dict[str, tuple[str, Decimal]] = {}
    for line_no, record in enumerate(reader, start=2):
        try:
            sku = (record["sku"] or "").strip()
            name = (record["name"] or "").strip()
            store = (record.get(STORE_COLUMN) or "").strip().upper() or None
            if not sku or len(sku) > 64:
                raise CatalogError("sku must have 1 to 64 characters")
            if (hidden := hidden_character(sku)) is not None:
                raise CatalogError(
                    f"sku contains an invisible, control or direction-changing character: {describe_character(hidden)}"
                )
            if not name or len(name) > 200:
                raise CatalogError("name must have 1 to 200 characters")
            if (sku, store) in seen:
                raise CatalogError(f"sku '{sku}' appears twice in the file" + (f" for store {store}" if store else ""))
            seen.add((sku, store))
            price = parse_decimal(record["price"], places=MAX_MONEY_PLACES, limit=MAX_MONEY)
            if price < 0:
                raise CatalogError("price must not be negative")
            if catalogue.setdefault(sku, (name, price)) != (name, price):
                raise CatalogError(
                    f"sku '{sku}' has another name or price on an earlier line (the catalogue "
                    "is the chain's: one name and price a sku)"
                )
            stock = parse_decimal(record["stock_quantity"], places=3, limit=MAX_QUANTITY)
            rows.append(ProductRow(sku, name, price, stock, store))
        except (CatalogError, NumberError, TypeError) as exc:
            errors.append(f"line {line_no}: {exc}")
    if errors:
        raise CatalogError("; ".join(errors[:20]) + (f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""))
    return rows


def import_products(rows: list[ProductRow], *, update_existing: bool = True) -> ImportSummary:
    """Create new products and update existing ones by sku, and set each row's store's stock, in one transaction.

    A new product opens with the row's stock in the row's store. A changed stock of an
    existing product is booked as an 'adjustment' movement of that store, so every store's
    stock always equals its opening stock plus its movements. With update_existing=False,
    products that exist already are left as they are.
    """

    def unit() -> ImportSummary:
        stores = {code: _store_id(code) for code in {row.store for row in rows}}
        default = stores.get(None) or _store_id(None)
        existing = {p.sku: p for p in db.session.scalars(select(Product).where(Product.sku.in_([r.sku for r in rows])))}
        created, updated = set(), set()
        new_levels: dict[tuple[int, int], Decimal] = {}
        for row in rows:
            product = existing.get(row.sku)
            if product is None:
                product = existing[row.sku] = Product(
                    sku=row.sku, name=row.name, price=row.price, opening_stock=Decimal(0), stock_quantity=Decimal(0)
                )
                db.session.add(product)
                db.session.flush()
                created.add(row.sku)
                new_levels[(default, product.id)] = Decimal(0)
            if row.sku in created:
                new_levels[(stores[row.store], product.id)] = row.stock_quantity
                if stores[row.store] == default:
                    product.opening_stock = product.stock_quantity = row.stock_quantity
                continue
            if not update_existing:
                continue
            product.name, product.price = row.name, row.price
            updated.add(row.sku)
            _set_stock(stores[row.store], product.id, row.stock_quantity)
        db.session.flush()
        if new_levels:
            db.session.execute(
                insert(StockLevel),
                [
                    {"store_id": store, "product_id": product, "opening_quantity": quantity, "quantity": quantity}
                    for (store, product), quantity in sorted(new_levels.items())
                ],
            )
        return ImportSummary(len(created), len(updated))

    return run_write(unit)


def _store_id(code: str | None) -> int:
    try:
        return find_store(code).id if code else default_store_id()
    except StoreError as exc:
        raise CatalogError(str(exc)) from None


def _set_stock(store_id: int, product_id: int, quantity: Decimal) -> None:
    """Book the difference to the store's current stock as an adjustment movement."""
    db.session.flush()
    current = db.session.scalar(
        select(StockLevel.quantity).where(StockLevel.store_id == store_id, StockLevel.product_id == product_id)
    ) or Decimal(0)
    delta = quantity - current
    if delta:
        db.session.execute(
            insert(StockMovement),
            [{"product_id": product_id, "store_id": store_id, "quantity_delta": delta, "kind": "adjustment"}],
        )
        move_stock({(store_id, product_id): delta})


# Plausible prices for the bakery's items; anything not listed sells at the default.
_BAKERY_PRICES = {
    "Coffee": "2.50",
    "Bread": "3.20",
    "Tea": "2.00",
    "Cake": "3.50",
    "Pastry": "2.20",
    "Sandwich": "4.50",
    "Medialuna": "1.80",
    "Hot chocolate": "2.90",
    "Cookies": "1.50",
    "Brownie": "2.40",
    "Farm House": "4.00",
    "Muffin": "2.30",
    "Alfajores": "2.10",
    "Juice": "2.60",
    "Soup": "4.20",
    "Scone": "2.00",
    "Toast": "2.50",
    "Scandinavian": "3.00",
    "Truffles": "1.20",
    "Coke": "1.80",
    "Spanish Brunch": "8.50",
    "Baguette": "2.80",
    "Tiffin": "2.70",
    "Jam": "3.10",
    "Mineral water": "1.20",
    "Fudge": "1.90",
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
    return [
        ProductRow(
            bakery_sku(item), item, Decimal(_BAKERY_PRICES.get(item, DEFAULT_BAKERY_PRICE)), BAKERY_OPENING_STOCK
        )
        for item in bakery_items()
    ]


def list_products() -> list[Product]:
    """The catalogue, by sku."""
    return list(db.session.scalars(select(Product).order_by(Product.sku)))


@dataclass(frozen=True)
class StockRow:
    store_code: str
    sku: str
    name: str
    price: Decimal
    quantity: Decimal


def list_stock() -> list[StockRow]:
    """Every store's stock of every product it has a level for, by store then sku."""
    rows = db.session.execute(
        select(Store.code.label("store_code"), Product.sku, Product.name, Product.price, StockLevel.quantity)
        .join(StockLevel, StockLevel.product_id == Product.id)
        .join(Store, Store.id == StockLevel.store_id)
        .order_by(Store.is_default.desc(), Store.code, Product.sku)
    )
    return [StockRow(**row._mapping) for row in rows]
