#!/usr/bin/env bash
# Serving benchmark (issue 2): the same 1,000 pages of ~8 KB served by a tieup partner and by
# nginx on loopback, wrk with keep-alive, 2 threads, 64 connections, alternating A B A B.
# Access logs on for both. Prints requests/s, p50, p99, the ratio tieup/nginx and the
# partner's peak RSS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tieup=${TIEUP:-$root/build/apps/tieup/tieup}
duration=${DURATION:-10}
rounds=${ROUNDS:-2}
pages=${PAGES:-1000}
for t in nginx wrk; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "serve bench: $t missing (run scripts/install-deps.sh bench)" >&2; exit 1; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
work=$(mktemp -d /tmp/tieup-bench-serve.XXXXXX)
chmod 755 "$work"  # nginx workers run as an unprivileged user
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "serve bench: making $pages pages of ~8 KB in $work"
mkdir -p "$work/pages/p" "$work/nginx/logs"
python3 - "$work/pages/p" "$pages" <<'PY'
import os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
random.seed(42)
words = "tea sencha gyokuro matcha hojicha leaf kyoto uji shizuoka cup steep water bowl".split()
for i in range(n):
    body = " ".join(random.choice(words) for _ in range(1400))[:8000]
    html = f"<!doctype html><html><head><title>Page {i}</title></head><body><h1>Page {i}</h1><p>{body}</p></body></html>\n"
    open(os.path.join(d, f"{i}.html"), "w").write(html)
PY

tport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
nport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')

"$tieup" partner init "$work/partner" --id bench --name Bench --public "127.0.0.1:$tport" \
  --sync 127.0.0.1:0 >/dev/null
"$tieup" partner page put "$work/partner" /p/ "$work/pages/p" >/dev/null
# wrk loads from one address: lift the per-client request rate (site.toml [http]).
sed -i 's/^requests_per_second_per_client = .*/requests_per_second_per_client = 0/' \
  "$work/partner/site.toml"
"$tieup" partner serve "$work/partner" >"$work/tieup.log" 2>&1 &
tpid=$!
pids+=("$tpid")

cat >"$work/nginx/nginx.conf" <<NGX
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  types { text/html html; }
  default_type application/octet-stream;
  access_log $work/nginx/logs/access.log;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000;
  open_file_cache max=10000 inactive=60s;
  etag on;
  client_body_temp_path $work/nginx/tmp; proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp; uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  server { listen 127.0.0.1:$nport; root $work/pages; }
}
NGX
mkdir -p "$work/nginx/tmp"
"$nginx_bin" -c "$work/nginx/nginx.conf" -p "$work/nginx" 2>/dev/null || "$nginx_bin" -c "$work/nginx/nginx.conf" -p "$work/nginx"

for port in $tport $nport; do
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/p/0.html" && break; sleep 0.1; done
  curl -sf -o /dev/null "http://127.0.0.1:$port/p/999.html" || { echo "serve bench: server on $port not answering" >&2; cat "$work/tieup.log" >&2; exit 1; }
done

cat >"$work/pages.lua" <<LUA
local n = $pages
local i = 0
request = function()
  i = (i + 1) % n
  return wrk.format("GET", "/p/" .. i .. ".html")
end
LUA

run_wrk() { # port -> "rps p50_ms p99_ms"
  wrk -t2 -c64 -d"${duration}s" --latency -s "$work/pages.lua" "http://127.0.0.1:$1/" >"$work/wrk.out" 2>&1
  python3 - "$work/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v); x = float(m.group(1))
    return x / 1000 if m.group(2) == "us" else x * 1000 if m.group(2) == "s" else x
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", t).group(1)); p99 = ms(re.search(r"\s99%\s+(\S+)", t).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if errs: print(f"warning: {errs.group(1)} non-2xx responses", file=sys.stderr)
print(f"{rps:.0f} {p50:.3f} {p99:.3f}")
PY
}

echo "serve bench: wrk -t2 -c64 -d${duration}s, $rounds rounds of tieup then nginx"
printf '%-6s %-6s %12s %10s %10s\n' round server req/s p50_ms p99_ms
t_rps=(); n_rps=(); t_p50=(); n_p50=(); t_p99=(); n_p99=()
for r in $(seq "$rounds"); do
  read -r rps p50 p99 < <(run_wrk "$tport"); t_rps+=("$rps"); t_p50+=("$p50"); t_p99+=("$p99")
  printf '%-6s %-6s %12s %10s %10s\n' "$r" tieup "$rps" "$p50" "$p99"
  read -r rps p50 p99 < <(run_wrk "$nport"); n_rps+=("$rps"); n_p50+=("$p50"); n_p99+=("$p99")
  printf '%-6s %-6s %12s %10s %10s\n' "$r" nginx "$rps" "$p50" "$p99"
done
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$tpid/status")
python3 - "${t_rps[*]}" "${n_rps[*]}" "${t_p50[*]}" "${n_p50[*]}" "${t_p99[*]}" "${n_p99[*]}" "$rss_kb" <<'PY'
import statistics as st, sys
v = [list(map(float, a.split())) for a in sys.argv[1:7]]
m = [st.median(x) for x in v]
print(f"median  tieup {m[0]:.0f} req/s p50 {m[2]:.3f} ms p99 {m[4]:.3f} ms")
print(f"median  nginx {m[1]:.0f} req/s p50 {m[3]:.3f} ms p99 {m[5]:.3f} ms")
print(f"ratio tieup/nginx req/s {m[0]/m[1]:.2f}  p99 {m[4]/m[5]:.2f}")
print(f"tieup partner peak RSS {int(sys.argv[7])/1024:.1f} MiB")
PY
echo "nginx access log lines: $(wc -l <"$work/nginx/logs/access.log")"
