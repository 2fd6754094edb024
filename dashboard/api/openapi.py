"""The till API as an OpenAPI 3.1 document: the machine-readable half of docs/sync-protocol.md.

This module is the one source of the document. The server answers it at
GET /api/v1/openapi.json, and docs/openapi.json is this module's output for
till vendors reading the repository (`python -m dashboard.api.openapi >
docs/openapi.json`; tests/api/test_openapi.py fails when the two differ).

Codes come from dashboard/vocabulary.py, so a new reason or error code is
documented by adding it there. Limits are the defaults of dashboard/config.py;
an operator may lower or raise them.
"""

from __future__ import annotations

import json
from typing import Any

from flask import jsonify, request

from ..domain.closings import MAX_SALES_COUNT
from ..domain.sales import MAX_PAYMENTS
from ..vocabulary import ClosingDifference, ClosingRecord, ClosingStatus, Reason, SaleStatus, SyncError
from . import bp

MAX_ORDERS, MAX_LINES, MAX_STATUS_IDS, MAX_CLOSING_IDS = 500, 200, 500, 5000
JSON = "application/json"

_DECIMAL = {
    "type": ["string", "number"],
    "description": 'a decimal: a string such as "2.50", or a JSON number',
    "examples": ["2.50"],
}
_RETRY_AFTER = {
    "description": "seconds to wait before retrying",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
    "required": True,
}
_WWW_AUTHENTICATE = {"description": "always `Bearer`", "schema": {"type": "string"}, "required": True}
_ETAG = {
    "description": "a strong validator of the catalogue's content; send it back in If-None-Match",
    "schema": {"type": "string", "pattern": '^"[0-9a-f]+"$'},
    "required": True,
}


def _error(description: str, *codes: SyncError, headers: dict | None = None) -> dict:
    """A whole-request error answer: {"error": one of codes, "message": text for people}."""
    schema = {
        "type": "object",
        "required": ["error", "message"],
        "additionalProperties": False,
        "properties": {
            "error": {"type": "string", "enum": [str(code) for code in codes]},
            "message": {"type": "string"},
        },
    }
    answer = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _ok(description: str, schema_name: str, headers: dict | None = None) -> dict:
    answer = {
        "description": description,
        "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
    }
    if headers:
        answer["headers"] = headers
    return answer


