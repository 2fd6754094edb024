"""Text a till or a file sends that the databases cannot hold.

PostgreSQL refuses NUL characters and neither database's driver encodes a
lone UTF-16 surrogate (JSON can carry both as escapes). A sale's own fields
with such text are refused; text that is only kept for the record (payloads,
messages, echoed ids) is escaped instead, so recording it never fails.
"""

from __future__ import annotations

import hashlib
import json
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


# A skipped sale's payload is kept for a manager to read, not as a store for
# whatever a till sends: past this many characters only a prefix and the hash
# of the whole are kept, and the kept text says so.
PAYLOAD_RECORD_LIMIT = 16 * 1024


def payload_record(raw) -> str:
    """A sale as the till sent it, as JSON text both databases can store and every page can show.

    Arabic stays readable; lone surrogates are JSON-escaped (NULs always are);
    a sale nested too deeply to write out keeps its top-level scalar fields.
    """
    readable = _json_text(raw, ensure_ascii=False)
    text = readable if is_storable(readable) else _json_text(raw, ensure_ascii=True)
    if len(text) <= PAYLOAD_RECORD_LIMIT:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return (
        f"{text[:PAYLOAD_RECORD_LIMIT]}\n… [only the first {PAYLOAD_RECORD_LIMIT:,} of {len(text):,} "
        f"characters are kept; SHA-256 of the whole: {digest}]"
    )


def _json_text(raw, *, ensure_ascii: bool) -> str:
    try:
        return json.dumps(raw, default=str, ensure_ascii=ensure_ascii)
    except RecursionError:
        shallow = (
            {
                key: value if value is None or isinstance(value, (str, int, float, bool)) else "…"
                for key, value in raw.items()
            }
            if isinstance(raw, dict)
            else "…"
        )
        return json.dumps(shallow, default=str, ensure_ascii=ensure_ascii)


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
