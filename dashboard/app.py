"""The application factory: config, extensions, blueprints, CLI, logging; nothing else."""

from __future__ import annotations

import os

from flask import Flask
from werkzeug.routing import IntegerConverter

from .config import Settings, split_overrides
from .database import configure_engine
from .extensions import csrf, db, login_manager, migrate
from .resources import resource_path


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` limited to what an INTEGER key holds (32 bits on PostgreSQL), so a larger id is a 404."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's parameter name
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(overrides: dict | None = None, instance_path: str | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, CLI, logging; nothing else."""
    instance_path = instance_path or os.environ.get("TILLSYNC_INSTANCE_PATH") or None
    # Settings first: a value that cannot work stops the start here, naming its variable.
    fields, flask_only = split_overrides(overrides or {})
    settings = Settings.load(**fields)
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=instance_path,
        template_folder=str(resource_path("templates")),
        static_folder=str(resource_path("static")),
    )
    app.config.from_mapping(settings.flask_config(app.instance_path))
    app.config.update(flask_only)
    app.extensions["tillsync.settings"] = settings
    # Ids in URLs are database keys: a larger number is no page, not a database error.
    app.url_map.converters["int"] = DatabaseIdConverter
    _trust_proxy(app)
    _register_extensions(app)
    _register_blueprints(app)
    _register_commands(app)
    _register_observability(app)
    return app


def _trust_proxy(app: Flask) -> None:
    """Behind nginx, take the client's address and scheme from exactly that many proxies."""
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def _register_extensions(app: Flask) -> None:
    from . import models  # noqa: F401  (tables must be known to migrations)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(resource_path("migrations")), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    _register_babel(app)
    with app.app_context():
        configure_engine(db.engine)


def _register_babel(app: Flask) -> None:
    """Flask-Babel: the dashboard in English or Arabic; catalogues in dashboard/translations (.mo committed)."""
    from .admin.i18n import babel, select_locale

    babel.init_app(app, locale_selector=select_locale)


def _register_blueprints(app: Flask) -> None:
    from .admin import bp as admin_bp
    from .api import bp as api_bp

    # Tills authenticate with bearer tokens, not cookies: CSRF does not apply to them.
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)


def _register_observability(app: Flask) -> None:
    """JSON logs with request ids, /readyz and /metrics (dashboard/observability)."""
    from .observability import init_app

    init_app(app)


def _register_commands(app: Flask) -> None:
    from .cli import register_cli

    register_cli(app)
