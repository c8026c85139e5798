#!/usr/bin/env bash
# make bench: runs every benchmark and prints its figures. Benchmarks never gate CI.
# Usage: bench/run.sh [serve|ledger|ledger_rss|ledger_growth|sync|...]   (default: all)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../build}
only=${1:-all}
run() { [ "$only" = all ] || [ "$only" = "$1" ]; }
if run serve; then "$here/serve/run.sh"; fi
if run ledger_rss; then echo "== ledger_rss"; "$here/ledger/partner_rss.sh"; fi
if run ledger_growth; then echo "== ledger_growth"; "$build/bench/ledger/ledger_bench" --growth 10000000; fi
for b in "$build"/bench/*/*_bench; do
  [ -x "$b" ] || continue
  name=$(basename "$b" _bench)
  run "$name" || continue
  echo "== $name"
  "$b"
done
for s in "$here"/*/run.sh; do
  name=$(basename "$(dirname "$s")")
  [ "$name" = serve ] && continue
  run "$name" || continue
  echo "== $name"
  "$s"
done
