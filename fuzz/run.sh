#!/usr/bin/env bash
# Runs every libFuzzer target for a while (`make fuzz`): each starts from the committed seeds
# (fuzz/corpus/<target>/) plus what earlier runs found (BUILD/fuzz/corpus/<target>/, kept
# between runs), and a crash, leak, timeout or UB report is saved under
# BUILD/fuzz/artifacts/<target>/ and ends the run with a failure.
#
# Usage: fuzz/run.sh BUILD_DIR SECONDS_PER_TARGET
# Environment: FUZZ_TARGETS  a regex; only the targets whose name matches run
#              FUZZ_JOBS     targets run at once (default 1)
set -uo pipefail
if [ $# -ne 2 ]; then
  echo "usage: fuzz/run.sh BUILD_DIR SECONDS_PER_TARGET" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
src=$(cd "$(dirname "$0")" && pwd)
list="$build/fuzz/targets.txt"
if [ ! -f "$list" ]; then
  echo "fuzz/run.sh: $list is missing: configure $1 with -DTIEUP_FUZZ=ON (make asan-build)" >&2
  exit 2
fi
jobs=${FUZZ_JOBS:-1}
mkdir -p "$build/fuzz/logs"

run_one() {
  local name=$1 dict=$2
  local corpus="$build/fuzz/corpus/$name" artifacts="$build/fuzz/artifacts/$name/"
  local log="$build/fuzz/logs/$name.log"
  mkdir -p "$corpus" "$artifacts"
  local args=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$artifacts")
  [ -n "$dict" ] && args+=(-dict="$src/dict/$dict")
  "$build/fuzz/fuzz_$name" "${args[@]}" "$corpus" "$src/corpus/$name" >"$log" 2>&1
  local rc=$?
  local execs cov
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    printf '%-18s ok      %10s runs  %s\n' "$name" "${execs:-?}" "$cov"
  else
    printf '%-18s FAILED  (exit %d; log %s)\n' "$name" "$rc" "$log"
    grep -E 'ERROR: |SUMMARY: |fuzz property failed|runtime error' "$log" | head -5 | sed 's/^/    /'
    ls "$artifacts" 2>/dev/null | head -3 | sed "s|^|    artifact: $artifacts|"
  fi
  return $rc
}

status=0
running=0
while IFS=: read -r name dict; do
  [ -z "$name" ] && continue
  if [ -n "${FUZZ_TARGETS:-}" ] && ! [[ $name =~ $FUZZ_TARGETS ]]; then continue; fi
  run_one "$name" "$dict" &
  running=$((running + 1))
  if [ $running -ge "$jobs" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
done <"$list"
while [ $running -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
exit $status
