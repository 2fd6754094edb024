"""WSGI entry point for a checkout: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

from dashboard.wsgi import app  # noqa: F401
