"""What the deployment tests ask of a running server: a till's sync, long status lists, raw requests."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import requests

from tests.support.sales import bearer, make_sale

# 500 offline_ids in the URL: the most GET /api/v1/sync/status must answer (docs/api contract).
STATUS_IDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(500)]


def till_syncs(url: str, token: str, timeout: float = 10.0) -> float:
    """One sale synced as the reference till does; returns the seconds it took."""
    sale = make_sale()
    started = time.monotonic()
    response = requests.post(f"{url}/api/v1/sync", json={"orders": [sale]}, headers=bearer(token), timeout=timeout)
    took = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "created"
    return took


def status_of_500_ids(url: str, token: str) -> requests.Response:
    query = "&".join(f"offline_id={value}" for value in STATUS_IDS)
    assert len(f"GET /api/v1/sync/status?{query} HTTP/1.1") > 20_000
    return requests.get(f"{url}/api/v1/sync/status?{query}", headers=bearer(token), timeout=30)


def raw_request(url: str, head: str, chunks=(), timeout: float = 30.0) -> tuple[int, dict, bytes]:
    """Send head and then each chunk, carrying on if the server stops reading; parse the answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed; its answer is still to be read
        answer = b""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
                if b"\r\n\r\n" in answer and _complete(answer):
                    break
        except ConnectionResetError:
            pass
    head_bytes, _, body = answer.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.decode("latin-1").split("\r\n"):
        if line.lower().startswith("content-length:"):
            return len(body) >= int(line.split(":", 1)[1])
    return False
