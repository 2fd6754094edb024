"""Operators' upkeep: `flask logs prune`, `flask backup FILE`, `flask restore FILE`."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

logs_cli = AppGroup("logs", help="Sync records, scans and the audit log: retention.")


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@logs_cli.command("prune")
@click.option(
    "--older-than",
    "older_than",
    metavar="DURATION",
    help="Delete records older than this (90d, 12h); default RETENTION_DAYS days.",
)
@click.option(
    "--audit-older-than",
    "audit_older_than",
    metavar="DURATION",
    help="The audit log's own limit; default AUDIT_RETENTION_DAYS days.",
)
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text")
def logs_prune(older_than: str | None, audit_older_than: str | None, output: str):
    """Delete sync logs, skipped-sale records, scans and set-aside plans past retention (never sales,
    nor what a manager still has to deal with), and audit entries past the audit's own retention."""
    from .domain.retention import RetentionError, parse_duration, prune

    config = current_app.config
    try:
        age = parse_duration(older_than) if older_than else timedelta(days=config["RETENTION_DAYS"])
        audit_age = (
            parse_duration(audit_older_than) if audit_older_than else timedelta(days=config["AUDIT_RETENTION_DAYS"])
        )
    except RetentionError as exc:
        _fail(str(exc))
    summary = prune(older_than=age, audit_older_than=audit_age, actor="cli")
    if output == "json":
        click.echo(json.dumps(summary.as_json()))
        return
    click.echo(
        f"Pruned records from before {summary.cutoff:%Y-%m-%d %H:%M} UTC "
        f"(audit log: before {summary.audit_cutoff:%Y-%m-%d %H:%M} UTC):"
    )
    for table, count in summary.deleted.items():
        click.echo(f"  {table}: {count} deleted")


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path):
    """Back up the database to FILE while the service runs (SQLite: online backup; PostgreSQL: pg_dump -Fc)."""
    from .backup import SECRET_REMINDER, BackupError, backup

    try:
        result = backup(current_app.config["SQLALCHEMY_DATABASE_URI"], file)
    except BackupError as exc:
        _fail(str(exc))
    click.echo(f"Backed up the {result.dialect} database to {result.path} ({result.size} bytes).")
    click.echo(SECRET_REMINDER)


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
def restore_command(file: Path, force: bool):
    """Restore the database from FILE made by `flask backup`. Stop web and workers first."""
    from .backup import SECRET_REMINDER, BackupError, restore

    try:
        restore(current_app.config["SQLALCHEMY_DATABASE_URI"], file, force=force)
    except BackupError as exc:
        _fail(f"{exc}. Nothing was restored.")
    click.echo(f"Restored the database from {file}. Run `flask db upgrade` if the backup is from an older version.")
    click.echo(SECRET_REMINDER)


def register_ops_cli(app) -> None:
    for command in (logs_cli, backup_command, restore_command):
        app.cli.add_command(command)
