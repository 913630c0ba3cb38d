#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1:${PGPORT:-54329} for the test suite,
# installing PostgreSQL from Debian's packages if it is missing, and prints its URL.
# Usage: export APPGRANT_TEST_POSTGRES_URL="$(scripts/start-postgres.sh)"
set -euo pipefail
port="${PGPORT:-54329}"
bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(bin_dir)" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  else
    echo "PostgreSQL is not installed and this is not root; install the postgresql package" >&2
    exit 1
  fi
fi
bin="$(bin_dir)"
data="$(mktemp -d /tmp/appgrant-pg.XXXXXX)"
as_owner() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  # PostgreSQL refuses to run as root.
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$data" postgres
  chown postgres "$data"
  as_owner() { runuser -u postgres -- "$@"; }
fi
as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust >/dev/null
# A port left taken by an earlier run moves us to the next one.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  if as_owner "$bin/pg_ctl" -D "$data" -l "$data/log" -w \
    -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null; then
    break
  fi
  port=$((port + 1))
done
as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres appgrant_test
echo "postgres://postgres@127.0.0.1:$port/appgrant_test"
