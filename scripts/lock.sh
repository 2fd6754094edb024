#!/usr/bin/env bash
# Refreshes the lock files after a change to the dependencies in pyproject.toml:
#   requirements.lock       the product (scripts/bootstrap.sh)
#   requirements-test.lock  the product, the tests and the checks (scripts/bootstrap.sh test, CI)
# Exact versions with their hashes, resolved for Python 3.11 within pyproject's bounds.
# Pass --upgrade to move every pin to the newest release the bounds allow.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/bootstrap.sh
.venv/bin/python -m uv --version >/dev/null 2>&1 \
  || .venv/bin/python -m pip install --disable-pip-version-check -q "uv>=0.13,<1"
compile() {
  .venv/bin/python -m uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
    --custom-compile-command "scripts/lock.sh" -q "$@"
}
compile -o requirements.lock "$@"
compile --extra test -o requirements-test.lock "$@"
echo "lock: requirements.lock and requirements-test.lock written; run scripts/bootstrap.sh test and commit them"
