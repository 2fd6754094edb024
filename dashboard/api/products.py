"""GET /api/v1/products: the catalogue tills sell from."""

from __future__ import annotations

import hashlib

from flask import jsonify, request

from ..domain.catalog import list_products
from . import bp
from .auth import authenticate_device
from .ratelimit import enforce_rate_limit


@bp.get("/api/v1/products")
def products():
    """Every product as {sku, name, price}; price is a decimal string.

    The answer carries a strong ETag, a hash of exactly the bytes sent: a till
    that polls the catalogue sends it back in If-None-Match and gets 304 with
    no body until a product changes. Hashing the answer (not, say, a last
    update time) means any change a till would see changes the tag, and two
    servers on one database give the same tag.
    """
    device = authenticate_device()
    enforce_rate_limit(device.id)
    response = jsonify([{"sku": p.sku, "name": p.name, "price": f"{p.price:.2f}"} for p in list_products()])
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    return response.make_conditional(request)
