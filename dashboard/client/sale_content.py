"""Checking a sale as the cashier enters it, and writing it the way the contract wants it.

A sale the server could never accept is refused here, while the customer is
still at the till, rather than flagged later.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# The server's bounds (dashboard.domain.money), repeated so the client stands alone.
MAX_MONEY, MAX_QUANTITY = Decimal(1_000_000_000), Decimal(1_000_000)


def sale_content(lines: list[dict], cashier: str | None, payments: list[dict] | None, places: int = 2) -> dict:
    """{"cashier", "lines", "total"[, "payments"]} with decimal strings; ValueError says what is wrong.

    places: the decimals of the till's store's currency (2 for EUR, 3 for KWD or JOD, 0 for JPY).
    """
    unit = Decimal(1).scaleb(-places)
    clean_lines = [_line(number, line, unit) for number, line in enumerate(lines or [], start=1)]
    if not clean_lines:
        raise ValueError("a sale needs at least one line")
    total = sum((Decimal(line["quantity"]) * Decimal(line["unit_price"]) for line in clean_lines), Decimal(0))
    total = total.quantize(unit, rounding=ROUND_HALF_UP)
    content = {"cashier": (cashier or "").strip()[:100] or None, "lines": clean_lines, "total": str(total)}
    if payments:
        clean_payments = [
            {"method": _method(p.get("method")), "amount": _money(p.get("amount"), "payment amount", unit)}
            for p in payments
        ]
        paid = sum((Decimal(p["amount"]) for p in clean_payments), Decimal(0))
        if paid != total:
            raise ValueError(f"payments add up to {paid}, the sale's total is {total}")
        content["payments"] = clean_payments
    return content


def _decimal(value, what: str, limit: Decimal) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} must be a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{what} '{value}' is not a number") from None
    if not number.is_finite() or abs(number) > limit:
        raise ValueError(f"{what} must be a number of at most {limit}")
    return number


def _money(value, what: str, unit: Decimal) -> str:
    number = _decimal(value, what, MAX_MONEY)
    if number != number.quantize(unit) or number < 0:
        places = -int(unit.as_tuple().exponent)  # a finite unit: its exponent is an int
        raise ValueError(f"{what} must be a non-negative amount with at most {places} decimals, got {value}")
    return str(number.quantize(unit))


def _method(value) -> str:
    method = str(value or "").strip()
    if not method or len(method) > 32:
        raise ValueError("a payment method must have 1 to 32 characters, e.g. 'cash'")
    return method


def _line(number: int, line: dict, unit: Decimal) -> dict:
    where = f"line {number}"
    sku = str(line.get("sku") or "").strip()
    if not sku:
        raise ValueError(f"{where}: sku is missing")
    quantity = _decimal(line.get("quantity"), f"{where} quantity", MAX_QUANTITY)
    if quantity <= 0 or quantity != quantity.quantize(Decimal("0.001")):
        raise ValueError(f"{where}: quantity must be above zero with at most 3 decimals, got {quantity}")
    return {
        "sku": sku,
        "quantity": format(quantity.normalize(), "f"),
        "unit_price": _money(line.get("unit_price"), f"{where} unit_price", unit),
    }
