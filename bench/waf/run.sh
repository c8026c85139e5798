#!/usr/bin/env bash
# WAF benchmark (issue 17): tieup's WAF against nginx + ModSecurity + the same OWASP CRS, side by
# side in one run.
#   1. The CRS regression suite (test/guard/crs_suite.py, paranoia level 4): pass rate of a
#      tieup main and of nginx+ModSecurity.
#   2. Throughput and latency, wrk -t2 -c64 keep-alive, with the sites' default settings (paranoia
#      level 1, threshold 5): the serving benchmark's 1,000 pages of ~8 KB ("pages"), and a mix
#      ("mix": 60% plain GETs, 30% GETs with a search query string, 10% form POSTs), served by a
#      tieup partner with its WAF on, the same partner with [waf] mode = "off" (the WAF's cost),
#      and nginx with ModSecurity; rounds alternate the three. Medians and ratios.
# Requests carry a host name, as a browser's do (an IP in Host matches CRS 920350 on each).
# Usage: bench/waf/run.sh   (DURATION=10 ROUNDS=2 by default; SUITE=0 skips part 1)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tieup=${TIEUP:-$root/build/apps/tieup/tieup}
duration=${DURATION:-10}
rounds=${ROUNDS:-2}
pages=1000
suite="$root/test/guard/crs_suite.py"
module=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
for t in nginx wrk; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "waf bench: $t missing (run scripts/install-deps.sh bench)" >&2; exit 1; }
done
[ -f "$module" ] || { echo "waf bench: no $module (run scripts/install-deps.sh bench)" >&2; exit 1; }
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
work=$(mktemp -d /tmp/tieup-bench-waf.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

if [ "${SUITE:-1}" = 1 ]; then
echo "== waf: 1. the CRS v3.3.4 regression suite, paranoia level 4"
/usr/bin/python3 "$suite" --tieup "$tieup" --site main --json --report "$work/crs-tieup.txt" | tee "$work/crs-tieup.json"
/usr/bin/python3 "$suite" --nginx --json --report "$work/crs-nginx.txt" | tee "$work/crs-nginx.json"
python3 - "$work/crs-tieup.json" "$work/crs-nginx.json" <<'PY'
import json, sys
t, n = (json.loads(open(p).read().strip().splitlines()[-1]) for p in sys.argv[1:3])
print(f"CRS suite: tieup {t['passed']}/{t['total']} ({t['rate']}%), nginx+ModSecurity "
      f"{n['passed']}/{n['total']} ({n['rate']}%); difference {t['passed'] - n['passed']:+d} stages")
PY
fi

echo "== waf: 2. throughput, $pages pages of ~8 KB and a mix, wrk -t2 -c64 -d${duration}s"
mkdir -p "$work/pages/p" "$work/nginx/logs" "$work/nginx/tmp"
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
declare -A port
for name in on off; do
  port[$name]=$(free_port)
  "$tieup" partner init "$work/$name" --id "bench-$name" --name Bench --public "127.0.0.1:${port[$name]}" \
    --sync 127.0.0.1:0 --console 127.0.0.1:0 --manager none --no-starter-pages >/dev/null
  "$tieup" partner page put "$work/$name" /p/ "$work/pages/p" >/dev/null
  # wrk loads from one address: lift the per-client request rate (site.toml [http]).
  sed -i 's/^requests_per_second_per_client = .*/requests_per_second_per_client = 0/' "$work/$name/site.toml"
done
sed -i 's/^mode = "block"/mode = "off"/' "$work/off/site.toml"
grep -q '^mode = "off"' "$work/off/site.toml" || { echo "waf bench: could not switch the WAF off" >&2; exit 1; }
for name in on off; do
  "$tieup" partner serve "$work/$name" >"$work/$name.log" 2>&1 &
  pids+=("$!")
done
port[nginx]=$(free_port)
python3 - "$suite" "$module" "$work" "${port[nginx]}" <<'PY'
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("crs_suite", sys.argv[1])
crs = importlib.util.module_from_spec(spec); spec.loader.exec_module(crs)
module, work, port = sys.argv[2], sys.argv[3], int(sys.argv[4])
open(os.path.join(work, "nginx", "modsecurity.conf"), "w").write(crs.modsecurity_conf(1))
conf = crs.nginx_conf(module, os.path.join(work, "nginx"), os.path.join(work, "pages"),
                      os.path.join(work, "nginx", "modsecurity.conf"), port,
                      os.path.join(work, "nginx", "logs", "error.log"), workers="auto")
# Daemonized here (the script stops it by its pid file), with the serving bench's settings.
conf = conf.replace("daemon off;\n", "").replace("access_log off;", "access_log off;\n  sendfile on; tcp_nopush on; tcp_nodelay on;\n  open_file_cache max=10000 inactive=60s;\n  types { text/html html; }")
open(os.path.join(work, "nginx", "nginx.conf"), "w").write(conf)
PY
"$nginx_bin" -c "$work/nginx/nginx.conf" -p "$work/nginx"
for name in on off nginx; do
  for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:${port[$name]}/p/0.html" && break; sleep 0.1; done
  curl -sf -o /dev/null "http://127.0.0.1:${port[$name]}/p/999.html" || { echo "waf bench: $name not answering" >&2; cat "$work/$name.log" >&2 2>/dev/null; exit 1; }
done
# The WAF is on where it should be: an attack is refused by "on" and nginx, served by "off".
attack='/p/1.html?q=1%27%20OR%20%271%27%3D%271%27%20UNION%20SELECT%20*'
for name in on nginx; do
  s=$(curl -s -o /dev/null -w '%{http_code}' -A Mozilla/5.0 "http://127.0.0.1:${port[$name]}$attack")
  [ "$s" = 403 ] || { echo "waf bench: $name answered $s to an SQL injection, not 403" >&2; exit 1; }
done
s=$(curl -s -o /dev/null -w '%{http_code}' -A Mozilla/5.0 "http://127.0.0.1:${port[off]}$attack")
[ "$s" = 200 ] || { echo "waf bench: the WAF-off partner answered $s" >&2; exit 1; }

cat >"$work/pages.lua" <<LUA
local n, i = $pages, 0
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) bench"
wrk.headers["Host"] = "shop.example"  -- a name, as browsers send (an IP would match CRS 920350)
wrk.headers["Accept"] = "text/html"
request = function()
  i = (i + 1) % n
  return wrk.format("GET", "/p/" .. i .. ".html")
