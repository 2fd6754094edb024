"""gunicorn settings for every gunicorn that serves Tillsync.

`tillsync web` loads them as `-c python:dashboard.gunicorn_conf`, so an installed wheel
has them with no checkout; gunicorn.conf.py at the repository root imports them for
the `gunicorn wsgi:app` that scripts/run.sh, tests/support/gunicorn.py and deploy/ start
from there.
"""

import json
import os

import gunicorn.http.message as _http_message
import gunicorn.util as _gunicorn_util

# Files gunicorn and the app create (access and error logs, a new SQLite database,
# the instance folder) are the service user's alone: the access log holds client
# addresses and the database holds every sale. gunicorn's own `umask` setting only
# covers its sockets, so set the process umask here, before gunicorn opens its logs.
os.umask(0o077)

# GET /api/v1/sync/status carries offline_ids in the URL, and the contract promises
# 500 of them: 500 x "offline_id=<36-char uuid>&" is about 24,500 bytes. gunicorn's
# limit_request_line stops at 8,190 (about 165 ids) unless it is 0, which its pure
# Python parser reads as "no limit at all" (a client could send a line of any size
# into a worker's memory). We keep a bound, just a larger one: gunicorn clamps the
# setting to http.message.MAX_REQUEST_LINE at every request, so raising that ceiling
# to the same bound is enough. tests/deploy/test_gunicorn_alone.py sends 500 ids, so
# a gunicorn release that stops honouring this fails the tests, not a till.
REQUEST_LINE_BYTES = 32 * 1024
_http_message.MAX_REQUEST_LINE = max(_http_message.MAX_REQUEST_LINE, REQUEST_LINE_BYTES)
limit_request_line = REQUEST_LINE_BYTES

# A longer request line is refused by gunicorn itself, before Flask sees it, with an
# HTML page; a till reads the API's JSON errors ({"error": code, "message": text}).
# gunicorn writes every such refusal through util.write_error (workers/base.py,
# handle_error), which has no hook, so the 414 is written here instead. The path is
# not known yet (the line was never parsed), so every 414 is JSON, as nginx's is in
# deploy/nginx/tillsync.conf; no dashboard page has a 32 KB address.
# tests/deploy/test_gunicorn_alone.py checks the answer through a real gunicorn.
_write_html_error = _gunicorn_util.write_error
_URI_TOO_LONG = (
    json.dumps(
        {
            "error": "uri_too_long",
            "message": "the request line is too long; use POST /api/v1/sync/status for long lists",
        }
    ).encode()
    + b"\n"
)


def _write_error(sock, status_int, reason, mesg):
    if status_int != 414:
        return _write_html_error(sock, status_int, reason, mesg)
    head = (
        f"HTTP/1.1 414 {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(_URI_TOO_LONG)}\r\n\r\n"
    )
    _gunicorn_util.write_nonblock(sock, head.encode("latin-1") + _URI_TOO_LONG)


_gunicorn_util.write_error = _write_error

# Threaded workers: a client that sends its request slowly (a bad network, or on
# purpose) holds one thread, not a whole worker. With sync workers three such
# clients stopped the service (issue 8, finding 1). 3 workers x 8 threads serve 24
# requests at once; a few slow clients leave the rest answering. Many slow clients
# are nginx's job (deploy/nginx/tillsync.conf buffers whole requests first).
# SQLite stays correct with threads: every write runs in database.run_write with
# BEGIN IMMEDIATE and each request thread has its own session and pooled connection.
worker_class = "gthread"
threads = 8

# A sync of 500 sales can take a while on a busy SQLite; don't kill it half-way.
timeout = 60
graceful_timeout = 20
# gunicorn 27's control socket defaults to one path per user; several servers on
# one machine (tests, benchmarks) would share it. Tillsync does not use it.
control_socket_disable = True

# Logs: gunicorn's error and access lines as JSON objects, like the app's, the access line with
# the request id (dashboard/observability/gunicorn_logging.py). LOG_FORMAT=text keeps gunicorn's own.
logger_class = "dashboard.observability.gunicorn_logging.JsonLogger"

# Prometheus metrics in multiprocess mode: each worker writes its counters to files in this
# folder and /metrics adds them up, whichever worker answers the scrape. prometheus-client reads
# PROMETHEUS_MULTIPROC_DIR when a worker first imports it, so it is set here, in the master,
# before any worker starts. Files of a previous run would be counted again: an operator's folder
# is emptied at start; ours is made fresh and removed at exit.
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_dir:
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tillsync-metrics-")
else:
    import glob

    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    for _stale in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(_stale)


def child_exit(server, worker):
    """A worker that exited leaves its counters (they still count) but not its live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        import shutil

        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
