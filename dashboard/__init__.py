"""Tillsync: exactly-once sync for offline tills, and the dashboard around it.

Nothing is imported here at module level, so that dashboard.client (the till
side) can be used on a till that has no Flask installed.
"""

from __future__ import annotations


def create_app(overrides: dict | None = None, instance_path: str | None = None):
    """Build the Flask app (dashboard/app.py)."""
    from .app import create_app as build

    return build(overrides, instance_path)
