"""`flask stores ...`: the shops of a chain."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from .domain import stores
from .domain.catalog import list_stock

stores_cli = AppGroup("stores", help="Stores (shops): currency, time zone, invoice series, stock.")


@stores_cli.command("add")
@click.argument("code")
@click.option("--name", required=True, help="What managers call the shop.")
@click.option("--timezone", "time_zone", required=True, help="IANA time zone, e.g. Asia/Amman: the store's days.")
@click.option("--currency", required=True, help="ISO 4217 code, e.g. JOD: its amounts and their decimals.")
@click.option("--invoice-prefix", help="Prefix of the store's server invoice series (default: CODE-).")
def stores_add(code: str, name: str, time_zone: str, currency: str, invoice_prefix: str | None):
    """Add a store (audited as `cli`); its tills are added with `flask devices add NAME --store CODE`."""
    try:
        store = stores.add_store(
            code, name=name, time_zone=time_zone, currency=currency, invoice_prefix=invoice_prefix, actor="cli"
        )
    except stores.StoreError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"Store {store.code} added: {store.currency} ({store.money.places} decimals), {store.time_zone}, "
        f"invoices {store.invoice_prefix}00000001 onwards."
    )


@stores_cli.command("list")
def stores_list():
    """Every store: code, name, currency and its decimals, time zone, invoice prefix (the default first)."""
    for store in stores.list_stores():
        default = "\tdefault (follows the settings where unset)" if store.is_default else ""
        click.echo(
            f"{store.code}\t{store.name}\t{store.currency}/{store.money.places}\t{store.time_zone}\t"
            f"{store.invoice_prefix}{default}"
        )


@stores_cli.command("stock")
@click.argument("code", required=False)
def stores_stock(code: str | None):
    """Each store's stock of each product (one store with CODE)."""
    wanted = code.strip().upper() if code else None
    for row in list_stock():
        if wanted is None or row.store_code == wanted:
            click.echo(f"{row.store_code}\t{row.sku}\t{row.name}\t{row.quantity}")
