"""gunicorn settings read from the working directory by every `gunicorn wsgi:app` we start."""

# GET /api/v1/sync/status carries offline_ids in the URL; the largest request line
# gunicorn allows fits about 165 of them (tills with more use POST /api/v1/sync/status).
limit_request_line = 8190
# A sync of 500 sales can take a while on a busy SQLite; don't kill it half-way.
timeout = 60
graceful_timeout = 20
# gunicorn 27's control socket defaults to one path per user; several servers on
# one machine (tests, benchmarks) would share it. Tillsync does not use it.
control_socket_disable = True
