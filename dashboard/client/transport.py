"""HTTP to the sync server with urllib, and what each kind of failure means for the till.

Every failure is turned into one of four exceptions, each with one way to act:
TransientError (back off and retry: 408, 429, 5xx, time-outs, connection errors),
BatchTooLarge (413/422: send fewer sales at a time), AuthError (401/403: stop,
a person must fix the token), RequestError (any other refusal: stop and report).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from urllib.parse import urlencode

# Status look-ups go in the query string. Servers commonly refuse request lines
# over 4 KB (gunicorn's default limit_request_line is 4094 bytes), so ask for
# at most this many ids a request even though the contract allows 500.
STATUS_IDS_PER_REQUEST = 50


class SyncError(Exception):
    """A request that did not get a usable answer."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.code = status, code


class TransientError(SyncError):
    """Try again later: the server may or may not have received the request."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class BatchTooLarge(SyncError):
    """413 or 422: the batch must be split."""


class AuthError(SyncError):
    """401 or 403: the token is unknown or the till is revoked; retrying will not help."""


class RequestError(SyncError):
    """Any other refusal of the whole request, or an answer that breaks the contract."""


class HttpTransport:
    """The calls a till makes, against server_url with the device's bearer token."""

    def __init__(self, server_url: str, token: str, *, timeout: float = 10.0):
        # The token goes with every request: never to a file: or custom scheme urllib would also open.
        if not server_url.startswith(("http://", "https://")):
            raise ValueError(f"server_url must be an http:// or https:// URL, not {server_url!r}")
        self.server_url = server_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        # Tills talk to their server directly; an http_proxy set for other tools must not reroute them.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def post_sync(self, body: bytes) -> dict:
        """POST /api/v1/sync with a ready JSON body; the decoded 200 answer."""
        answer = self._request("POST", "/api/v1/sync", body)
        if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
            raise RequestError("the sync answer has no 'results' list")
        return answer

    def sync_status(self, offline_ids: list[str]) -> list[dict]:
        """GET /api/v1/sync/status for these ids (any number: asked in small groups)."""
        results: list[dict] = []
        for start in range(0, len(offline_ids), STATUS_IDS_PER_REQUEST):
            chunk = offline_ids[start : start + STATUS_IDS_PER_REQUEST]
            answer = self._request("GET", "/api/v1/sync/status?" + urlencode([("offline_id", i) for i in chunk]))
            got = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(got, list) or len(got) != len(chunk):
                raise RequestError(f"the status answer does not have one result for each of the {len(chunk)} ids")
            results += got
        return results

    def post_closing(self, body: bytes) -> dict:
        """POST /api/v1/closings with a ready JSON body; the decoded 200 answer."""
        answer = self._request("POST", "/api/v1/closings", body)
        if not isinstance(answer, dict) or answer.get("status") not in ("matched", "differs"):
            raise RequestError("the closing answer has no 'status' of matched or differs")
        return answer

    def products(self) -> list[dict]:
        """GET /api/v1/products: [{"sku", "name", "price"}]."""
        answer = self._request("GET", "/api/v1/products")
        if not isinstance(answer, list):
            raise RequestError("the products answer is not a list")
        return answer

    def _request(self, method: str, path: str, body: bytes | None = None):
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            **({"Content-Type": "application/json"} if body is not None else {}),
        }
        url = self.server_url + path  # http(s) only: checked in __init__
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _http_failure(exc) from None
        except urllib.error.URLError as exc:
            raise TransientError(f"cannot reach the server: {exc.reason}") from None
        except TimeoutError as exc:
            raise TransientError(f"no answer within {self.timeout} s: {exc}") from None
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            raise TransientError(f"the connection broke before the answer: {exc!r}") from None
        try:
            return json.loads(raw)
        except ValueError:
            # A 200 that is not JSON (a captive portal, a proxy page): the sales' fate is unknown.
            raise TransientError("the answer is not JSON") from None


def _http_failure(exc: urllib.error.HTTPError) -> SyncError:
    """The exception for a non-2xx answer, with the server's error code and message where it sent them."""
    try:
        payload = json.loads(exc.read() or b"null")
    except (ValueError, OSError, http.client.HTTPException):
        payload = None
    code = payload.get("error") if isinstance(payload, dict) else None
    message = payload.get("message") if isinstance(payload, dict) else None
    text = f"HTTP {exc.code}" + (f" {code}" if code else "") + (f": {message}" if message else f": {exc.reason}")
    status = exc.code
    if status in (401, 403):
        return AuthError(text, status=status, code=code)
    if status in (413, 422):
        return BatchTooLarge(text, status=status, code=code)
    if code == "schema_not_ready":
        # The server needs its operator (migrations), not more requests: stop, keep the sales, report.
        return RequestError(text, status=status, code=code)
    if status in (408, 429) or status >= 500:
        return TransientError(text, status=status, code=code, retry_after=_retry_after(exc.headers))
    return RequestError(text, status=status, code=code)


def _retry_after(headers) -> float | None:
    try:
        return max(0.0, float(headers.get("Retry-After")))
    except (TypeError, ValueError):
        return None
