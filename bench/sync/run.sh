#!/usr/bin/env bash
# Remote-updating benchmark (issue 3): a main site with 10,000 pages of ~8 KB (~80 MB) and 20
# partner daemons, each its own process, on loopback.
#   1. initial full sync: `tieup main publish --all` until all 20 partners serve the pages;
#   2. ROUNDS times: change one page, publish, time until all 20 serve the new bytes; bytes per
#      partner (the partner's "fetched ... (B bytes)" record, the size of the release metadata
#      it stored, and the TLS bytes on the wire, counted by a relay in front of partner p01);
#   3. beside it, in the same run and alternating with 2., rsync (daemon on loopback) of the same
#      authoring tree to one target for the same one-page change: time and bytes (--stats).
# Also times one `tieup main build` (main renders all pages once) to split publish time.
# Environment: TIEUP (binary), PAGES (10000), PARTNERS (20), ROUNDS (3), NOOPS (1), KEEP=1 keeps the dir,
# MAIN_STORE=postgres: main's store on PostgreSQL (run through scripts/with-postgres.sh),
# BENCH_DIR: where the sites live (default /dev/shm when it has 8 GB free, else /tmp). Every
# blob write is fsynced (file and directory): on a disk with ~6 ms fsync the initial sync of
# 20 x 20,000 blobs takes far longer than on tmpfs, where fsync is free; the figures say which.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tieup=${TIEUP:-$root/build/apps/tieup/tieup}
pages=${PAGES:-10000}
partners=${PARTNERS:-20}
rounds=${ROUNDS:-3}
changed_page=p/$(printf '%05d' $((pages / 2)))
command -v rsync >/dev/null || { echo "sync bench: rsync missing (run scripts/install-deps.sh bench)" >&2; exit 1; }
[ -x "$tieup" ] || { echo "sync bench: $tieup is not built (make build)" >&2; exit 1; }
if [ -z "${BENCH_DIR:-}" ]; then
  BENCH_DIR=/tmp
  if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR == 2 {print $4}')" -gt $((8 << 20)) ]; then
    BENCH_DIR=/dev/shm
  fi
fi
work=$(mktemp -d "$BENCH_DIR/tieup-bench-sync.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/rsyncd.pid" ] && kill "$(cat "$work/rsyncd.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "sync bench: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 130" INT TERM
ms() { echo $(($(date +%s%N) / 1000000)); }
wait_http() { # port path
  for _ in $(seq 300); do curl -sf -o /dev/null "http://127.0.0.1:$1$2" && return 0; sleep 0.1; done
  echo "sync bench: nothing answers on 127.0.0.1:$1$2" >&2
  return 1
}

# Free ports, all bound at once so none repeats: main sync, rsync, 2 relay ports, then
# (public, sync) per partner.
# Every daemon's ports come from here (consoles too, operations ports off): a port the kernel
# chose for one daemon at its start could otherwise be one given to another that starts later.
read -r -a ports < <(python3 - $((6 + 3 * partners)) <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)
msync=${ports[0]} rport=${ports[1]} relay_in=${ports[2]} relay_out=${ports[3]}
mpub=${ports[4]} mcon=${ports[5]}
pub=() syn=() con=() ids=()
for i in $(seq "$partners"); do
  pub+=("${ports[$((3 + 3 * i))]}")
  syn+=("${ports[$((4 + 3 * i))]}")
  con+=("${ports[$((5 + 3 * i))]}")
  ids+=("$(printf 'p%02d' "$i")")
done
ops_off() { sed -i 's|^listen = "[^"]*"  # /metrics|listen = ""  # /metrics|' "$1/site.toml"; }

M=$work/main
echo "sync bench: $pages pages of ~8 KB, $partners partners, $rounds rounds, in $work ($(df -PT "$work" | awk 'NR == 2 {print $2}'))"
"$tieup" main init "$M" --name Bench --public "127.0.0.1:$mpub" --sync "127.0.0.1:$msync" \
  --console "127.0.0.1:$mcon" >/dev/null
ops_off "$M"
if [ "${MAIN_STORE:-sqlite}" = postgres ]; then
  # Main's store on PostgreSQL (issue 18): moved there right after init, as a manager would.
  [ -n "${TIEUP_TEST_POSTGRES_URL:-}" ] || {
    echo "sync bench: MAIN_STORE=postgres needs a cluster: run it through scripts/with-postgres.sh" >&2
    exit 1
  }
  "$tieup" main store migrate "$M" --to postgres "$TIEUP_TEST_POSTGRES_URL" --schema "bench_$$" >/dev/null
  echo "sync bench: main's store on PostgreSQL (schema bench_$$)"
