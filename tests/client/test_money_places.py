"""The reference till writes amounts with its store's currency's decimals and refuses more, as the server does."""

from __future__ import annotations

import pytest

from dashboard.client.sale_content import sale_content

FILS = [{"sku": "COFFEE", "quantity": "3", "unit_price": "1.125"}]


def test_a_three_decimal_store_keeps_its_fils():
    content = sale_content(FILS, "Amal", [{"method": "cash", "amount": "3.375"}], places=3)
    assert (content["lines"][0]["unit_price"], content["total"]) == ("1.125", "3.375")
    assert sale_content([{"sku": "TEA", "quantity": "1", "unit_price": "2"}], None, None, places=3)["total"] == "2.000"


def test_a_two_decimal_store_refuses_them_while_the_customer_is_there():
    with pytest.raises(ValueError, match="at most 2 decimals"):
        sale_content(FILS, "Amal", None)
    with pytest.raises(ValueError, match="at most 3 decimals"):
        sale_content([{"sku": "TEA", "quantity": "1", "unit_price": "1.0005"}], None, None, places=3)
