"""WSGI entry point inside the package: `gunicorn dashboard.wsgi:app`, what `tillsync web` serves."""

from dashboard import create_app

app = create_app()
