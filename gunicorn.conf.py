"""gunicorn reads this file from the working directory: the settings live in the package."""

from dashboard.gunicorn_conf import *  # noqa: F403  (gunicorn takes every setting name defined here)
