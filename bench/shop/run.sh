#!/usr/bin/env bash
# Shop benchmark (issue 4): checkout delegated through a partner (partner -> main over the
# signed mutual-TLS sync channel, main places the order, the partner shows main's answer)
# against the same checkout sent straight to main's own shop, in the same run, interleaved.
# Reports orders/s and p50/p99 of the checkout POST, sequential (C=1) and concurrent (C=8).
# Environment: TIEUP (binary), ORDERS (per round and path, 200), ROUNDS (3), KEEP=1 keeps the
# dir, BENCH_DIR (default /tmp: a real disk, every commit fsynced).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tieup=${TIEUP:-$root/build/apps/tieup/tieup}
orders=${ORDERS:-200}
rounds=${ROUNDS:-3}
[ -x "$tieup" ] || { echo "shop bench: $tieup is not built (make build)" >&2; exit 1; }
work=$(mktemp -d "${BENCH_DIR:-/tmp}/tieup-bench-shop.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "shop bench: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 130" INT TERM
read -r msync psync < <(python3 - <<'PY'
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])
PY
)
port_of() { # log file -> public port once serving
  for _ in $(seq 200); do
    p=$(sed -n 's/.*serving http:\/\/127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$1" | head -1)
    [ -n "$p" ] && { echo "$p"; return 0; }
    sleep 0.1
  done
  echo "shop bench: no daemon in $1" >&2; cat "$1" >&2; return 1
}
m=$work/main p=$work/shop-b
"$tieup" main init "$m" --name "Tea House" --public 127.0.0.1:0 --sync "127.0.0.1:$msync" >/dev/null
mkdir -p "$m/authoring/pages/products" "$m/authoring/pages/.tieup"
cat >"$m/authoring/pages/.tieup/routing.json" <<'JSON'
{"rules": [{"name": "main sells its goods", "path": "/shop/checkout", "mode": "delegate"}]}
JSON
cat >"$m/authoring/pages/products/TEA-1.html" <<'HTML'
---
title: Sencha
---
<form method="post" action="/shop/cart/add"><input type="hidden" name="sku" value="TEA-1">
<input name="qty" value="1"><button>Add to cart</button></form>
HTML
total=$((orders * rounds * 2 + 10))
"$tieup" main product add "$m" --sku TEA-1 --title Sencha --price 12.50 --stock $((total * 2)) \
  --page /products/TEA-1.html >/dev/null
# The load comes from one address: lift the per-client request rate (site.toml [http]).
# One client (this script) places every order: lift the per-client request rate and the shop's
# per-network limit on cart additions on both sites.
unlimit() {
  sed -i 's/^requests_per_second_per_client = .*/requests_per_second_per_client = 0/' "$1/site.toml"
  if grep -q '^\[variables\]' "$1/site.toml"; then
    sed -i '/^\[variables\]/a "shop.cart_adds_per_10_minutes_per_client" = "0"' "$1/site.toml"
  else
    printf '\n[variables]\n"shop.cart_adds_per_10_minutes_per_client" = "0"\n' >>"$1/site.toml"
  fi
}
unlimit "$m"
"$tieup" main serve "$m" >"$work/main.log" 2>&1 & pids+=($!)
mport=$(port_of "$work/main.log")
code=$("$tieup" main partner add "$m" --id shop-b --name "Shop B" --public-url http://shop-b.example/ \
  --sync-url "https://127.0.0.1:$psync" | sed -n 's/.*--token \([^ ]*\).*/\1/p' | head -1)
"$tieup" partner init "$p" --id shop-b --name "Shop B" --public 127.0.0.1:0 \
  --sync "127.0.0.1:$psync" --main "https://127.0.0.1:$msync" --token "$code" >/dev/null
unlimit "$p"
"$tieup" partner serve "$p" >"$work/partner.log" 2>&1 & pids+=($!)
pport=$(port_of "$work/partner.log")
"$tieup" main publish "$m" --all >/dev/null
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$pport/products/TEA-1.html" && break
  sleep 0.1
done
echo "shop bench: $(date -u +%FT%TZ), $(nproc) cores, $orders orders x $rounds rounds per path, sites in $work"
for conc in 1 8; do
  python3 "$here/load.py" "$pport" "$mport" "$orders" "$conc" "$rounds"
done
