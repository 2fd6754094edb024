"""Clients that send their request very slowly and never finish it, on purpose.

Used by tests/deploy and tests/perf/bench_slow_clients.py. Loopback only; every
connection is closed by stop(), and a background thread sends the next few bytes
of each request every `interval` seconds, as the slow clients of issue 8 did.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from urllib.parse import urlsplit

import requests


class SlowClients:
    """count connections to url, each sending `kind` ("header" or "body") slowly.

    "header": a request line, then one more header line every interval (the head never ends).
    "body": a whole head announcing a 100 KB sale batch, then one byte of it every interval;
            with a till's real token the app starts reading it (the worst case: a till on a bad line).
    Source addresses are spread over `sources` addresses from 127.0.0.<first_source> on, because the
    nginx topology limits connections per client address: many slow clients from one
    address are refused, which is also what the tests check.
    """

    def __init__(
        self,
        url: str,
        count: int,
        kind: str,
        *,
        interval: float = 1.0,
        sources: int = 1,
        first_source: int = 2,
        token: str = "slow",
    ):
        parts = urlsplit(url)
        self.address = (parts.hostname, parts.port)
        self.count, self.kind, self.interval, self.sources = count, kind, interval, sources
        self.first_source, self.token = first_source, token
        self.sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def _head(self) -> bytes:
        host = f"Host: {self.address[0]}:{self.address[1]}\r\n"
        if self.kind == "header":
            return f"GET /healthz HTTP/1.1\r\n{host}".encode()
        return (
            f"POST /api/v1/sync HTTP/1.1\r\n{host}Authorization: Bearer {self.token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
        ).encode()

    def start(self) -> SlowClients:
        for n in range(self.count):
            sock = socket.socket()
            # Never 127.0.0.1: that is the address of the tills and health checks here.
            sock.bind((f"127.0.0.{self.first_source + n % self.sources}", 0))
            sock.settimeout(5)
            sock.connect(self.address)
            sock.sendall(self._head())
            sock.setblocking(False)
            self.sockets.append(sock)
        self._thread.start()
        return self

    def _trickle(self) -> None:
        piece = b"X-Slow: 1\r\n" if self.kind == "header" else b" "
        while not self._stop.wait(self.interval):
            for sock in self.sockets:
                try:
                    sock.send(piece)
                except OSError:
                    pass  # closed by the server: open_count() sees it

    def open_count(self) -> int:
        """How many connections the server has neither answered nor closed."""
        still_open = 0
        for sock in self.sockets:
            try:
                sock.recv(1, socket.MSG_PEEK)  # an answer, or b"" once closed: not waiting any more
            except BlockingIOError:
                still_open += 1  # nothing to read and not closed: still waiting on us
            except OSError:
                pass
        return still_open

    def wait_for_open_count(self, expected: int, timeout: float = 5.0) -> int:
        """open_count() once it equals expected, or when timeout is over (then the test sees the difference)."""
        deadline = time.monotonic() + timeout
        while (count := self.open_count()) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return count

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def health_latencies(url: str, samples: int = 10, spacing: float = 0.2, timeout: float = 5.0) -> list[float]:
    """Seconds each GET /healthz took (timeout when it did not answer); fresh connections each time."""
    latencies = []
    for _ in range(samples):
        started = time.monotonic()
        try:
            ok = requests.get(url + "/healthz", timeout=timeout).status_code == 200
        except requests.RequestException:
            ok = False
        latencies.append(time.monotonic() - started if ok else timeout)
        time.sleep(spacing)
    return latencies


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    return f"median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
