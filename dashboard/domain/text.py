"""Text a till or a file sends that the databases cannot hold.

PostgreSQL refuses NUL characters and neither database's driver encodes a
lone UTF-16 surrogate (JSON can carry both as escapes). A sale's own fields
with such text are refused; text that is only kept for the record (payloads,
messages, echoed ids) is escaped instead, so recording it never fails.
"""
from __future__ import annotations


def is_storable(text: str) -> bool:
    """True when both databases can store this text as it is."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(text: str | None) -> str | None:
    """The text with NULs and lone surrogates written as escapes, for the record."""
    if text is None or is_storable(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
