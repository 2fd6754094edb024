"""The `tillsync` command: what an operator runs from an installed wheel, no checkout needed.

    tillsync web [gunicorn options]   the server: gunicorn with the shipped settings
    tillsync worker                   the RQ worker (with its scheduler)
    tillsync db upgrade, tillsync users create ..., tillsync <any flask command>

Settings come from the environment (README, "Settings"); TILLSYNC_INSTANCE_PATH says
where the SQLite database, the generated secret key and the embedded Redis live when
no URLs are given.
"""

from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup

GUNICORN_CONFIG = "python:dashboard.gunicorn_conf"
WSGI_APP = "dashboard.wsgi:app"


def _create_app():
    from . import create_app

    return create_app()


@click.command("web", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("gunicorn_args", nargs=-1, type=click.UNPROCESSED)
def web(gunicorn_args: tuple[str, ...]) -> None:
    """Serve the app with gunicorn and the shipped settings; other options go to gunicorn (e.g. -b, -w)."""
    from gunicorn.app.wsgiapp import run

    from .config import Settings

    Settings.load()  # refuse here, with the variable's name, rather than as a worker that fails to boot
    # gunicorn reads its own command line: the shipped config first, so options given here win.
    sys.argv = ["tillsync web", "-c", GUNICORN_CONFIG, *gunicorn_args, WSGI_APP]
    run()


cli = FlaskGroup(
    name="tillsync",
    create_app=_create_app,
    add_version_option=False,
    help="Tillsync: the web server, the worker and the admin commands.",
)
cli.add_command(web)


def main() -> None:
    from .config import SettingError

    try:
        cli.main(prog_name="tillsync")
    except SettingError as exc:
        click.echo(f"tillsync: cannot start: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