def _json_body(schema_name: str) -> dict:
    # A body with no Content-Type is read as JSON too; any other declared type is a 415.
    return {"required": True, "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}}


# Answers several operations share, defined once under components/responses.
_SHARED = {
    "Unauthorized": _error(
        "no bearer token, or one the server does not know; do not retry: configure or re-register the till",
        SyncError.MISSING_TOKEN,
        SyncError.UNKNOWN_TOKEN,
        headers={"WWW-Authenticate": _WWW_AUTHENTICATE},
    ),
    "Revoked": _error("a manager revoked this till; do not retry", SyncError.DEVICE_REVOKED),
    "RateLimited": _error(
        "too many requests, or too much work, from this till this minute; retry after Retry-After",
        SyncError.RATE_LIMITED,
        headers={"Retry-After": _RETRY_AFTER},
    ),
    "DatabaseUnavailable": _error(
        "the database is unreachable; nothing was stored (or the request's transaction "
        "committed whole): retry with back-off",
        SyncError.DATABASE_UNAVAILABLE,
        headers={"Retry-After": _RETRY_AFTER},
    ),
    "NotJson": _error(
        "the body is not JSON, or not the object the contract asks for; do not retry: fix the client",
        SyncError.INVALID_JSON,
        SyncError.INVALID_REQUEST,
    ),
    "TooLarge": _error(
        "the body is over the size limit (5 MB by default), sent with a length or chunked; retry in smaller batches",
        SyncError.BODY_TOO_LARGE,
    ),
    "UnsupportedMediaType": _error(
        "the request declared a Content-Type other than JSON; do not retry: fix the client",
        SyncError.UNSUPPORTED_MEDIA_TYPE,
    ),
    "TooManyIds": _error(
        f"more offline_ids than the limit ({MAX_STATUS_IDS} by default); ask in chunks", SyncError.TOO_MANY_IDS
    ),
}


def _shared(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


# The errors every call with a device token can meet.
_AUTHENTICATED = {
    "401": _shared("Unauthorized"),
    "403": _shared("Revoked"),
    "429": _shared("RateLimited"),
    "503": _shared("DatabaseUnavailable"),
}
# The errors of a call with a JSON body.
_BODY = {"400": _shared("NotJson"), "413": _shared("TooLarge"), "415": _shared("UnsupportedMediaType")}


def _sync_operation(operation_id: str, summary: str) -> dict:
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["sync"],
        "requestBody": _json_body("SyncRequest"),
        "responses": {
            "200": _ok("one result per order, in request order, and the counts", "SyncResponse"),
            **_BODY,
            "422": _error(
                f"more orders than the batch limit ({MAX_ORDERS} by default); retry in smaller batches",
                SyncError.BATCH_TOO_LARGE,
            ),
            **_AUTHENTICATED,
        },
    }


_PATHS = {
    "/api/v1/sync": {"post": _sync_operation("sync", "Store a batch of sales exactly once")},
    "/sync": {
        "post": _sync_operation("syncAlias", "The same as POST /api/v1/sync (the path tills are often configured with)")
    },
    "/api/v1/sync/status": {
        "get": {
            "operationId": "syncStatus",
            "summary": "Whether each sale is stored (ids in the URL)",
            "tags": ["sync"],
            "parameters": [
                {
                    "name": "offline_id",
                    "in": "query",
                    "style": "form",
                    "explode": True,
                    "description": "the offline_ids asked about, repeated; answered in this order",
                    "schema": {"type": "array", "maxItems": MAX_STATUS_IDS, "items": {"type": "string"}},
                }
            ],
            "responses": {
                "200": _ok("the status of each id asked, in the order asked", "StatusResponse"),
                "414": _error("the request line is over 32 KB; use POST for long lists", SyncError.URI_TOO_LONG),
                "422": _shared("TooManyIds"),
                **_AUTHENTICATED,
            },
        },
        "post": {
            "operationId": "syncStatusByBody",
            "summary": "Whether each sale is stored (ids in the body)",
            "tags": ["sync"],
            "requestBody": _json_body("StatusRequest"),
            "responses": {
                "200": _ok("the status of each id asked, in the order asked", "StatusResponse"),
                **_BODY,
                "422": _shared("TooManyIds"),
                **_AUTHENTICATED,
            },
        },
    },
    "/api/v1/products": {
        "get": {
            "operationId": "products",
            "summary": "The catalogue the tills sell from",
            "tags": ["catalogue"],
            "parameters": [
                {
                    "name": "If-None-Match",
                    "in": "header",
                    "required": False,
                    "description": "the ETag of the catalogue the till holds",
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": _ok("every product", "Products", {"ETag": _ETAG}),
                "304": {"description": "the catalogue is unchanged since the ETag sent", "headers": {"ETag": _ETAG}},
                **_AUTHENTICATED,
            },
        },
    },
    "/api/v1/closings": {
        "post": {
            "operationId": "closeDay",
            "summary": "A till's daily close: the server compares it with what "
            "it stored for that till and business day, answers, and records it",
            "tags": ["closings"],
            "requestBody": _json_body("ClosingRequest"),
            "responses": {
                "200": _ok("matched, or the differences explained; recomputed at every answer", "ClosingResponse"),
                **_BODY,
                "422": _error(
                    "a field is missing or unreadable (invalid_closing: do not retry, fix the "
                    "client), or more offline_ids than the server takes (too_many_ids: send the "
                    "close without them)",
                    SyncError.INVALID_CLOSING,
                    SyncError.TOO_MANY_IDS,
                ),
                **_AUTHENTICATED,
            },
        },
    },
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["contract"],
            "security": [],
            "responses": {
                "200": {"description": "the OpenAPI document", "content": {JSON: {"schema": {"type": "object"}}}}
            },
        },
    },
}

_LINE = {
    "type": "object",
    "required": ["sku", "quantity", "unit_price"],
    "properties": {"sku": {"type": "string", "maxLength": 64}, "quantity": _DECIMAL, "unit_price": _DECIMAL},
}
_PAYMENT = {
    "type": "object",
    "required": ["method", "amount"],
    "properties": {"method": {"type": "string", "maxLength": 32}, "amount": _DECIMAL},
}