end
LUA
cat >"$work/mix.lua" <<LUA
local n, i = $pages, 0
local words = {"sencha", "gyokuro", "matcha", "hojicha", "uji", "green tea", "cup"}
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) bench"
wrk.headers["Host"] = "shop.example"  -- a name, as browsers send (an IP would match CRS 920350)
wrk.headers["Accept"] = "text/html"
request = function()
  i = i + 1
  local page = "/p/" .. (i % n) .. ".html"
  local k = i % 10
  local w = words[(i % #words) + 1]:gsub(" ", "+")
  if k < 6 then
    return wrk.format("GET", page)
  elseif k < 9 then
    return wrk.format("GET", page .. "?q=" .. w .. "&sort=price&page=" .. (i % 7))
  else
    return wrk.format("POST", page, {["Content-Type"] = "application/x-www-form-urlencoded"},
                      "name=Ada+Lovelace&email=ada%40example.org&comment=A+lovely+" .. w ..
                      "%2C+thank+you%21&qty=" .. (i % 5 + 1))
  end
end
LUA

run_wrk() { # port script -> "rps p50_ms p99_ms non2xx"
  wrk -t2 -c64 -d"${duration}s" --latency -s "$2" "http://127.0.0.1:$1/" >"$work/wrk.out" 2>&1
  python3 - "$work/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v); x = float(m.group(1))
    return x / 1000 if m.group(2) == "us" else x * 1000 if m.group(2) == "s" else x
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", t).group(1)); p99 = ms(re.search(r"\s99%\s+(\S+)", t).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(f"{rps:.0f} {p50:.3f} {p99:.3f} {errs.group(1) if errs else 0}")
PY
}

printf '%-6s %-6s %-12s %10s %9s %9s %8s\n' load round server req/s p50_ms p99_ms non2xx
: >"$work/results"
for load in pages mix; do
  for r in $(seq "$rounds"); do
    for name in on off nginx; do
      read -r rps p50 p99 bad < <(run_wrk "${port[$name]}" "$work/$load.lua")
      label=$([ "$name" = on ] && echo "tieup+WAF" || { [ "$name" = off ] && echo "tieup" || echo "nginx+ModSec"; })
      printf '%-6s %-6s %-12s %10s %9s %9s %8s\n' "$load" "$r" "$label" "$rps" "$p50" "$p99" "$bad"
      echo "$load $name $rps $p50 $p99" >>"$work/results"
    done
  done
done
python3 - "$work/results" <<'PY'
import collections, statistics as st, sys
v = collections.defaultdict(list)
for line in open(sys.argv[1]):
    load, name, rps, p50, p99 = line.split()
    v[(load, name)].append((float(rps), float(p50), float(p99)))
for load in ("pages", "mix"):
    m = {n: [st.median(x[i] for x in v[(load, n)]) for i in range(3)] for n in ("on", "off", "nginx")}
    for n, label in (("on", "tieup+WAF"), ("off", "tieup, WAF off"), ("nginx", "nginx+ModSecurity")):
        print(f"median {load:5} {label:18} {m[n][0]:8.0f} req/s  p50 {m[n][1]:.3f} ms  p99 {m[n][2]:.3f} ms")
    print(f"ratio  {load:5} tieup+WAF / nginx+ModSecurity req/s {m['on'][0] / m['nginx'][0]:.2f}  "
          f"p99 {m['on'][2] / m['nginx'][2]:.2f};  WAF cost: tieup+WAF / tieup req/s "
          f"{m['on'][0] / m['off'][0]:.2f}")
PY
echo "waf bench: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
