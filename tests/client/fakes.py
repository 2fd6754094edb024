"""Loopback stand-ins for a bad network in front of the real server."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FlakyProxy:
    """Forwards to upstream, except that the first fail_first requests get `status` (with Retry-After
    when given) without reaching it, and the answers of the first hold_first forwarded requests are
    held back for hold seconds (longer than the till waits: the server stored, the till timed out)."""

    def __init__(
        self,
        upstream: str,
        *,
        fail_first: int = 0,
        status: int = 503,
        retry_after: str | None = None,
        hold_first: int = 0,
        hold: float = 0.0,
    ):
        self.upstream = upstream.rstrip("/")
        self.fail_first, self.status, self.retry_after = fail_first, status, retry_after
        self.hold_first, self.hold = hold_first, hold
        self.seen: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._forwarded = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def do_GET(self):
                self._serve(None)

            def do_POST(self):
                self._serve(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _serve(self, body):
                with proxy._lock:
                    number = len(proxy.seen) + 1
                    failing = number <= proxy.fail_first
                    if not failing:
                        proxy._forwarded += 1
                    holding = not failing and proxy._forwarded <= proxy.hold_first
                if failing:
                    headers = {"Retry-After": proxy.retry_after} if proxy.retry_after else {}
                    answer = json.dumps({"error": "simulated", "message": "injected by the test proxy"}).encode()
                    status = proxy.status
                else:
                    status, answer, headers = proxy._forward(self.command, self.path, body, self.headers)
                with proxy._lock:
                    proxy.seen.append((self.command, self.path.split("?")[0], status))
                if holding:
                    time.sleep(proxy.hold)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the till gave up waiting: that is the point of holding the answer

        return Handler

    def _forward(self, method, path, body, headers):
        request = urllib.request.Request(
            self.upstream + path,
            data=body,
            method=method,
            headers={key: headers[key] for key in ("Authorization", "Content-Type") if headers.get(key)},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=30) as response:
                return response.status, response.read(), {}
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), {}
