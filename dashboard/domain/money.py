"""Parsing and normalising the decimal numbers tills send."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import cast

# ASCII digits only: Python's \d and Decimal() also take "١" (Arabic-Indic one) and other scripts' digits.
_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,30})?")
CENT = Decimal("0.01")

# Far beyond any real sale, and within the columns' precision (14 digits).
MAX_MONEY = Decimal("1000000000")
MAX_QUANTITY = Decimal("1000000")


class NumberError(ValueError):
    """A value that is not an acceptable decimal number; the message says why."""


# Tills send the same few prices, quantities and totals over and over: the accepted result of a
# text is remembered (Decimals are immutable), so most numbers of a batch cost one dict look-up
# instead of a regex, a Decimal and two quantizes. Only accepted values are kept, so every refusal
# still goes through the checks below and says the same. Bounded: cleared when full.
_ACCEPTED: dict[tuple[str, int, Decimal], Decimal] = {}
_ACCEPTED_MAX = 8192


def parse_decimal(value: object, *, places: int, limit: Decimal) -> Decimal:
    """A Decimal from a decimal string or JSON number, with at most `places` decimals."""
    if type(value) is str:
        key = (value, places, limit)
        known = _ACCEPTED.get(key)
        if known is None:
            known = _parse_decimal(value, places, limit)
            if len(_ACCEPTED) >= _ACCEPTED_MAX:
                _ACCEPTED.clear()
            _ACCEPTED[key] = known
        return known
    return _parse_decimal(value, places, limit)


def _parse_decimal(value: object, places: int, limit: Decimal) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise NumberError("must be a decimal number")
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_TEXT.fullmatch(text):
            raise NumberError(f"'{value[:30]}' is not a decimal number")
        number = Decimal(text)
    elif isinstance(value, (int, Decimal)):
        try:
            number = Decimal(value)
        except InvalidOperation as exc:  # pragma: no cover - Decimal(int) cannot fail
            raise NumberError("is not a decimal number") from exc
    else:
        raise NumberError("must be a decimal number")
    if not number.is_finite():
        raise NumberError("must be a finite number")
    # copy_abs() and adjusted() never raise, unlike abs() on exponents like 1e1000000.
    if number.adjusted() > 20 or number.copy_abs() > limit:
        raise NumberError(f"is out of range (at most {limit})")
    exponent = cast(int, number.as_tuple().exponent)  # finite (checked above): never 'n', 'N' or 'F'
    if -exponent > places and number != number.quantize(Decimal(1).scaleb(-places)):
        raise NumberError(f"has more than {places} decimal places")
    return number.quantize(Decimal(1).scaleb(-places))


def round_money(value: Decimal) -> Decimal:
    """Round to cents, half up, as a till rounds a line total."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# Equal Decimals ('2.5', '2.50', -0 and 0) have equal hashes and one canonical text, so the text can
# be remembered per value; bounded like _ACCEPTED.
_CANONICAL: dict[Decimal, str] = {}


def canonical(value: Decimal) -> str:
    """One text for one number: '2.5', '2.50' and 2.5 all give '2.5'; -0 gives '0'."""
    text = _CANONICAL.get(value)
    if text is None:
        text = format((value + 0).normalize(), "f")
        text = "0" if text in ("-0", "0") else text
        if len(_CANONICAL) >= _ACCEPTED_MAX:
            _CANONICAL.clear()
        _CANONICAL[value] = text
    return text


@dataclass(frozen=True)
class MoneyRule:
    """A store's currency and how many decimals its amounts may have (its ISO 4217 minor units)."""

    currency: str
    places: int

    @property
    def unit(self) -> Decimal:
        return _minor_unit(self.places)

    def round(self, value: Decimal) -> Decimal:
        """Round to the currency's minor unit, half up, as a till rounds a line total."""
        return value.quantize(_minor_unit(self.places), rounding=ROUND_HALF_UP)


@cache
def _minor_unit(places: int) -> Decimal:
    """0.01 for 2 places: made once per number of places, not for every line of every sale."""
    return Decimal(1).scaleb(-places)


# The rule of a two-decimal currency: what callers without a store (and the tests' defaults) use.
TWO_DECIMALS = MoneyRule("EUR", 2)
# The most decimals any stored amount has (the money columns' scale).
MAX_MONEY_PLACES = 3
