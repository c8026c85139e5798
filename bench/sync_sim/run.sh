#!/usr/bin/env bash
# The 10,000-partner benchmark (issue 18 item 3): one `tieup main serve` publishing to thousands
# of partners simulated by `tieup_partner_sim` (a few processes, each running the real sync side
# of a partner daemon for its share: enrollment, receiver, SQLite and content store per partner,
# mutual TLS at a loopback address of its own; see bench/sync_sim/partner_sim.cc).
# For each size in COUNTS (partners are added to reach it, never remade):
#   - the partnerships imported at main (`tieup main partner import`), the simulated partners
#     made and enrolled, then one `tieup main publish --all` brings the new ones to the site
#     (the first sync of a PAGES-page site);
#   - ROUNDS times: one page changed, `tieup main publish --all` until it returns (every offer
#     answered: with approval auto a partner answers after activating), and the simulators'
#     count of partners with the new version active checked;
#   - main's CPU per partner (its /proc utime+stime over the publish), main's RSS (now and
#     peak), main's data directory and database size (growth per partner).
# Environment: TIEUP, SIM (binaries), COUNTS ("1000 10000"), PAGES (20: each simulated partner keeps
# ~0.7 MB of files, all in this machine's memory on tmpfs), ROUNDS (3), SIMS
# (simulator processes; default: one per 3,000 partners, at least 2), KEEP=1 keeps the dir,
# BENCH_DIR (default /dev/shm when it has 8 GB free, else /tmp).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tieup=${TIEUP:-$root/build/apps/tieup/tieup}
sim=${SIM:-$root/build/bench/sync_sim/tieup_partner_sim}
counts=${COUNTS:-1000 10000}
pages=${PAGES:-20}
rounds=${ROUNDS:-3}
# Simulator processes: each holds ~3 descriptors per partner (its SQLite store) under this
# machine's limit of open files (20,000 here, and not raisable in a container): 3,000 partners a
# process at most, and never fewer than 2 (the two cores).
largest=0
for n in $counts; do [ "$n" -gt "$largest" ] && largest=$n; done
sims=${SIMS:-$(((largest + 2999) / 3000 > 2 ? (largest + 2999) / 3000 : 2))}
for b in "$tieup" "$sim"; do
  [ -x "$b" ] || { echo "sync_sim bench: $b is not built (make build)" >&2; exit 1; }
done
if [ -z "${BENCH_DIR:-}" ]; then
  BENCH_DIR=/tmp
  if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR == 2 {print $4}')" -gt $((8 << 20)) ]; then
    BENCH_DIR=/dev/shm
  fi
