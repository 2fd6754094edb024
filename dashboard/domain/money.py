"""Parsing and normalising the decimal numbers tills send."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ASCII digits only: Python's \d and Decimal() also take "١" (Arabic-Indic one) and other scripts' digits.
_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,30})?")
CENT = Decimal("0.01")

# Far beyond any real sale, and within the columns' precision (14 digits).
MAX_MONEY = Decimal("1000000000")
MAX_QUANTITY = Decimal("1000000")


class NumberError(ValueError):
    """A value that is not an acceptable decimal number; the message says why."""


def parse_decimal(value: object, *, places: int, limit: Decimal) -> Decimal:
    """A Decimal from a decimal string or JSON number, with at most `places` decimals."""
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
    if -number.as_tuple().exponent > places and number != number.quantize(Decimal(1).scaleb(-places)):
        raise NumberError(f"has more than {places} decimal places")
    return number.quantize(Decimal(1).scaleb(-places))


def round_money(value: Decimal) -> Decimal:
    """Round to cents, half up, as a till rounds a line total."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def canonical(value: Decimal) -> str:
    """One text for one number: '2.5', '2.50' and 2.5 all give '2.5'; -0 gives '0'."""
    text = format((value + 0).normalize(), "f")
    return "0" if text in ("-0", "0") else text


@dataclass(frozen=True)
class MoneyRule:
    """A store's currency and how many decimals its amounts may have (its ISO 4217 minor units)."""

    currency: str
    places: int

    @property
    def unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.places)

    def round(self, value: Decimal) -> Decimal:
        """Round to the currency's minor unit, half up, as a till rounds a line total."""
        return value.quantize(self.unit, rounding=ROUND_HALF_UP)


# The rule of a two-decimal currency: what callers without a store (and the tests' defaults) use.
TWO_DECIMALS = MoneyRule("EUR", 2)
# The most decimals any stored amount has (the money columns' scale).
MAX_MONEY_PLACES = 3
