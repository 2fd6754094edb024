"""Text a till or a file sends that the databases cannot hold.

PostgreSQL refuses NUL characters and neither database's driver encodes a
lone UTF-16 surrogate (JSON can carry both as escapes). A sale's own fields
with such text are refused; text that is only kept for the record (payloads,
messages, echoed ids) is escaped instead, so recording it never fails.
"""
from __future__ import annotations

import re
import unicodedata


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


# Identifiers a person reads and compares (receipt numbers, skus, cashier and till names) must show
# what they are: no control characters, no format characters (category Cf: the bidi overrides and
# isolates that made "T-\u202e123" display as "T-321", zero-width spaces and joiners, BOM, word
# joiner, ...), no line or paragraph separators. ASCII text, nearly every identifier, takes the
# fast path: one precompiled search for C0 controls and DEL.
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def hidden_character(text: str) -> str | None:
    """The first invisible, control or direction-changing character of an identifier, or None."""
    if text.isascii():
        found = _ASCII_CONTROL.search(text)
        return found.group() if found else None
    for character in text:
        if unicodedata.category(character) in _HIDDEN_CATEGORIES:
            return character
    return None


def describe_character(character: str) -> str:
    """U+202E (RIGHT-TO-LEFT OVERRIDE): how a message names a character nobody can see."""
    name = unicodedata.name(character, "")
    return f"U+{ord(character):04X}" + (f" ({name})" if name else "")
