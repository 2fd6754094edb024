"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
from dashboard import create_app

app = create_app()
