"""Decoding a sync request's JSON body so that one hostile sale cannot sink its batch.

The standard decoder is used first (fast, in C). Two kinds of input make it
fail for the whole body although only one sale is at fault:

- an integer of more than 4,300 digits (Python's int-from-text limit): integers
  that long are read as Decimal instead, and validation then refuses the sale
  that holds one as out of range;
- nesting deeper than the interpreter's recursion limit (a sale ~1,000 levels
  deep): the body is then split iteratively into its orders, each order is
  decoded on its own, and an order still too deep becomes a `NestedTooDeep`
  holding only its top-level scalar fields (its offline_id among them), which
  validation rejects alone.

The slow path runs only for bodies the fast one could not decode.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

from ..domain.sales import NestedTooDeep

# Python refuses int() on text longer than this (sys.get_int_max_str_digits()).
_LONGEST_INT_TEXT = 4000

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"', re.DOTALL)
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|NaN|-?Infinity")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _parse_int(text: str) -> int | Decimal:
    return int(text) if len(text) <= _LONGEST_INT_TEXT else Decimal(text)


def _loads(text: str | bytes):
    return json.loads(text, parse_float=Decimal, parse_int=_parse_int, parse_constant=_reject_constant)


def decode_body(body: bytes):
    """The body as Python values (Decimal for non-integers); ValueError when it is not JSON."""
    try:
        # The hot path: integers are read in C; only a body that fails comes back through _loads.
        return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer past int()'s digit limit
        try:
            return _loads(body)
        except RecursionError:
            pass
    except RecursionError:
        pass
    try:
        text = body.decode(json.detect_encoding(body))
    except UnicodeDecodeError as exc:
        raise ValueError(str(exc)) from None
    return _decode_deep(text)


def _decode_deep(text: str):
    """Decode a body whose nesting is too deep for the C decoder, order by order."""
    layout = _Layout(text)
    if layout.orders is None:
        raise ValueError("the body is nested too deeply")
    start, end = layout.orders
    try:
        payload = _loads(text[:start] + "[]" + text[end:])
    except RecursionError:
        raise ValueError("the body is nested too deeply outside its orders") from None
    if isinstance(payload, dict) and isinstance(payload.get("orders"), list):
        payload["orders"] = [_decode_order(text, element) for element in layout.elements]
    return payload


def _decode_order(text: str, element: tuple[int, int, dict[str, tuple[int, int]]]):
    start, end, scalars = element
    try:
        return _loads(text[start:end])
    except RecursionError:
        return NestedTooDeep({key: _loads(text[a:b]) for key, (a, b) in scalars.items()})


class _Layout:
    """Where a body's top-level "orders" array and each of its elements lie, found without recursion.

    For each element that is an object, the spans of its top-level scalar
    members are kept too. A body that is not JSON raises ValueError. When the
    body has several "orders" keys the last one counts, as in json.loads.
    """

    def __init__(self, text: str):
        self.text = text
        self.orders: tuple[int, int] | None = None
        self.elements: list[tuple[int, int, dict[str, tuple[int, int]]]] = []
        self._pending: list = []
        self._walk()

    def _skip(self, at: int) -> int:
        return _WHITESPACE.match(self.text, at).end()

    def _char(self, at: int) -> str:
        if at >= len(self.text):
            raise ValueError("unexpected end of JSON")
        return self.text[at]

    def _walk(self) -> None:
        text, stack = self.text, []  # type: ignore[var-annotated]  # open "[" and "{"
        state, at = "value", self._skip(0)
        while True:
            if state == "value":
                char = self._char(at)
                if char in "{[":
                    if len(stack) == 1 and self._orders_key(stack) and char == "[":
                        self._pending = []
                    stack.append({"kind": char, "start": at, "key": None, "scalars": {}})
                    at = self._skip(at + 1)
                    if self._char(at) == ("}" if char == "{" else "]"):
                        at, state = self._skip(self._close(stack, at)), "after"
                    else:
                        state = "key" if char == "{" else "value"
                    continue
                match = (_STRING if char == '"' else _SCALAR).match(text, at)
                if not match:
                    raise ValueError(f"unexpected character at {at}")
                self._scalar(stack, at, match.end())
                at, state = self._skip(match.end()), "after"
            elif state == "key":
                match = _STRING.match(text, at) if self._char(at) == '"' else None
                if not match:
                    raise ValueError(f"a key expected at {at}")
                stack[-1]["key"] = json.loads(match.group())
                at = self._skip(match.end())
                if self._char(at) != ":":
                    raise ValueError(f"':' expected at {at}")
                at, state = self._skip(at + 1), "value"
            else:  # after a value
                if not stack:
                    if at != len(text):
                        raise ValueError(f"extra data at {at}")
                    return
                char = self._char(at)
                if char == ",":
                    at, state = self._skip(at + 1), ("key" if stack[-1]["kind"] == "{" else "value")
                elif char == ("}" if stack[-1]["kind"] == "{" else "]"):
                    at = self._skip(self._close(stack, at))
                else:
                    raise ValueError(f"',' or a closing bracket expected at {at}")

    @staticmethod
    def _orders_key(stack: list[dict]) -> bool:
        """Whether the body object is reading its "orders" member."""
        return stack[0]["kind"] == "{" and stack[0]["key"] == "orders"

    def _in_orders_array(self, stack: list[dict]) -> bool:
        return len(stack) >= 2 and self._orders_key(stack) and stack[1]["kind"] == "["

    def _close(self, stack: list[dict], at: int) -> int:
        """Close the innermost container, whose closing bracket is at `at`; note what the layout needs."""
        closed = stack.pop()
        end = at + 1
        if len(stack) == 2 and self._in_orders_array(stack):
            self._pending.append((closed["start"], end, closed["scalars"] if closed["kind"] == "{" else {}))
        elif len(stack) == 1 and self._orders_key(stack):
            self.orders = (closed["start"], end) if closed["kind"] == "[" else None
            self.elements = self._pending if closed["kind"] == "[" else []
        return end

    def _scalar(self, stack: list[dict], start: int, end: int) -> None:
        if len(stack) == 2 and self._in_orders_array(stack):
            self._pending.append((start, end, {}))
        elif len(stack) == 3 and self._in_orders_array(stack) and stack[2]["kind"] == "{":
            stack[2]["scalars"][stack[2]["key"]] = (start, end)
        elif len(stack) == 1 and self._orders_key(stack):
            self.orders, self.elements = None, []
