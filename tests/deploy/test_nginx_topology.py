"""deploy/nginx/tillsync.conf for real: Debian's nginx in front of a real gunicorn (issue 8, findings 1 and 9)."""

from __future__ import annotations

import json

import pytest
import requests

from tests.deploy.checks import STATUS_IDS, raw_request, status_of_500_ids, till_syncs
from tests.support.gunicorn import GunicornServer
from tests.support.nginx import NginxServer
from tests.support.sales import bearer
from tests.support.services import free_port
from tests.support.slow_clients import SlowClients, health_latencies

pytestmark = pytest.mark.slow

MAX_BODY = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def topology(till_database, redis_server):
    database_url, token = till_database
    gunicorn = GunicornServer(
        database_url, redis_server.url, workers=2, TRUSTED_PROXY_HOPS="1", SYNC_MAX_BODY_BYTES=str(MAX_BODY)
    ).start()
    nginx = None
    try:
        nginx = NginxServer(f"127.0.0.1:{gunicorn.port}", max_body_bytes=MAX_BODY).start()
        yield nginx, token
    finally:
        if nginx:
            nginx.stop()
        gunicorn.stop()


def test_200_slow_header_and_200_slow_body_clients_do_not_stop_tills_or_health(topology):
    nginx, token = topology
    # From 20 addresses, 10 of each kind per address: within the per-address limits.
    slow_heads = SlowClients(nginx.url, 200, "header", sources=20).start()
    slow_bodies = SlowClients(nginx.url, 200, "body", sources=20, token=token).start()
    try:
        assert till_syncs(nginx.url, token) < 1.0
        latencies = health_latencies(nginx.url, samples=10, spacing=0.1)
        assert max(latencies) < 1.0, latencies
        assert till_syncs(nginx.url, token) < 1.0
        # Held open all along (well within nginx's 10 s timeouts), not refused or dropped.
        assert slow_heads.open_count() == 200
        assert slow_bodies.open_count() == 200
    finally:
        slow_heads.stop()
        slow_bodies.stop()


def test_one_address_holding_too_many_requests_gets_json_429(topology):
    nginx, token = topology
    hog = SlowClients(nginx.url, 40, "body", sources=1, first_source=200, token=token).start()
    try:
        # 32 requests in progress per address (limit_conn); the rest are answered at once.
        assert hog.wait_for_open_count(32) == 32
        answer = hog.sockets[-1].recv(4096)
        assert answer.startswith(b"HTTP/1.1 429") and b'"error": "rate_limited"' in answer
        assert b"Retry-After: 1" in answer
        # Others, and health checks, are not affected by one hog.
        assert max(health_latencies(nginx.url, samples=3, spacing=0)) < 1.0
    finally:
        hog.stop()


def test_status_of_500_ids_by_get_through_nginx(topology):
    nginx, token = topology
    response = status_of_500_ids(nginx.url, token)
    assert response.status_code == 200, response.text[:300]
    assert [r["offline_id"] for r in response.json()["results"]] == STATUS_IDS
    # Longer than any till sends: refused by nginx, but in the API's JSON.
    too_long = requests.get(
        f"{nginx.url}/api/v1/sync/status?offline_id={'a' * 40_000}", headers=bearer(token), timeout=10
    )
    assert too_long.status_code == 414 and too_long.json()["error"] == "uri_too_long"


def test_over_size_body_gets_json_413_with_or_without_content_length(topology):
    nginx, token = topology
    head = (
        f"POST /api/v1/sync HTTP/1.1\r\nHost: tills\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nConnection: close\r\n"
    )
    body = b'{"orders": [' + b" " * (MAX_BODY + 1024) + b"]}"
    status, headers, answer = raw_request(nginx.url, head + f"Content-Length: {len(body)}\r\n\r\n", [body])
    assert status == 413 and headers["content-type"] == "application/json"
    assert json.loads(answer)["error"] == "body_too_large"

    piece = b" " * 65536
    chunks = [b'%x\r\n{"orders": [\r\n' % len(b'{"orders": [')]
    chunks += [b"%x\r\n" % len(piece) + piece + b"\r\n"] * (MAX_BODY // len(piece) + 8)
    chunks += [b"2\r\n]}\r\n0\r\n\r\n"]
    status, headers, answer = raw_request(nginx.url, head + "Transfer-Encoding: chunked\r\n\r\n", chunks)
    assert status == 413 and headers["content-type"] == "application/json"
    assert json.loads(answer)["error"] == "body_too_large"


def test_api_errors_are_json_through_nginx_and_hsts_only_on_https(topology):
    nginx, token = topology
    response = requests.get(f"{nginx.url}/api/v1/nope", headers=bearer(token), timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == "not_found"
    # Plain HTTP here: no Strict-Transport-Security (it would pin browsers to an HTTPS that is not there).
    assert "Strict-Transport-Security" not in requests.get(f"{nginx.url}/healthz", timeout=10).headers
    wrong_method = requests.get(f"{nginx.url}/api/v1/sync", headers=bearer(token), timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"


def test_gunicorn_down_answers_json_502_to_tills():
    nginx = NginxServer(f"127.0.0.1:{free_port()}").start()  # nothing listens there
    try:
        down = requests.get(f"{nginx.url}/api/v1/products", timeout=10)
        assert down.status_code == 502 and down.json()["error"] == "server_unavailable"
        assert down.headers["Retry-After"] == "5"
    finally:
        nginx.stop()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_hsts_over_https(topology):
    nginx, token = topology
    secure = NginxServer(nginx.upstream, https=True).start()
    try:
        response = requests.get(f"{secure.url}/healthz", timeout=10, verify=False)
        assert response.status_code == 200
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        refused = requests.get(f"{secure.url}/api/v1/nope", timeout=10, verify=False)
        assert refused.status_code == 404 and refused.json()["error"] == "not_found"
    finally:
        secure.stop()