fi
python3 "$here/make_pages.py" "$M/authoring/pages/p" "$pages"
echo "sync bench: authoring tree $(du -sm "$M/authoring" | cut -f1) MB, $(find "$M/authoring" -type f | wc -l) files"

# One full render of main's own pages (what `main publish` also does first, and what it does
# again for each partner).
t=$(ms); "$tieup" main build "$M" >/dev/null; build1_ms=$(($(ms) - t))
t=$(ms); "$tieup" main build "$M" >/dev/null; build2_ms=$(($(ms) - t))
echo "sync bench: main build (render all pages): first ${build1_ms} ms, unchanged ${build2_ms} ms"

"$tieup" main serve "$M" >"$work/main.log" 2>&1 &
main_pid=$!
pids+=("$main_pid")
for _ in $(seq 100); do grep -q "serving http" "$work/main.log" && break; sleep 0.1; done
grep -q "serving http" "$work/main.log" || { cat "$work/main.log" >&2; exit 1; }

# Partner p01 reaches main, and main reaches p01, through a byte-counting relay.
python3 "$here/relay.py" "$work/relay.json" "$relay_in:${syn[0]}" "$relay_out:$msync" \
  >"$work/relay.log" 2>&1 &
relay_pid=$!
pids+=("$relay_pid")
for _ in $(seq 50); do [ -f "$work/relay.json" ] && break; sleep 0.1; done

echo "sync bench: enrolling $partners partners"
for i in $(seq 0 $((partners - 1))); do
  id=${ids[$i]} sync_url=https://127.0.0.1:${syn[$i]} main_url=https://127.0.0.1:$msync
  if [ "$i" = 0 ]; then sync_url=https://127.0.0.1:$relay_in main_url=https://127.0.0.1:$relay_out; fi
  code=$("$tieup" main partner add "$M" --id "$id" --name "Shop $id" \
    --public-url "http://127.0.0.1:${pub[$i]}" --sync-url "$sync_url" |
    awk '/^Enrollment code/ {getline; print $1}')
  "$tieup" partner init "$work/$id" --id "$id" --name "Shop $id" --public "127.0.0.1:${pub[$i]}" \
    --sync "127.0.0.1:${syn[$i]}" --console "127.0.0.1:${con[$i]}" --main "$main_url" \
    --token "$code" >/dev/null 2>&1 || { echo "sync bench: enrolling $id failed" >&2; exit 1; }
  ops_off "$work/$id"
  "$tieup" partner serve "$work/$id" >"$work/$id.log" 2>&1 &
  pids+=($!)
done
for i in $(seq 0 $((partners - 1))); do
  for _ in $(seq 100); do grep -q "serving http" "$work/${ids[$i]}.log" && break; sleep 0.1; done
done
port_list=$(
  IFS=,
  echo "${pub[*]}"
)

relay_counts() { # -> "offer_up offer_down fetch_up fetch_down"
  kill -USR1 "$relay_pid"
  sleep 0.2
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); a,b=c[sys.argv[2]],c[sys.argv[3]]; print(a["up"],a["down"],b["up"],b["down"])' \
    "$work/relay.json" "$relay_in" "$relay_out"
}
p01_figures() { # -> "version fetched_blobs wanted_blobs fetched_bytes manifest_bytes"
  local line v
  line=$("$tieup" partner updates "$work/p01" | grep ' fetched ' | head -1)  # newest first
  v=$(echo "$line" | awk '{print substr($3, 2)}')
  echo "$line" | python3 -c '
import re, sys
m = re.search(r"fetched (\d+) of (\d+) blobs \((\d+) bytes\)", sys.stdin.read())
print(sys.argv[1], m.group(1), m.group(2), m.group(3), sys.argv[2])' "$v" \
    "$(stat -c %s "$work/p01/releases/tieup/$v.json")"
}
publish() { # marker label [partner] -> appends to $work/results (all partners without one)
  local before after json ports_probed=$port_list target=(--all)
  if [ -n "${3:-}" ]; then ports_probed=${pub[0]} target=(--partner "$3"); fi
  read -r -a before < <(relay_counts)
  json=$(python3 "$here/probe.py" "$1" "/$changed_page.html" "$ports_probed" 600 "$work/publish-$2.log" \
    -- "$tieup" main publish "$M" "${target[@]}")
  read -r -a after < <(relay_counts)
  if grep -q FAILED "$work/publish-$2.log"; then
    echo "sync bench: $2: $(grep -c FAILED "$work/publish-$2.log") partner update(s) failed in 'main publish' (main serve retries them):" >&2
    grep FAILED "$work/publish-$2.log" | head -3 >&2
  fi
  echo "$2 $json" >>"$work/results.tieup"
  echo "$2 $(p01_figures) $((after[0] - before[0])) $((after[1] - before[1])) $((after[2] - before[2])) $((after[3] - before[3]))" >>"$work/results.p01"
}
rsync_run() { # label
  local t
  t=$(ms)
  rsync -a --delete --stats "$M/authoring/" "rsync://127.0.0.1:$rport/target/" >"$work/rsync-$1.log"
  echo "$1 $(($(ms) - t)) $(awk -F: '/^Total bytes sent/ {gsub(/[ ,]/, "", $2); s=$2} /^Total bytes received/ {gsub(/[ ,]/, "", $2); r=$2} END {print s, r}' "$work/rsync-$1.log")" >>"$work/results.rsync"
}

