"""parse_sale without its memory of accepted lines (sales._ACCEPTED_LINES): every line checked anew.

What the line-memory tests compare against, and what bench_parse measures beside the memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dashboard.domain import sales


class _Forgetful(dict):
    """A line memory that keeps nothing."""

    def __setitem__(self, key, value) -> None:
        pass


@contextmanager
def no_line_memory() -> Iterator[None]:
    """Inside, parse_sale remembers no line; the memory it had is back afterwards."""
    remembered = sales._ACCEPTED_LINES
    sales._ACCEPTED_LINES = _Forgetful()
    try:
        yield
    finally:
        sales._ACCEPTED_LINES = remembered
