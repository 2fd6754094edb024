"""GET /api/v1/products: the catalogue tills sell from."""
from __future__ import annotations

from flask import jsonify

from ..domain.catalog import list_products
from . import bp
from .auth import authenticate_device
from .ratelimit import enforce_rate_limit


@bp.get("/api/v1/products")
def products():
    """Every product as {sku, name, price}; price is a decimal string."""
    device = authenticate_device()
    enforce_rate_limit(device.id)
    return jsonify([{"sku": p.sku, "name": p.name, "price": f"{p.price:.2f}"} for p in list_products()])