mkdir -p "$work/rsync-target"
cat >"$work/rsyncd.conf" <<CONF
pid file = $work/rsyncd.pid
use chroot = no
[target]
  path = $work/rsync-target
  read only = no
  uid = root
  gid = root
CONF
rsync --daemon --config="$work/rsyncd.conf" --port="$rport" --address=127.0.0.1
for _ in $(seq 50); do [ -f "$work/rsyncd.pid" ] && break; sleep 0.1; done

# Main's storage (the whole data directory, authoring tree included) before any release, after
# the first partner's and after all: what one more partner costs main (issue 18 item 4).
kib_main() { du -sk "$M" | cut -f1; }
kib_before=$(kib_main)
echo "sync bench: initial full sync to ${ids[0]} alone"
publish initial initial1 "${ids[0]}"
# Where the partner's part of it went (its events say how long each step took).
"$tieup" partner updates "$work/p01" | python3 -c '
import re, sys
text = sys.stdin.read()
def step(pattern):
    m = re.search(pattern, text)
    return m.group(1) if m else "?"
print("sync bench: first sync at p01: fetch " + step(r"fetched \d+ of \d+ blobs \(\d+ bytes\) in ([\d.]+ s)") +
      ", pages made and staged " + step(r"\((?:pages made and )?staged in ([\d.]+ s)\)") +
      ", activation " + step(r"activated version \d+ \(policy auto\) in ([\d.]+ s)"))'
kib_one=$(kib_main)
echo "sync bench: initial rsync of the authoring tree"
rsync_run initial1
echo "sync bench: initial full sync to the other $((partners - 1)) partners"
publish initial initial
kib_all=$(kib_main)
rsync_run initial

for r in $(seq "$rounds"); do
  marker="changed-r$r-$RANDOM$RANDOM"
  sed -i "s|<p class=\"marker\">[^<]*</p>|<p class=\"marker\">$marker</p>|" "$M/authoring/pages/$changed_page.html"
  publish "$marker" "r$r"
  rsync_run "r$r"
  echo "sync bench: round $r done"
done

# The same publish with nothing changed: main renders its own pages and every partner's release,
# finds no difference and offers nothing. This is the render (build) part of a publish.
noop=()
for r in $(seq "${NOOPS:-1}"); do
  t=$(ms)
  "$tieup" main publish "$M" --all >"$work/publish-noop$r.log" 2>&1
  noop+=($(($(ms) - t)))
