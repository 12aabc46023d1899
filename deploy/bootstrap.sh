#!/usr/bin/env bash
# One idempotent set-up for a fresh Debian 12 machine or a ready one: system packages, the
# locked virtualenv, PostgreSQL + PostGIS and Redis reachable, the database migrated.
# A second run on a ready machine does no installing and takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE_URL="${DATABASE_URL:-postgis://postgres@127.0.0.1:5432/mcihub}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
PYTHON="${PYTHON:-python3.11}"
VENV=.venv
say() { printf '[bootstrap] %s\n' "$*"; }

# --- Debian packages --------------------------------------------------------------------
# chromium runs the browser tests; ffmpeg decodes recorded consults; gdal/geos/proj serve GeoDjango;
# pango lays out the after-action report's PDF (WeasyPrint); nginx, coturn, systemd
# (systemd-analyze) and openssl check the deploy/ configs in tests.
PACKAGES=(postgresql-15 postgresql-15-postgis-3 postgresql-client-15 redis-server gdal-bin
          libgeos-c1v5 libproj25 chromium fonts-noto-cjk ffmpeg gettext curl
          libpango-1.0-0 libpangoft2-1.0-0
          nginx coturn systemd openssl)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # nginx, coturn and redis-server start a system service on install (nginx on port 80);
    # the tests start their own on loopback ports, so policy-rc.d refuses every start
    # meanwhile (an existing policy-rc.d, as container images ship, is left as it is).
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
      trap 'rm -f "$policy"' EXIT
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing Debian packages; run as root:"
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
fi

# --- virtualenv from the lock file ------------------------------------------------------
if ! command -v "$PYTHON" >/dev/null 2>&1; then PYTHON=python3; fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
lock_hash=$(sha256sum requirements.lock pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.lock-installed" 2>/dev/null)" != "$lock_hash" ]; then
  say "installing locked dependencies"
  "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | { grep -v "is ignored" || true; }
  "$VENV/bin/python" -m pip install -q --require-hashes --no-deps -r requirements.lock 2>&1 | { grep -v "is ignored" || true; }
  echo "$lock_hash" > "$VENV/.lock-installed"
fi

# --- services ---------------------------------------------------------------------------
read -r PGHOST PGPORT PGUSER PGDB < <("$VENV/bin/python" - "$DATABASE_URL" <<'PY'
import sys
from urllib.parse import urlparse
u = urlparse(sys.argv[1])
print(u.hostname or "127.0.0.1", u.port or 5432, u.username or "postgres", u.path.lstrip("/") or "mcihub")
PY
)
read -r RHOST RPORT < <("$VENV/bin/python" - "$REDIS_URL" <<'PY'
import sys
from urllib.parse import urlparse
u = urlparse(sys.argv[1])
print(u.hostname or "127.0.0.1", u.port or 6379)
PY
)

if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  say "starting PostgreSQL"
  cluster_version=$(ls /etc/postgresql | sort -n | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main start
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 0.5; done
fi
if ! redis-cli -h "$RHOST" -p "$RPORT" ping >/dev/null 2>&1; then
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind "$RHOST" --port "$RPORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/mcihub.log
  for _ in $(seq 1 30); do redis-cli -h "$RHOST" -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.2; done
fi

psql_admin() { psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -v ON_ERROR_STOP=1 -qtAX "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$PGDB'")" != "1" ]; then
  say "creating database $PGDB"
  psql_admin -c "CREATE DATABASE \"$PGDB\""
fi
psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$PGDB" -qtAX -v ON_ERROR_STOP=1 \
  -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS postgis"

# --- browser-side libraries (Leaflet, uPlot) pinned by package-lock.json ------------------
if [ -f package-lock.json ] && [ ! -f node_modules/.package-lock.json -o package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing pinned browser libraries"
  npm ci --silent --no-audit --no-fund
fi

# A secret key of this machine's own, kept out of git (settings read it when SECRET_KEY is unset).
# WhiteNoise looks for STATIC_ROOT at start-up; files come from the finders until collectstatic.
mkdir -p var/static var/media
if [ -z "${SECRET_KEY:-}" ] && [ ! -s var/secret-key ]; then
  mkdir -p var && (umask 077 && "$VENV/bin/python" -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret-key)
fi

"$VENV/bin/python" manage.py compilemessages -v 0 --ignore=.venv >/dev/null

say "migrating"
"$VENV/bin/python" manage.py migrate --noinput -v 0
say "ready"
