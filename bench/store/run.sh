#!/usr/bin/env bash
# SQLite vs PostgreSQL for the store interface, in one run (issue 18): store_compare against a
# throwaway PostgreSQL 15 cluster started for the run with fsync on (scripts/with-postgres.sh),
# beside SQLite in WAL mode with synchronous FULL on the same disk (TMPDIR or /tmp).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${BUILD:-$root/build}/bench/store/store_compare
[ -x "$bin" ] || { echo "store bench: $bin is not built (make build)" >&2; exit 1; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $(date -u +%FT%TZ)"
TIEUP_PG_FSYNC=on "$root/scripts/with-postgres.sh" \
  bash -c 'TIEUP_BENCH_POSTGRES_URL=$TIEUP_TEST_POSTGRES_URL exec "$0" "$@"' "$bin" "$@"
