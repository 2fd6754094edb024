"""`flask pos simulate`: run a fleet of simulated tills against a server, through faults."""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import click
from flask.cli import AppGroup

from ..config import SettingError, time_zone_name
from ..domain import devices
from ..domain.stores import StoreError, default_store, find_store
from .simulator import FAULTS, SimTill, parse_faults, simulate

pos_cli = AppGroup("pos", help="The reference till client and the fleet simulator.")


def register_tills(count: int, seed: int, stores: tuple[str, ...] | list[str] | str | None = None) -> list[SimTill]:
    """Devices SIM-<seed>-T01.. in the default store, or SIM-<seed>-<STORE>-T01.. when stores are named: the
    tills are dealt out over the stores in turn (T01 of each, then T02 of each, ...). An existing one is reused
    with a new token (the old token stops working). Each sells in its store's decimals and closes its days
    in its store's time zone."""
    codes = [stores] if isinstance(stores, str) else list(stores or ())
    # Every code is checked before a device is added, so a typo in the second store adds no tills.
    shops = [find_store(code) for code in dict.fromkeys(code.strip().upper() for code in codes)] or [default_store()]
    known = {device.name for device in devices.list_devices()}
    tills = []
    for index in range(count):
        shop, number = shops[index % len(shops)], index // len(shops) + 1
        name = f"SIM-{seed}-{shop.code}-T{number:02d}" if codes else f"SIM-{seed}-T{number:02d}"
        token = (
            devices.rotate_token(name, actor="simulator")
            if name in known
            else devices.add_device(name, actor="simulator", store=shop.code if codes else None)
        )
        tills.append(SimTill(name, token, shop.money.places, store=shop.code, zone=shop.time_zone))
    return tills


@pos_cli.command("simulate")
@click.option("--url", required=True, help="The sync server, e.g. http://127.0.0.1:8000 (using this app's database).")
@click.option("--tills", type=click.IntRange(1, 200), default=3, show_default=True)
@click.option("--sales", type=click.IntRange(0, 100000), default=50, show_default=True, help="Sales on each till.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same baskets and faults.")
@click.option("--faults", default="", help=f"Comma-separated, from: {','.join(FAULTS)}.")
@click.option("--batch-size", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option(
    "--outbox-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the tills' outbox files go (default: a new temporary folder).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    default=300.0,
    show_default=True,
    help="Seconds before giving up on draining the outboxes.",
)
@click.option(
    "--timezone",
    "zone",
    help="Close every till's business days in this time zone instead of its store's "
    "(the server reads them in the store's: a test of a till with a wrong clock zone).",
)
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--store",
    "stores",
    multiple=True,
    help="Code of a store the tills sell in; repeat it to spread the tills over several stores "
    "(default: the default store).",
)
def simulate_command(url, tills, sales, seed, faults, batch_size, outbox_dir, timeout, zone, output, stores):
    """Register tills, sell the bakery's real baskets on each, sync them through FAULTS, and report.

    Exits 1 if an outbox is not drained or the server gave one sale two different answers.
    """
    try:
        fault_list = parse_faults(faults)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from None
    try:
        forced_zone = time_zone_name(zone) if zone else None
    except SettingError as exc:
        raise click.BadParameter(str(exc), param_hint="--timezone") from None
    outbox_dir = outbox_dir or Path(tempfile.mkdtemp(prefix="tillsync-fleet-"))
    try:
        fleet = register_tills(tills, seed, stores)
    except StoreError as exc:
        raise click.BadParameter(str(exc), param_hint="--store") from None
    if forced_zone:
        fleet = [replace(till, zone=forced_zone) for till in fleet]
    report = simulate(
        url,
        fleet,
        sales=sales,
        seed=seed,
        faults=fault_list,
        outbox_dir=outbox_dir,
        batch_size=batch_size,
        timeout=timeout,
    )
    summary = report.as_dict()
    if output == "json":
        click.echo(json.dumps(summary))
    else:
        _print_text(summary)
    if not report.drained or report.replay_mismatches or report.lost_sales:
        sys.exit(1)


def _print_text(summary: dict) -> None:
    click.echo(
        f"{summary['tills']} tills x {summary['sales_made'] // max(1, summary['tills'])} sales "
        f"against {summary['url']} (seed {summary['seed']}, faults: {','.join(summary['faults']) or 'none'})"
    )
    for key in ("sales_made", "acknowledged", "pending", "flagged"):
        click.echo(f"{key}: {summary[key]}")
    click.echo("statuses: " + " ".join(f"{k}={v}" for k, v in summary["statuses"].items()))
    click.echo("faults_injected: " + " ".join(f"{k}={v}" for k, v in summary["faults_injected"].items()))
    if "duplicates_made" in summary:
        click.echo(
            f"duplicates_made: {summary['duplicates_made']} "
            f"(extra copies stored: {summary['extra_copies']}, sales lost: {summary['lost_sales']})"
        )
    click.echo(f"receipt_number_collisions: {summary['receipt_number_collisions']}")
    click.echo(f"replay_mismatches: {summary['replay_mismatches']}")
    for store in summary["per_store"]:
        click.echo(
            f"store {store['store']}: {store['tills']} tills, sales_made {store['sales_made']}, "
            f"acknowledged {store['acknowledged']}, pending {store['pending']}, flagged {store['flagged']}, "
            f"days closed {store['days_closed']} (not answered: {store['closings_pending']}), "
            f"tills with errors {store['errors']}"
        )
    for till in summary["per_till"]:
        if till["error"]:
            click.echo(f"{till['name']}: {till['error']}", err=True)
    click.echo(
        f"drained: {'yes' if summary['drained'] else 'NO'} in {summary['elapsed_seconds']} s; "
        f"outboxes in {summary['outbox_dir']}"
    )
