"""Where the files that are not Python live: templates, static files and migrations.

In the repository they stay at its top level (templates/, static/, migrations/), where
designers and `flask db` expect them. A built wheel carries them inside the package as
dashboard/shipped/<name> (setup.py maps them there at build time), because an installed
package has no repository next to it. The app asks here and gets whichever exists.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
SHIPPED = PACKAGE / "shipped"
CHECKOUT = PACKAGE.parent


def resource_path(name: str) -> Path:
    """templates, static or migrations: from the installed wheel, else from the checkout."""
    shipped = SHIPPED / name
    if shipped.is_dir():
        return shipped
    return CHECKOUT / name
