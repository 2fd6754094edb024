"""CSV downloads: cells a spreadsheet cannot run as formulas (CSV injection), and a byte-order mark."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

from flask import Response, stream_with_context

# Excel reads a CSV file without a byte-order mark in the machine's legacy code page, so Arabic
# (cashier names, product names) arrives garbled; with UTF-8's BOM it opens right everywhere.
BOM = "\ufeff"

# Text starting with one of these is a formula to a spreadsheet; a tab or CR can hide the start.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def safe_cell(value) -> str:
    """The value as text, with a leading quote when a spreadsheet would read it as a formula.

    Plain numbers (-2, -3.50) are left as they are: a negative quantity is data, not a formula.
    """
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def safe_csv(text: str) -> str:
    """CSV text rewritten with every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv.reader(io.StringIO(text)):
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def csv_download(chunks: Iterable[str], file_name: str) -> Response:
    """A CSV attachment in UTF-8 with a BOM; `chunks` may be a generator (streamed in the request context)."""

    def body():
        yield BOM
        yield from chunks

    return Response(
        stream_with_context(body()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
    )