# The contract's example sale (docs/sync-protocol.md); schemathesis sends it too.
_EXAMPLE_BATCH: dict[str, Any] = {
    "batch_id": "5d0c3c52-9a8e-4b7e-a1c4-2f0a9d3e6b71",
    "orders": [
        {
            "offline_id": "0f8a6c1e-7b2d-4c3e-9f10-5a6b7c8d9e0f",
            "receipt_number": "T03-000042",
            "created_at": "2026-11-25T09:58:11+01:00",
            "cashier": "Amal",
            "lines": [
                {"sku": "COFFEE", "quantity": "2", "unit_price": "2.50"},
                {"sku": "BREAD", "quantity": "1", "unit_price": "3.20"},
            ],
            "total": "8.20",
            "payments": [{"method": "cash", "amount": "8.20"}],
        }
    ],
}

# Answers are closed (additionalProperties: false), so a field the server adds without
# documenting it fails the schemathesis run; requests are open (fields outside the
# contract are ignored).
_SCHEMAS = {
    "Sale": {
        "type": "object",
        "required": ["offline_id", "created_at", "lines", "total"],
        "description": "One sale. A sale that breaks a rule is answered `rejected` alone; its batch's other "
        "sales are still stored. Fields outside the contract are ignored.",
        "properties": {
            "offline_id": {
                "type": "string",
                "format": "uuid",
                "description": "the idempotency key, made when the sale is made; any UUID version, a "
                "time-ordered version 7 recommended (docs/sync-protocol.md)",
            },
            "receipt_number": {"type": "string", "maxLength": 64},
            "created_at": {"type": "string", "format": "date-time", "description": "with a UTC offset"},
            "cashier": {"type": "string", "maxLength": 100},
            "lines": {"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": _LINE},
            "total": _DECIMAL,
            "payments": {"type": "array", "maxItems": MAX_PAYMENTS, "items": _PAYMENT},
        },
    },
    "SyncRequest": {
        "type": "object",
        "required": ["orders"],
        "examples": [_EXAMPLE_BATCH],
        "properties": {
            "batch_id": {"type": "string", "maxLength": 100, "description": "for the logs only"},
            "orders": {"type": "array", "maxItems": MAX_ORDERS, "items": {"$ref": "#/components/schemas/Sale"}},
        },
    },
    "SaleResult": {
        "type": "object",
        "required": ["offline_id", "status"],
        "additionalProperties": False,
        "properties": {
            "offline_id": {"type": ["string", "null"], "description": "as sent; null when the order had none"},
            "status": {"type": "string", "enum": [str(status) for status in SaleStatus]},
            "order_id": {"type": "integer"},
            "invoice_number": {"type": ["string", "null"]},
            "reason": {"type": "string", "enum": [str(reason) for reason in Reason]},
            "message": {"type": "string"},
        },
    },
    "SyncResponse": {
        "type": "object",
        "additionalProperties": False,
        "required": ["sync_id", "received", "created", "duplicates", "conflicts", "rejected", "results"],
        "properties": {
            "sync_id": {"type": "integer"},
            **{
                name: {"type": "integer", "minimum": 0}
                for name in ("received", "created", "duplicates", "conflicts", "rejected")
            },
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/SaleResult"}},
        },
    },
    "StatusRequest": {
        "type": "object",
        "required": ["offline_ids"],
        "examples": [{"offline_ids": [_EXAMPLE_BATCH["orders"][0]["offline_id"], "not-a-uuid"]}],
        "properties": {"offline_ids": {"type": "array", "maxItems": MAX_STATUS_IDS, "items": {"type": "string"}}},
    },
    "StatusResponse": {
        "type": "object",
        "required": ["results"],
        "additionalProperties": False,
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["offline_id", "status", "order_id", "invoice_number"],
                    "additionalProperties": False,
                    "properties": {
                        "offline_id": {"type": "string"},
                        "status": {"type": "string", "enum": ["synced", "unknown"]},
                        "order_id": {"type": ["integer", "null"]},
                        "invoice_number": {"type": ["string", "null"]},
                    },
                },
            }
        },
    },
    "Products": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["sku", "name", "price"],
            "additionalProperties": False,
            "properties": {
                "sku": {"type": "string"},
                "name": {"type": "string"},
                "price": {"type": "string", "pattern": "^-?[0-9]+\\.[0-9]{2}$"},
            },
        },
    },
    "ClosingRequest": {
        "type": "object",
        "required": ["business_day", "sales_count", "sales_total"],
        "description": "The till's own figures for one business day (its Z-report). Fields outside the contract "
        "are ignored.",
        "examples": [
            {
                "business_day": "2026-11-25",
                "sales_count": 1,
                "sales_total": "8.20",
                "first_receipt": "T03-000042",
                "last_receipt": "T03-000042",
                "offline_ids": [_EXAMPLE_BATCH["orders"][0]["offline_id"]],
            }
        ],
        "properties": {
            "business_day": {
                "type": "string",
                "format": "date",
                "description": "the till's local day, in the shop's time zone",
            },
            "sales_count": {"type": "integer", "minimum": 0, "maximum": MAX_SALES_COUNT},
            "sales_total": _DECIMAL,
            "first_receipt": {"type": ["string", "null"], "maxLength": 64},
            "last_receipt": {"type": ["string", "null"], "maxLength": 64},
            "offline_ids": {
                "type": ["array", "null"],
                "maxItems": MAX_CLOSING_IDS,
                "description": "the day's sales, each once, exactly sales_count of them",
                "items": {"type": "string", "format": "uuid"},
            },
        },
    },
    "ClosingFigures": {
        "type": "object",
        "required": ["count", "total"],
        "additionalProperties": False,
        "properties": {"count": {"type": "integer", "minimum": 0}, "total": {"type": ["string", "null"]}},
    },
    "ClosingResponse": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "closing_id",
            "business_day",
            "time_zone",
            "record",
            "current",
            "status",
            "till",
            "server",
            "differences",
        ],
        "properties": {
            "closing_id": {"type": "integer"},
            "business_day": {"type": "string", "format": "date"},
            "time_zone": {"type": "string", "description": "the IANA zone the business day is read in"},
            "record": {"type": "string", "enum": [str(record) for record in ClosingRecord]},
            "current": {"type": "boolean"},
            "status": {"type": "string", "enum": [str(ClosingStatus.MATCHED), str(ClosingStatus.DIFFERS)]},
            "till": {"$ref": "#/components/schemas/ClosingFigures"},
            "server": {"$ref": "#/components/schemas/ClosingFigures"},
            "differences": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kind", "count", "amount", "offline_ids"],
                    "additionalProperties": False,
                    "properties": {
                        "kind": {"type": "string", "enum": [str(kind) for kind in ClosingDifference]},
                        "count": {"type": "integer", "minimum": 0},
                        "amount": {"type": ["string", "null"]},
                        "offline_ids": {"type": "array", "maxItems": 100, "items": {"type": "string"}},
                    },
                },
            },
        },
    },
    "Error": _error("any whole-request error", *SyncError)["content"][JSON]["schema"],
}


def document() -> dict:
    """The OpenAPI 3.1 document of the till API."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tillsync till API",
            "version": "1.0.0",
            "description": "The sync contract between point-of-sale tills and the server; the prose is "
            "docs/sync-protocol.md. Every error under /api/ is JSON shaped like "
            "`Error`; see the contract for which ones a till should retry. Besides the "
            "answers listed per operation: 404 `not_found` (no such address), 405 "
            "`method_not_allowed` (with an Allow header), 500 `internal_error`, and "
            "behind nginx 502 `server_unavailable` and 504 `server_timeout` (retry: "
            "each sale is stored once).",
        },
        "security": [{"deviceToken": []}],
        "paths": _PATHS,
        "components": {
            "securitySchemes": {
                "deviceToken": {"type": "http", "scheme": "bearer", "description": "the till's device token"}
            },
            "responses": _SHARED,
            "schemas": _SCHEMAS,
        },
    }


@bp.get("/api/v1/openapi.json")
def openapi_document():
    """The document itself; public, like any API description, and cacheable by its ETag."""
    response = jsonify(document())
    response.add_etag()
    return response.make_conditional(request)


if __name__ == "__main__":
    print(json.dumps(document(), indent=2, ensure_ascii=False))