fi
# Each simulated partner keeps a few files open (its SQLite store, kept connections).
ulimit -n 1048576 2>/dev/null || ulimit -n 65536 2>/dev/null || true
work=$(mktemp -d "$BENCH_DIR/tieup-bench-sim.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "sync_sim bench: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 130" INT TERM
ms() { echo $(($(date +%s%N) / 1000000)); }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, in clock ticks
hz=$(getconf CLK_TCK)
rss_mib() { awk -v k="$2" '$1 == k":" {printf "%d", $2 / 1024}' "/proc/$1/status"; }

read -r -a ports < <(python3 - 3 <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)
msync=${ports[0]} mpub=${ports[1]} mcon=${ports[2]}
# The partners' sync port (on their own addresses) and the simulators' status ports: fixed
# ones above the ephemeral range's usual start, checked free.
sim_port=${SIM_PORT:-17443}
status_base=${STATUS_BASE:-17500}

M=$work/main
echo "sync_sim bench: partners ${counts// /, then }, $pages pages, $rounds rounds, $sims simulator processes, in $work ($(df -PT "$work" | awk 'NR == 2 {print $2}'))"
"$tieup" main init "$M" --name Bench --public "127.0.0.1:$mpub" --sync "127.0.0.1:$msync" \
  --console "127.0.0.1:$mcon" >/dev/null
sed -i 's|^listen = "[^"]*"  # /metrics|listen = ""  # /metrics|' "$M/site.toml"
python3 "$here/../sync/make_pages.py" "$M/authoring/pages/p" "$pages"
"$tieup" main serve "$M" >"$work/main.log" 2>&1 &
main_pid=$!
pids+=("$main_pid")
for _ in $(seq 100); do grep -q "serving http" "$work/main.log" && break; sleep 0.1; done
grep -q "serving http" "$work/main.log" || { cat "$work/main.log" >&2; exit 1; }

db_kib() { du -sk "$M/tieup.db"* 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
dir_kib() { du -sk "$M" | cut -f1; }
# Partners whose active version (their own ACTIVE pointer, from the simulators) is the latest
# main published to them (main's status), and main's own record of the same: "sim main".
up_to_date() {
  "$tieup" main status "$M" >"$work/status.txt"
  for s in $(seq 0 $((sims - 1))); do
    curl -sf "http://127.0.0.1:$((status_base + s))/status"
    echo
  done | python3 -c '
import json, sys
latest, recorded = {}, 0
for line in open(sys.argv[1]).read().splitlines()[1:]:
    f = line.split()
    latest[f[0]] = f[2]
    recorded += f[1] == f[2] and f[1] != "0"
active = {}
for line in sys.stdin:
    if line.strip():
        active.update(json.loads(line)["active"])
print(sum(1 for p, v in latest.items() if active.get(p) == v), recorded)' "$work/status.txt"
}
# Stops the bench when a simulator died (out of memory: each holds ~400 KiB per partner, and
# tmpfs keeps their files in memory too).
sims_alive() {
  local s
  for s in $(seq 0 $((sims - 1))); do
    kill -0 "${sim_pids[$s]}" 2>/dev/null && continue
    echo "sync_sim bench: simulator $s died (out of memory? see dmesg): $(tail -2 "$work/sim-$s.err")" >&2
    exit 1
  done
}
sim_ticks() {
  local t=0 p
  sims_alive
  for p in "${sim_pids[@]}"; do t=$((t + $(ticks "$p"))); done
  echo "$t"
}
publish() { # label -> "ms main_cpu_ms simulators_cpu_ms"
  local t c s
  c=$(ticks "$main_pid") s=$(sim_ticks)
  t=$(ms)
  "$tieup" main publish "$M" --all >"$work/publish-$1.log" 2>&1 || true
  echo "$(($(ms) - t)) $((($(ticks "$main_pid") - c) * 1000 / hz)) $((($(sim_ticks) - s) * 1000 / hz))"
}

have=0
sim_pids=()
round=0
for n in $counts; do
  # 1. Partnerships for the new partners, at main.
  "$sim" plan --first "$have" --count $((n - have)) --port "$sim_port" --processes "$sims" \
    >"$work/partners-$n.toml"
  kib0=$(dir_kib) db0=$(db_kib)
  t=$(ms)
  "$tieup" main partner import "$M" "$work/partners-$n.toml" --codes "$work/codes-$n.txt" >"$work/import-$n.log" 2>&1 ||
    { cat "$work/import-$n.log" >&2; exit 1; }
  import_ms=$(($(ms) - t))
  # 2. Simulators: partner i is process (i % $sims)'s; those already running are restarted
  # with their share grown (their partners' sites are kept, so they only open them).
  for p in "${sim_pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
  sim_pids=()
  cat "$work"/codes-*.txt >"$work/codes.txt"
  t=$(ms)
  for s in $(seq 0 $((sims - 1))); do
    "$sim" serve --dir "$work/partners" --main "https://127.0.0.1:$msync" --codes "$work/codes.txt" \
      --count "$n" --port "$sim_port" --processes "$sims" --process "$s" \
      --status-port $((status_base + s)) \
      >"$work/sim-$s.log" 2>"$work/sim-$s.err" &
    sim_pids+=($!)
    pids+=($!)
  done
  for s in $(seq 0 $((sims - 1))); do
    until grep -q "serving" "$work/sim-$s.log"; do
      kill -0 "${sim_pids[$s]}" 2>/dev/null || { tail -5 "$work/sim-$s.err" >&2; exit 1; }
      sleep 0.5
    done
  done
  enroll_ms=$(($(ms) - t))
  echo "sync_sim bench: $n partners: import of $((n - have)) partnerships ${import_ms} ms, simulators ready (new ones made and enrolled) ${enroll_ms} ms"
  # 3. The new partners' first sync.
  round=$((round + 1))
  read -r first_ms first_cpu first_sim_cpu < <(publish "first-$n")
  sims_alive
  read -r got recorded < <(up_to_date)
  echo "sync_sim bench: $n partners: first sync of the $((n - have)) new ones ${first_ms} ms (main CPU ${first_cpu} ms, simulators ${first_sim_cpu} ms); $got of $n partners serve main's latest (main's record: $recorded)"
  kib1=$(dir_kib) db1=$(db_kib)
  echo "sync_sim bench: $n partners: main's directory $((kib1 / 1024)) MiB (+$(((kib1 - kib0) / (n - have))) KiB per new partner), database $((db1 / 1024)) MiB (+$(((db1 - db0) / (n - have))) KiB per new partner)"
  # 4. One-page changes.
  for r in $(seq "$rounds"); do
    round=$((round + 1))
    page="$M/authoring/pages/p/$(printf '%05d' $((pages / 2))).html"
    sed -i "s|<p class=\"marker\">[^<]*</p>|<p class=\"marker\">round $round</p>|" "$page"
    read -r change_ms change_cpu sim_cpu < <(publish "change-$n-$r")
    sims_alive
    read -r got recorded < <(up_to_date)
    fails=$(grep -c FAILED "$work/publish-change-$n-$r.log" || true)
    echo "sync_sim bench: $n partners: one-page change $r: ${change_ms} ms, main CPU ${change_cpu} ms ($((change_cpu * 1000 / n)) us per partner), simulators ${sim_cpu} ms, $got of $n partners serve main's latest (main's record: $recorded), $fails failed, main RSS $(rss_mib "$main_pid" VmRSS) MiB (peak $(rss_mib "$main_pid" VmHWM) MiB)"
    echo "$n $r $change_ms $change_cpu $got $fails" >>"$work/results"
  done
  have=$n
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for n in sorted({int(r[0]) for r in rows}):
    mine = [r for r in rows if int(r[0]) == n]
    wall = statistics.median(int(r[2]) for r in mine)
    cpu = statistics.median(int(r[3]) for r in mine)
    print(f"sync_sim bench: {n} partners, one-page change (median of {len(mine)}): {wall / 1000:.1f} s wall, main CPU {cpu / 1000:.1f} s ({cpu * 1000 / n:.0f} us per partner)")
PY
