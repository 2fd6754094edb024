"""GET /api/v1/products: a strong ETag of the catalogue and 304 on If-None-Match; on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from dashboard.domain.catalog import ProductRow, import_products
from tests.support.sales import bearer


def test_the_catalogue_answers_304_until_it_changes(client, token, catalog):
    first = client.get("/api/v1/products", headers=bearer(token))
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/"), etag  # strong: byte-for-byte the same answer
    assert [product["sku"] for product in first.get_json()] == sorted(catalog)

    same = client.get("/api/v1/products", headers={**bearer(token), "If-None-Match": etag})
    assert same.status_code == 304 and same.data == b""
    assert same.headers["ETag"] == etag
    assert client.get("/api/v1/products", headers=bearer(token)).headers["ETag"] == etag  # stable

    import_products([ProductRow("COFFEE", "Coffee", Decimal("2.60"), Decimal("100"))])
    changed = client.get("/api/v1/products", headers={**bearer(token), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert {p["sku"]: p["price"] for p in changed.get_json()}["COFFEE"] == "2.60"


def test_a_new_product_changes_the_etag(client, token, catalog):
    etag = client.get("/api/v1/products", headers=bearer(token)).headers["ETag"]
    import_products([ProductRow("SCONE", "Scone", Decimal("1.10"), Decimal("5"))])
    assert client.get("/api/v1/products", headers={**bearer(token), "If-None-Match": etag}).status_code == 200


def test_the_etag_does_not_skip_authentication(client, token, catalog):
    etag = client.get("/api/v1/products", headers=bearer(token)).headers["ETag"]
    anonymous = client.get("/api/v1/products", headers={"If-None-Match": etag})
    assert anonymous.status_code == 401 and anonymous.get_json()["error"] == "missing_token"
