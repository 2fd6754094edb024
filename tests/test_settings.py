"""Settings are checked at start-up: a value that cannot work stops the start and names its variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import create_app
from dashboard.config import SettingError, Settings
from dashboard.domain.ingestion import IngestRules
from dashboard.vocabulary import InvoicePolicy

REPO = Path(__file__).resolve().parent.parent
# Settings the tests' own environment might carry in; each test starts from none of them.
VARIABLES = [name for name in Settings.model_fields]
PG_URL = "postgresql://tillsync@127.0.0.1:1/tillsync"  # never connected to: the check comes first


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def start(tmp_path, **environment):
    """create_app as `flask`, gunicorn and the worker call it, under the given environment."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        return create_app(instance_path=str(tmp_path / "instance"))


def refusal(tmp_path, **environment) -> str:
    with pytest.raises(SettingError) as caught:
        start(tmp_path, **environment)
    return str(caught.value)


def test_an_invoice_policy_in_the_wrong_case_is_refused_not_read_as_server(tmp_path):
    message = refusal(tmp_path, INVOICE_POLICY="Device")
    assert "INVOICE_POLICY='Device'" in message and "'device'" in message and "'server'" in message


def test_the_invoice_policy_is_an_enumeration(tmp_path):
    app = start(tmp_path, INVOICE_POLICY="server")
    assert app.config["INVOICE_POLICY"] == "server"
    assert IngestRules.from_config(app.config).invoice_policy is InvoicePolicy.SERVER
    assert start(tmp_path).config["INVOICE_POLICY"] == InvoicePolicy.DEVICE


def test_a_misspelt_time_zone_is_refused_at_start(tmp_path):
    message = refusal(tmp_path, DASHBOARD_TIMEZONE="Europe/Pariss")
    assert "DASHBOARD_TIMEZONE='Europe/Pariss'" in message and "time zone" in message
    assert start(tmp_path, DASHBOARD_TIMEZONE="Europe/Paris").config["BABEL_DEFAULT_TIMEZONE"] == "Europe/Paris"


def test_a_number_with_a_letter_o_names_its_variable(tmp_path):
    message = refusal(tmp_path, SYNC_MAX_ORDERS="5OO")
    assert message.startswith("SYNC_MAX_ORDERS='5OO'") and "integer" in message


def test_limits_that_cannot_work_are_refused(tmp_path):
    assert "SYNC_MAX_ORDERS='0'" in refusal(tmp_path, SYNC_MAX_ORDERS="0")
    assert "SYNC_RATE_LIMIT_PER_MINUTE='-1'" in refusal(tmp_path, SYNC_RATE_LIMIT_PER_MINUTE="-1")
    assert "SESSION_COOKIE_SECURE='maybe'" in refusal(tmp_path, SESSION_COOKIE_SECURE="maybe")


def test_every_bad_value_is_named_at_once(tmp_path):
    message = refusal(tmp_path, SYNC_MAX_LINES="many", DASHBOARD_CURRENCY="EURO")
    assert "SYNC_MAX_LINES='many'" in message and "DASHBOARD_CURRENCY='EURO'" in message


def test_empty_variables_mean_the_defaults(tmp_path):
    config = start(tmp_path, SYNC_MAX_ORDERS="", SESSION_COOKIE_SECURE="").config
    assert config["SYNC_MAX_ORDERS"] == 500 and config["SESSION_COOKIE_SECURE"] is False
    assert start(tmp_path, SESSION_COOKIE_SECURE="1").config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("missing", ["SECRET_KEY", "REDIS_URL"])
def test_postgresql_without_a_shared_secret_key_or_redis_is_refused(tmp_path, missing):
    given = {"SECRET_KEY": "shared", "REDIS_URL": "redis://127.0.0.1:1/0"}
    del given[missing]
    message = refusal(tmp_path, DATABASE_URL=PG_URL, **given)
    assert message.startswith(f"{missing} must be set when DATABASE_URL is PostgreSQL")
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_postgresql_with_both_starts_and_keeps_no_key_of_its_own(tmp_path):
    app = start(tmp_path, DATABASE_URL=PG_URL, SECRET_KEY="shared", REDIS_URL="redis://127.0.0.1:1/0")
    assert app.config["SECRET_KEY"] == "shared"
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_overrides_in_flask_names_go_through_the_same_checks(tmp_path):
    with pytest.raises(SettingError, match="SECRET_KEY must be set"):
        create_app(
            {"SQLALCHEMY_DATABASE_URI": PG_URL, "REDIS_URL": "redis://127.0.0.1:1/0"}, instance_path=str(tmp_path)
        )
    with pytest.raises(SettingError, match="DASHBOARD_TIMEZONE='Mars/Olympus'"):
        create_app({"BABEL_DEFAULT_TIMEZONE": "Mars/Olympus"}, instance_path=str(tmp_path))


def test_one_host_on_sqlite_keeps_a_generated_key(tmp_path):
    first = start(tmp_path).config["SECRET_KEY"]
    assert len(first) == 64 and start(tmp_path).config["SECRET_KEY"] == first
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0


def run_command(tmp_path, command: list[str], **environment) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name not in VARIABLES}
    env.update(environment, TILLSYNC_INSTANCE_PATH=str(tmp_path / "instance"))
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_the_tillsync_command_refuses_to_start_and_names_the_variable(tmp_path):
    done = run_command(tmp_path, [sys.executable, "-m", "dashboard", "devices", "list"], INVOICE_POLICY="Device")
    assert done.returncode == 2
    assert done.stderr.startswith("tillsync: cannot start: INVOICE_POLICY='Device'"), done.stderr
    assert "Traceback" not in done.stderr
    web = run_command(
        tmp_path,
        [sys.executable, "-m", "dashboard", "web", "-b", "127.0.0.1:0"],
        DATABASE_URL=PG_URL,
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    assert web.returncode == 2 and "SECRET_KEY must be set" in web.stderr, web.stderr


def test_flask_refuses_to_start_and_names_the_variable(tmp_path):
    done = run_command(
        tmp_path,
        [sys.executable, "-m", "flask", "--app", str(REPO / "wsgi.py"), "devices", "list"],
        SYNC_MAX_ORDERS="5OO",
    )
    assert done.returncode != 0
    assert "SettingError: SYNC_MAX_ORDERS='5OO'" in done.stderr, done.stderr[-2000:]


def test_zero_turns_off_the_limits_the_readme_says_it_does(tmp_path):
    names = [
        "SYNC_RATE_LIMIT_PER_MINUTE",
        "SYNC_SALES_PER_MINUTE",
        "SYNC_LINES_PER_MINUTE",
        "SYNC_BYTES_PER_MINUTE",
        "DUPLICATE_SCAN_INTERVAL_HOURS",
        "LOGIN_MAX_FAILURES",
        "LOGIN_MAX_FAILURES_PER_ACCOUNT",
        "LOGIN_MAX_FAILURES_PER_ADDRESS",
        "TRUSTED_PROXY_HOPS",
    ]
    config = start(tmp_path, **dict.fromkeys(names, "0")).config
    assert [config[name] for name in names] == [0] * len(names)
