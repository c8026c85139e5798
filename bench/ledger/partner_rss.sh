#!/usr/bin/env bash
# Partner memory under sustained traffic (issue 18 item 6): one tieup partner daemon serves a
# small page to wrk (keep-alive, 2 threads, 64 connections) in rounds until REQUESTS requests
# (default 10,000,000) were served; after each round it prints the requests so far, the
# ledger's entries and bytes on disk, and the daemon's RSS (VmRSS) and peak (VmHWM). At the
# end `tieup partner ledger verify` checks the whole ledger. The access ledger's Merkle tree
# lives in tiles on disk (src/ledger/tiles.h), so the RSS should stay flat.
#   REQUESTS=10000000 ROUND_SECONDS=60 [WAF=block] bench/ledger/partner_rss.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tieup=${TIEUP:-$root/build/apps/tieup/tieup}
target=${REQUESTS:-10000000}
round_seconds=${ROUND_SECONDS:-60}
command -v wrk >/dev/null || { echo "partner_rss: wrk missing (run scripts/install-deps.sh bench)" >&2; exit 1; }
work=$(mktemp -d "${WORK_PARENT:-/tmp}/tieup-bench-rss.XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
mkdir -p "$work/pages"
printf '<!doctype html><html><head><title>Tea</title></head><body><h1>Sencha</h1><p>%s</p></body></html>\n' \
  "$(head -c 2000 /dev/zero | tr '\0' 'x')" >"$work/pages/index.html"
"$tieup" partner init "$work/partner" --id rss --name Rss --public "127.0.0.1:$port" \
  --sync 127.0.0.1:0 >/dev/null
"$tieup" partner page put "$work/partner" /p/ "$work/pages" >/dev/null
# wrk loads from one address: lift the per-client request rate (site.toml [http]). The WAF
# (WAF=block to keep it) would hold the daemon to a tenth of the rate: 10 M requests would take
# most of an hour; what grows with traffic is the ledger either way.
sed -i 's/^requests_per_second_per_client = .*/requests_per_second_per_client = 0/' \
  "$work/partner/site.toml"
sed -i "s/^mode = \"block\"/mode = \"${WAF:-off}\"/" "$work/partner/site.toml"
"$tieup" partner serve "$work/partner" >"$work/tieup.log" 2>&1 &
pid=$!
for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:$port/p/index.html" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$port/p/index.html" || { cat "$work/tieup.log" >&2; exit 1; }

status() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
echo "partner_rss: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), target $target requests, rounds of ${round_seconds}s"
printf '%12s %12s %12s %10s %10s %8s\n' requests ledger_MiB tiles_KiB rss_MiB peak_MiB req/s
total=0
while [ "$total" -lt "$target" ]; do
  wrk -t2 -c64 -d"${round_seconds}s" "http://127.0.0.1:$port/p/index.html" >"$work/wrk.out" 2>&1
  n=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/wrk.out")
  if grep -q "Non-2xx" "$work/wrk.out"; then grep "Non-2xx" "$work/wrk.out" >&2; fi
  total=$((total + n))
  ledger_kib=$(du -sk "$work/partner/ledger" | cut -f1)
  tiles_kib=$(du -sk "$work/partner/ledger/tiles" 2>/dev/null | cut -f1 || echo 0)
  printf '%12d %12.1f %12d %10.1f %10.1f %8d\n' "$total" "$(echo "$ledger_kib / 1024" | bc -l)" \
    "$tiles_kib" "$(echo "$(status VmRSS) / 1024" | bc -l)" "$(echo "$(status VmHWM) / 1024" | bc -l)" "$rps"
done
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
pid=
echo "partner_rss: daemon stopped; verifying the whole ledger"
/usr/bin/time -f "verify: %e s, %M KiB peak" "$tieup" partner ledger verify "$work/partner" 2>&1 | tail -3
echo "partner_rss: done, load $(cut -d' ' -f1-3 /proc/loadavg)"
