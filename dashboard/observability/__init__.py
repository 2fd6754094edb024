"""Operations: request ids, JSON logs, readiness and Prometheus metrics.

Kept apart from the dashboard and the API: these serve the people and tools
that run Tillsync (load balancers, Prometheus, log collectors), not shops.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Install logging, the request hooks (request id, latency) and the /readyz and /metrics routes."""
    from .logs import configure_logging
    from .requests import install_request_hooks
    from .views import bp

    configure_logging(app)
    install_request_hooks(app)
    app.register_blueprint(bp)