done
echo "sync bench: publish with nothing changed (render only): ${noop[*]} ms"
# Main holds each partner's newest release in memory (the publisher's cache, to build the next
# one from it): its RSS grows with partners x pages.
echo "sync bench: main serve RSS after the runs: $(awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$main_pid/status"), peak $(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$main_pid/status") ($partners partners, $pages pages)"

python3 - "$work" "$pages" "$partners" "$build1_ms" "$build2_ms" "${noop[*]}" <<'PY'
import json, statistics as st, sys
work, pages, partners, b1, b2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
noop_s = st.median(int(x) for x in sys.argv[6].split()) / 1000
tie = {}
for line in open(f"{work}/results.tieup"):
    label, js = line.split(" ", 1)
    tie[label] = json.loads(js)
p01 = {}
for line in open(f"{work}/results.p01"):
    f = line.split()
    p01[f[0]] = dict(zip("version fetched_blobs wanted_blobs fetched_bytes manifest_bytes offer_up offer_down fetch_up fetch_down".split(), map(int, f[1:])))
rs = {}
for line in open(f"{work}/results.rsync"):
    f = line.split()
    rs[f[0]] = dict(ms=int(f[1]), sent=int(f[2]), received=int(f[3]))

def kb(n): return f"{n / 1024:.1f} KiB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MiB"
def wire(p): return p["offer_up"] + p["offer_down"] + p["fetch_up"] + p["fetch_down"]

print(f"\nmain build (all {pages} pages rendered once): {b1} ms first, {b2} ms unchanged")
print(f"main publish --all with nothing changed (main + {partners} partner renders, no offer): {noop_s:.3f} s")
print(f"{'run':<8} {'publish_s':>9} {'first_s':>8} {'all_s':>8} {'fetched':>16} {'stored md':>10} {'sent':>10} {'wire p01':>10} {'rsync_s':>8} {'rsync sent':>11} {'rsync recv':>11}")
for label in tie:
    t, p, r = tie[label], p01[label], rs[label]
    all_s = t["all_active_s"] if t["all_active_s"] is not None else float("nan")
    print(f"{label:<8} {t['publish_s']:>9.3f} {t['first_active_s'] or float('nan'):>8.3f} {all_s:>8.3f} "
          f"{str(p['fetched_blobs']) + '/' + str(p['wanted_blobs']) + ' ' + kb(p['fetched_bytes']):>16} "
          f"{kb(p['manifest_bytes']):>10} {kb(p['fetched_bytes'] + p['offer_up']):>10} {kb(wire(p)):>10} "
          f"{r['ms'] / 1000:>8.3f} {kb(r['sent']):>11} {kb(r['received']):>11}")
    if t["active"] < t["partners"]:
        print(f"  warning: only {t['active']} of {t['partners']} partners served the change")
if "initial1" in tie:
    one, r1 = tie["initial1"], rs["initial1"]
    print(f"\nfirst sync of the whole site to one partner: active after {one['all_active_s']:.3f} s, "
          f"rsync of the tree to one target {r1['ms'] / 1000:.3f} s (ratio {one['all_active_s'] / (r1['ms'] / 1000):.1f}; "
          f"goal 2); then the other {partners - 1} partners: all active after {tie['initial']['all_active_s']:.3f} s")
rounds = [l for l in tie if not l.startswith("initial")]
if rounds:
    med = lambda f: st.median(f(l) for l in rounds)
    all_s = med(lambda l: tie[l]["all_active_s"] or float("inf"))
    pub_s = med(lambda l: tie[l]["publish_s"])
    payload = med(lambda l: p01[l]["fetched_bytes"] + p01[l]["offer_up"])
    w = med(lambda l: wire(p01[l]))
    offer = med(lambda l: p01[l]["offer_up"])
    rs_s = med(lambda l: rs[l]["ms"] / 1000)
    rs_b = med(lambda l: rs[l]["sent"] + rs[l]["received"])
    print(f"\nmedian one-page change over {len(rounds)} rounds:")
    print(f"  tieup: all {partners} partners active after {all_s:.3f} s (publish {pub_s:.3f} s; goal 1 s: "
          f"{'met' if all_s <= 1 else 'NOT met'})")
    print(f"  of which rendering (publish with nothing changed) {noop_s:.3f} s, offers/fetch/activate "
          f"~{pub_s - noop_s:.3f} s")
    print(f"  tieup per partner: fetched {kb(med(lambda l: p01[l]['fetched_bytes']))} of blobs + the offer "
          f"(signed delta metadata, TLS) {kb(offer)} = {kb(payload)}; everything on the wire (TLS, p01, "
          f"both directions) {kb(w)}")
    print(f"  (the partner rebuilds the full release metadata from the delta: "
          f"{kb(med(lambda l: p01[l]['manifest_bytes']))} stored, not sent)")
    print(f"  rsync (1 target): {rs_s:.3f} s, {kb(rs_b)} sent+received")
    print(f"  ratio tieup/rsync: time {all_s / rs_s:.2f} (all {partners} partners vs 1 rsync target), "
          f"bytes per partner {w / rs_b:.2f} (wire) {payload / rs_b:.2f} (payload)")
    print(f"  metadata goal 'a few KB, not growing with the page count': "
          f"{'met' if offer < 16384 else 'NOT met'} (offer {kb(offer)} for {pages} pages); "
          f"fewer bytes than rsync: {'yes' if payload < rs_b else 'no'} ({kb(payload)} vs {kb(rs_b)})")
PY
du_main=$(du -sm "$M" | cut -f1)
du_p01=$(du -sm "$work/p01" | cut -f1)
kib_site=$(du -sk "$M/authoring" | cut -f1)
echo "disk: main $du_main MB, one partner $du_p01 MB; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$kib_before" "$kib_one" "$kib_all" "$kib_site" "$partners" <<'PY'
import sys
before, one, everyone, site, n = map(int, sys.argv[1:])
first = one - before
extra = (everyone - one) / max(n - 1, 1)
print(f"main's storage (du, 4 KiB blocks; initial syncs, before the rounds): {before / 1024:.1f} MiB before any "
      f"release, +{first / 1024:.1f} MiB with the first partner, +{everyone - one} KiB for the other {n - 1}: "
      f"{extra:.0f} KiB per extra partner = {100 * extra / site:.2f}% of the site's "
      f"{site / 1024:.1f} MiB authoring tree (goal under 1%)")
PY
