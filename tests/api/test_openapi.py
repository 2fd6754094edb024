"""The published contract: the OpenAPI document is valid, served, complete, and the prose lists every code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from dashboard.api.openapi import document
from dashboard.vocabulary import Reason, SyncError

REPO = Path(__file__).resolve().parents[2]


def test_the_document_is_valid_openapi_3_1():
    spec = document()
    assert spec["openapi"].startswith("3.1.")
    validate(spec, cls=OpenAPIV31SpecValidator)  # raises on any error


def test_the_repository_copy_is_the_modules_output():
    """docs/openapi.json is what vendors read in the repository; it must be what the server answers."""
    committed = json.loads((REPO / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == document(), "regenerate: python -m dashboard.api.openapi > docs/openapi.json"


def test_the_document_is_served_without_a_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == document()
    again = client.get("/api/v1/openapi.json", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def _documented(app) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in document()["paths"].items() for method in item}


def _routed(app) -> set[tuple[str, str]]:
    """Every (path, method) served under /api/ or by the API blueprint (the /sync alias)."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.endpoint.startswith("api.")):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_every_api_route_is_documented_and_nothing_else(app):
    routed = _routed(app)
    assert ("/api/v1/sync", "POST") in routed  # the walk over the url_map does find the API
    assert routed == _documented(app)


def test_every_operation_documents_its_errors_as_json_with_a_code():
    spec = document()
    shared = spec["components"]["responses"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if int(status) < 400:
                    continue
                if "$ref" in answer:
                    answer = shared[answer["$ref"].rsplit("/", 1)[-1]]
                schema = answer["content"]["application/json"]["schema"]
                assert schema["required"] == ["error", "message"], (path, method, status)
                assert set(schema["properties"]["error"]["enum"]) <= set(SyncError), (path, method, status)
                if status in ("429", "503"):
                    assert answer["headers"]["Retry-After"]["required"], (path, method, status)


def _table_rows(text: str, header: str) -> dict[str, list[str]]:
    """The rows of the Markdown table whose header row starts with `header`, keyed by their first `code`."""
    lines = text.splitlines()
    start = next(number for number, line in enumerate(lines) if line.startswith(header))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        codes = re.findall(r"`([a-z_]+)`", line)
        rows[codes[0]] = cells
    return rows


def test_the_prose_contract_lists_every_error_code_with_status_and_retry():
    text = (REPO / "docs" / "sync-protocol.md").read_text(encoding="utf-8")
    rows = _table_rows(text, "| HTTP | `error` |")
    for code in SyncError:
        assert str(code) in rows, f"docs/sync-protocol.md has no table row for error {code}"
        status, retry = rows[str(code)][0], rows[str(code)][-1]
        assert re.fullmatch(r"[1-5](?:[0-9][0-9]|xx)", status), (code, status)
        assert retry.startswith(("yes", "no")), (code, retry)


def test_the_prose_contract_lists_every_reason_code_with_its_status_and_retry():
    text = (REPO / "docs" / "sync-protocol.md").read_text(encoding="utf-8")
    rows = _table_rows(text, "| reason | on status |")
    for reason in Reason:
        assert str(reason) in rows, f"docs/sync-protocol.md has no table row for reason {reason}"
        cells = rows[str(reason)]
        assert any(status in cells[1] for status in ("created", "duplicate", "conflict", "rejected")), cells
        assert cells[-1].startswith(("yes", "no")), cells


def test_the_prose_contract_describes_both_forms_of_sync_status():
    text = (REPO / "docs" / "sync-protocol.md").read_text(encoding="utf-8")
    assert "## GET /api/v1/sync/status" in text and "## POST /api/v1/sync/status" in text


@pytest.mark.parametrize(
    "status, code, method, path, kwargs",
    [
        (404, "not_found", "get", "/api/v1/nope", {}),
        (405, "method_not_allowed", "delete", "/api/v1/sync", {}),
        (405, "method_not_allowed", "put", "/api/v1/sync/status", {}),
        (405, "method_not_allowed", "post", "/api/v1/products", {}),
        (
            415,
            "unsupported_media_type",
            "post",
            "/api/v1/sync",
            {"data": "orders=1", "content_type": "application/x-www-form-urlencoded"},
        ),
        (415, "unsupported_media_type", "post", "/api/v1/sync/status", {"data": "x", "content_type": "text/plain"}),
        (
            413,
            "body_too_large",
            "post",
            "/api/v1/sync/status",
            {"data": json.dumps({"offline_ids": ["x" * 100] * 60_000}), "content_type": "application/json"},
        ),
    ],
)
def test_every_api_error_is_json_with_a_code(client, token, status, code, method, path, kwargs):
    response = getattr(client, method)(path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == code
    assert response.get_json()["message"]
    if status == 405:
        allowed = {method.strip() for method in response.headers["Allow"].split(",")}
        assert method.upper() not in allowed and allowed & {"GET", "POST"}, allowed


def test_a_body_without_a_content_type_is_still_read_as_json(client, token, catalog):
    """Tills that never set the header keep working: only a declared non-JSON type is a 415."""
    response = client.post(
        "/api/v1/sync/status", data=json.dumps({"offline_ids": ["a"]}), headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.data[:300]
    assert response.get_json()["results"][0]["status"] == "unknown"


def test_a_dashboard_address_that_starts_like_the_alias_gets_a_page(client):
    """Only /sync itself is the API's alias: /sync-logs/... and other dashboard 404s stay HTML pages."""
    response = client.get("/sync-logs-nope")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert client.get("/sync/nope").mimetype == "application/json"


def test_the_alias_answers_a_wrong_method_in_json_with_allow(client):
    response = client.get("/sync")
    assert response.status_code == 405 and response.get_json()["error"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_the_errors_the_http_servers_answer_themselves_are_contract_codes():
    """nginx (deploy/) and gunicorn (gunicorn.conf.py) answer some errors before the app: same vocabulary."""
    sources = [
        (REPO / "deploy" / "nginx" / "tillsync.conf").read_text(encoding="utf-8"),
        (REPO / "gunicorn.conf.py").read_text(encoding="utf-8"),
    ]
    codes = {code for text in sources for code in re.findall(r'"error"\s*:\s*"([a-z_]+)"', text)}
    assert {"uri_too_long", "body_too_large", "server_unavailable"} <= codes
    assert codes <= set(SyncError), codes - set(SyncError)
