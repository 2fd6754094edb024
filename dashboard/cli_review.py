"""Operators' duplicate review: `flask offline cleanup`, `flask invoices check-duplicates`, `flask legacy import`.

They run in their own process (no worker needed), through the same domain
code as the dashboard's jobs, and exit non-zero on failure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .domain.duplicate_detection import find_duplicates, shared_invoice_groups
from .domain.duplicates import double_entry_window, open_group_counts, preview_counts, run_scan
from .domain.fix_plans import PlanError, build_plan, open_certain_selection, targets_for_found
from .domain.fixes import fix_now
from .domain.legacy_import import import_legacy_file
from .models.duplicates import KINDS

offline_cli = AppGroup("offline", help="Clean up what offline tills and older systems left behind.")
invoices_cli = AppGroup("invoices", help="Invoice number checks.")
legacy_cli = AppGroup("legacy", help="Sales from older systems.")

FORMAT = click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
CLI_ACTOR = "cli"


def _emit(output: str, data: dict, text_lines: list[str]) -> None:
    if output == "json":
        click.echo(json.dumps(data, default=str, sort_keys=True))
    else:
        for line in text_lines:
            click.echo(line)


def _kind_lines(kinds: dict) -> list[str]:
    return [f"{kind:28} {kinds[kind]['groups']:>7} groups {kinds[kind]['orders']:>8} orders" for kind in KINDS]


def _progress(fraction: float, message: str) -> None:
    click.echo(f"  {fraction:4.0%} {message}", err=True)


def _fix_or_exit(selection: list[tuple[int, int | None]]) -> dict | None:
    """Apply one plan for these groups, audited as the command line; None when there is nothing to fix."""
    if not selection:
        return None
    try:
        result = fix_now(selection, CLI_ACTOR)
    except PlanError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    return {"fix_id": result.fix_id, "groups": len(selection), **result.summary}


@offline_cli.command("cleanup")
@click.option("--check-duplicates", "mode", flag_value="check", help="Scan and report open groups by kind.")
@click.option("--dry-run", "mode", flag_value="dry-run", help="Show the plan for the certain kinds; change nothing.")
@click.option("--force", "mode", flag_value="force", help="Apply the plan for every open group of a certain kind.")
@FORMAT
def cleanup(mode: str | None, output: str):
    """Find duplicates and, with --force, fix the certain ones (audited as done from the command line)."""
    if mode is None:
        raise click.UsageError("choose one of --check-duplicates, --dry-run or --force")
    if mode == "dry-run":
        found = list(find_duplicates(double_entry_window=double_entry_window(current_app.config)))
        plan = build_plan(targets_for_found(found))
        kinds = preview_counts(found)
        _emit(
            output,
            {"kinds": kinds, "plan": plan, "changed": False},
            _kind_lines(kinds)
            + ["", "Plan for the certain kinds (nothing changed):"]
            + [f"  {name}: {_per_currency(value)}" for name, value in plan["totals"].items()]
            + [f"  stock {row['store']} {row['sku']}: {row['before']} -> {row['after']}" for row in plan["stock"]],
        )
        return
    summary = run_scan(
        trigger="cli",
        actor=CLI_ACTOR,
        progress=_progress if output == "text" else None,
        window=double_entry_window(current_app.config),
    )
    if mode == "check":
        _emit(
            output,
            summary.as_json(),
            _kind_lines(summary.kinds)
            + [
                f"stock drift: {d['store'] or 'products'} {d['sku']} is {d['stock_quantity']}, movements say {d['expected']}"
                for d in summary.stock_drift
            ],
        )
        return
    applied = _fix_or_exit(open_certain_selection())
    kinds = open_group_counts()
    _emit(
        output,
        {"kinds": kinds, "found": summary.found, "applied": applied},
        _kind_lines(kinds)
        + ([f"Applied fix {applied['fix_id']}: {applied}"] if applied else ["Nothing certain to fix."]),
    )


@invoices_cli.command("check-duplicates")
@click.option("--fix", is_flag=True, help="Apply the certain groups (same invoice, same content).")
@FORMAT
def check_invoice_duplicates(fix: bool, output: str):
    """List the groups of non-void orders that share an invoice number."""
    fixed = None
    if fix:
        run_scan(trigger="cli", actor=CLI_ACTOR, window=double_entry_window(current_app.config))
        fixed = _fix_or_exit(open_certain_selection(kinds=("same_invoice_same_content",)))
    groups = [
        {"invoice_number": g.invoice_number, "order_ids": list(g.order_ids), "kind": g.kind}
        for g in shared_invoice_groups()
    ]
    _emit(
        output,
        {"groups": groups, "fixed": fixed},
        [f"{g['invoice_number']:20} {g['kind']:28} orders {', '.join(map(str, g['order_ids']))}" for g in groups]
        + [f"{len(groups)} groups" + (f"; applied fix {fixed['fix_id']}" if fixed else "")],
    )


@legacy_cli.command("import")
@click.argument("jsonl_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@FORMAT
def legacy_import(jsonl_file: Path, output: str):
    """Import an older system's sales (JSONL); importing the same file again changes nothing."""
    with jsonl_file.open(encoding="utf-8-sig") as stream:
        summary = import_legacy_file(stream, jsonl_file.name)
    data = {
        "import_id": summary.import_id,
        "lines_read": summary.lines_read,
        "imported": summary.imported,
        "already_there": summary.already_there,
        "skipped": summary.skipped,
        "errors": summary.errors,
    }
    _emit(
        output,
        data,
        [
            f"{summary.lines_read} lines read: {summary.imported} sales imported, "
            f"{summary.already_there} already there, {summary.skipped} skipped"
        ],
    )
    if output == "text":
        for error in summary.errors:
            click.echo(f"  {error}", err=True)


def _per_currency(value) -> str:
    """The money removed is one amount per currency ({"SAR": "12.50", "KWD": "0.375"}): 'SAR 12.50, KWD 0.375'."""
    return ", ".join(f"{code} {amount}" for code, amount in value.items()) if isinstance(value, dict) else str(value)
