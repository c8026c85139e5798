#!/usr/bin/env bash
# Runs COMMAND... with a throwaway PostgreSQL 15 cluster: initdb in a temporary directory, the
# server listening only on a Unix socket there, TIEUP_TEST_POSTGRES_URL exported for the tests
# (tieup's store tests run against it as well as SQLite); the cluster is stopped and removed
# afterwards, whatever COMMAND did. As root the cluster runs as the `postgres` system user (the
# server refuses root). Nothing is left running. Exits with COMMAND's code.
# Usage: scripts/with-postgres.sh COMMAND [ARGS...]
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
if [ ! -x "$bin/initdb" ]; then
  echo "with-postgres: PostgreSQL 15 is not installed (apt-get install postgresql-15, or run" \
    "scripts/install-deps.sh test)" >&2
  exit 2
fi
dir=$(mktemp -d /tmp/tieup-pg.XXXXXX)
as_owner=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi
chmod 700 "$dir"
stop() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
port=$((20000 + RANDOM % 20000))
"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U tieup --auth=trust -E UTF8 --no-locale \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 2; }
# Only the socket in $dir (no TCP port); no fsync (a test cluster, thrown away afterwards)
# unless TIEUP_PG_FSYNC=on (benchmarks: durable commits, as SQLite's synchronous FULL).
fsync=${TIEUP_PG_FSYNC:-off}
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-k $dir -p $port -c listen_addresses= -c fsync=$fsync -c max_connections=200" start \
  >/dev/null || { cat "$dir/server.log" >&2; exit 2; }
"${as_owner[@]}" "$bin/createdb" -h "$dir" -p "$port" -U tieup tieup_test
export TIEUP_TEST_POSTGRES_URL="postgresql:///tieup_test?host=$dir&port=$port&user=tieup"
echo "with-postgres: PostgreSQL 15 at $dir (port $port) for this run" >&2
set +e
"$@"
code=$?
set -e
exit $code
