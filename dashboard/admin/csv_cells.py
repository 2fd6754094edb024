"""CSV cells a spreadsheet cannot run as formulas (CSV injection)."""
from __future__ import annotations

import csv
import io
import re

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
