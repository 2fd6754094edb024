"""gunicorn settings for every gunicorn that serves Tillsync.

`tillsync web` loads them as `-c python:dashboard.gunicorn_conf`, so an installed wheel
has them with no checkout; gunicorn.conf.py at the repository root imports them for
the `gunicorn wsgi:app` that scripts/run.sh, tests/support/gunicorn.py and deploy/ start
from there.
"""
import os

import gunicorn.http.message as _http_message

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
