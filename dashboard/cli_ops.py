"""Operators' upkeep: `flask logs prune`, `flask backup FILE`, `flask restore FILE`."""
from __future__ import annotations

import json
import sys
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

logs_cli = AppGroup("logs", help="Sync records, scans and the audit log: retention.")


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@logs_cli.command("prune")
@click.option("--older-than", "older_than", metavar="DURATION",
              help="Delete records older than this (90d, 12h); default RETENTION_DAYS days.")
@click.option("--audit-older-than", "audit_older_than", metavar="DURATION",
              help="The audit log's own limit; default AUDIT_RETENTION_DAYS days.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text")
def logs_prune(older_than: str | None, audit_older_than: str | None, output: str):
    """Delete sync logs, skipped-sale records, scans and set-aside plans past retention (never sales,
    nor what a manager still has to deal with), and audit entries past the audit's own retention."""
    from .domain.retention import RetentionError, parse_duration, prune

    config = current_app.config
    try:
        age = parse_duration(older_than) if older_than else timedelta(days=config["RETENTION_DAYS"])
        audit_age = (parse_duration(audit_older_than) if audit_older_than
                     else timedelta(days=config["AUDIT_RETENTION_DAYS"]))
    except RetentionError as exc:
        _fail(str(exc))
    summary = prune(older_than=age, audit_older_than=audit_age, actor="cli")
    if output == "json":
        click.echo(json.dumps(summary.as_json()))
        return
    click.echo(f"Pruned records from before {summary.cutoff:%Y-%m-%d %H:%M} UTC "
               f"(audit log: before {summary.audit_cutoff:%Y-%m-%d %H:%M} UTC):")
    for table, count in summary.deleted.items():
        click.echo(f"  {table}: {count} deleted")


def register_ops_cli(app) -> None:
    app.cli.add_command(logs_cli)
