#!/usr/bin/env bash
# Site search over HTTP (issue 20): a tieup partner serving 10,000 generated pages of 4-8 KB
# (English prose and some Japanese sentences, an h1 title and h2 headings; fixed seed), its
# search index built by the daemon itself (SITE_DIR/search, at start), then wrk with keep-alive,
# 2 threads, 32 connections, alternating rounds A B A B: (a) the static pages, rotating through
# them, (b) GET /search?q=WORDS, rotating through a mix of queries (common words, two words, a
# phrase, a misspelling, Japanese words, a page's own word, a word no page has). Access logs on
# (each search is also a record in the site's ledger). Prints requests/s, p50, p99, their medians,
# the ratio search/static, the time from `partner serve` to a searchable index, and the partner's
# peak RSS. The WAF stays as a new partner has it (on, "block"); WAF=off switches it off in
# site.toml ([waf] mode), to see the search page's own cost (with the WAF on, a static page costs
# mostly the WAF's inspection, bench/waf). Env: TIEUP (binary), PAGES (10000), DURATION (10 s),
# ROUNDS (2), WAF (block, or off).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tieup=${TIEUP:-$root/build/apps/tieup/tieup}
duration=${DURATION:-10}
rounds=${ROUNDS:-2}
pages=${PAGES:-10000}
waf=${WAF:-block}
for t in wrk curl python3; do
  command -v "$t" >/dev/null || { echo "search bench: $t missing (run scripts/install-deps.sh bench)" >&2; exit 1; }
done
[ -x "$tieup" ] || { echo "search bench: no tieup binary at $tieup (build it, or set TIEUP)" >&2; exit 1; }
work=$(mktemp -d /tmp/tieup-bench-search.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "search bench: making $pages pages of 4-8 KB in $work"
mkdir -p "$work/pages/p"
# Prints the word only the last page has (in its title).
last_word=$(python3 - "$work/pages/p" "$pages" <<'PY'
import itertools, os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
syl = ("ka ki ku ke ko sa shi su se so ta chi tsu te to na ni nu ne no ha hi fu he ho ma mi mu "
       "me mo ra ri ru re ro ya yu yo wa ga gi gu ge go ba bi bu be bo").split()
common = ("the of and to a in is it you that for with on as are this be at or by from your our we "
          "can an not all more one have will has its into which when but their they than also each "
          "tea leaves leaf green cup water brew steep flavour taste aroma sweet fresh spring harvest "
          "sencha gyokuro matcha hojicha genmaicha bancha kabusecha kukicha shincha kyoto uji "
          "shizuoka kagoshima garden farm farmer field hill mist morning shade shaded roasted steamed "
          "stone mill whisk bowl teapot kyusu kettle temperature minutes grams infusion umami grassy "
          "nutty floral mellow bitter smooth rich deep light colour jade golden texture finish notes "
          "seaweed chestnut vanilla honey citrus rice toasted caffeine calm ritual ceremony season "
          "summer autumn winter family tradition craft handmade gently cool warm hot cold iced pour "
          "serve store storage airtight tin pouch order shipping delivery price gift box sample "
          "tasting guide recipe wagashi mochi latte milk customer review question recommend "
          "quality grade premium ceremonial culinary organic soil rain slope picked processed blend "
          "single origin cultivar yabukita saemidori okumidori asatsuyu").split()
tea = common[common.index("tea"):]
cw = list(itertools.accumulate(1 / (r + 3) for r in range(len(common))))
rng = random.Random(7)
rare = ["".join(rng.choice(syl) for _ in range(rng.randint(2, 4))) for _ in range(20000)]
rw = list(itertools.accumulate(1 / (r + 3) for r in range(len(rare))))
ja = ["香り高い玉露です。", "京都の宇治で育てた抹茶を使っています。", "急須でゆっくりと蒸らしてください。",
      "新茶の季節がやってきました。", "静岡県産の深蒸し煎茶です。", "ほうじ茶は香ばしい風味が特徴です。",
      "茶葉は湿気を避けて保存してください。", "和菓子と一緒にお楽しみください。", "茶畑は朝霧に包まれています。"]
heads = ["How to brew", "Tasting notes", "Where it grows", "Storing the leaves", "Pairing with food",
         "The harvest", "About the farm", "Questions from customers", "Cold brew", "Gift sets"]
kinds = ["Gyokuro", "Sencha", "Matcha", "Hojicha", "Genmaicha", "Tea guide", "Farm visit", "Recipe"]
def page_word(i):
    w = "zo"
    for _ in range(3):
        w += syl[i % len(syl)]; i //= len(syl)
    return w
def words(r, k):
    out = []
    for _ in range(k):
        out.append(r.choices(common, cum_weights=cw)[0] if r.random() < 0.85 else r.choices(rare, cum_weights=rw)[0])
    return out
def sentence(r):
    w = words(r, r.randint(6, 19)); w[0] = w[0].capitalize()
    return " ".join(w) + "."
for i in range(n):
    r = random.Random(1000003 * (i + 1))
    title = f"{r.choice(kinds)} {page_word(i).capitalize()}: {' '.join(r.choice(tea) for _ in range(3))}"
    target = r.randint(4000, 8000)
    head = (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} | Bench Tea</title>"
            f"<link rel=\"stylesheet\" href=\"/style.css\"></head>\n<body><header><a href=\"/\">Bench Tea</a>"
            f"<nav><a href=\"/\">Home</a> <a href=\"/p/\">Teas</a> <a href=\"/search\">Search</a></nav></header>\n"
            f"<main>\n<h1>{title}</h1>\n<p>{sentence(r)} {sentence(r)}</p>\n")
    foot = "</main>\n<footer><p>Bench Tea, Kyoto. Free shipping over 50 EUR.</p></footer>\n</body></html>\n"
    body = [head]; size = len(head.encode())
    while size + len(foot) < target:
        p = f"<h2>{r.choice(heads)}</h2>\n" if r.random() < 0.3 else ""
        p += "<p>" + " ".join(sentence(r) for _ in range(r.randint(2, 5)))
        if r.random() < 0.33: p += " " + r.choice(ja)
        p += "</p>\n"; body.append(p); size += len(p.encode())
    body.append(foot)
    with open(os.path.join(d, f"{i}.html"), "w", encoding="utf-8") as f: f.write("".join(body))
print(page_word(n - 1))
PY
)

port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$tieup" partner init "$work/partner" --id bench --name Bench --public "127.0.0.1:$port" \
  --sync 127.0.0.1:0 >/dev/null
"$tieup" partner page put "$work/partner" /p/ "$work/pages/p" >/dev/null
# wrk loads from one address: lift the per-client request rate (site.toml [http]).
sed -i 's/^requests_per_second_per_client = .*/requests_per_second_per_client = 0/' \
  "$work/partner/site.toml"
if [ "$waf" = off ]; then
  sed -i 's/^mode = "block"/mode = "off"/' "$work/partner/site.toml"
  grep -q '^mode = "off"' "$work/partner/site.toml" || { echo "search bench: could not switch the WAF off" >&2; exit 1; }
fi
started=$(date +%s.%N)
"$tieup" partner serve "$work/partner" >"$work/tieup.log" 2>&1 &
tpid=$!
pids+=("$tpid")
base="http://127.0.0.1:$port"

for _ in $(seq 100); do curl -sf -o /dev/null "$base/p/0.html" && break; sleep 0.1; done
curl -sf -o /dev/null "$base/p/$((pages - 1)).html" || { echo "search bench: partner not answering" >&2; cat "$work/tieup.log" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/search?q=tea")
if [ "$code" != 200 ]; then
  echo "search bench: GET /search answers $code (is the site search wired into the daemon?)" >&2
  exit 1
fi
# The daemon indexes at start, in one commit: the last page's own word is found once it is done.
ready=""
for _ in $(seq 3000); do
  if curl -sf "$base/search?q=$last_word" 2>/dev/null | grep -q "/p/$((pages - 1)).html"; then
    ready=$(date +%s.%N); break
  fi
  kill -0 "$tpid" 2>/dev/null || { echo "search bench: partner exited" >&2; cat "$work/tieup.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$ready" ] || { echo "search bench: the index never found '$last_word'" >&2; tail -20 "$work/tieup.log" >&2; exit 1; }
python3 -c "import sys; print(f'search bench: searchable {float(sys.argv[2]) - float(sys.argv[1]):.1f} s after partner serve started ({sys.argv[3]} pages)')" "$started" "$ready" "$pages"

cat >"$work/static.lua" <<LUA
local n = $pages
local i = 0
request = function()
  i = (i + 1) % n
  return wrk.format("GET", "/p/" .. i .. ".html")
end
LUA
python3 - "$work/search.lua" "$last_word" <<'PY'
import sys, urllib.parse
queries = ["sencha", "gyokuro", "kyoto", "umami", "tea", "green tea", "matcha whisk",
           "spring harvest", "\"how to brew\"", "\"green tea\"", "sencah", "gyokrou", "玉露", "抹茶",
           "宇治 抹茶", "急須", sys.argv[2], "xqzvywj", "roasted chestnut", "cold brew"]
paths = ",\n".join(f'  "/search?q={urllib.parse.quote(q)}"' for q in queries)
open(sys.argv[1], "w").write(f"""local paths = {{
{paths}
}}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
""")
PY

run_wrk() { # lua -> "rps p50_ms p99_ms"
  wrk -t2 -c32 -d"${duration}s" --latency -s "$1" "$base/" >"$work/wrk.out" 2>&1
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

echo "search bench: wrk -t2 -c32 -d${duration}s, $rounds rounds of static then search (WAF $waf)"
printf '%-6s %-7s %12s %10s %10s\n' round page req/s p50_ms p99_ms
s_rps=(); q_rps=(); s_p50=(); q_p50=(); s_p99=(); q_p99=()
for r in $(seq "$rounds"); do
  read -r rps p50 p99 < <(run_wrk "$work/static.lua"); s_rps+=("$rps"); s_p50+=("$p50"); s_p99+=("$p99")
  printf '%-6s %-7s %12s %10s %10s\n' "$r" static "$rps" "$p50" "$p99"
  read -r rps p50 p99 < <(run_wrk "$work/search.lua"); q_rps+=("$rps"); q_p50+=("$p50"); q_p99+=("$p99")
  printf '%-6s %-7s %12s %10s %10s\n' "$r" search "$rps" "$p50" "$p99"
done
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$tpid/status")
python3 - "${s_rps[*]}" "${q_rps[*]}" "${s_p50[*]}" "${q_p50[*]}" "${s_p99[*]}" "${q_p99[*]}" "$rss_kb" <<'PY'
import statistics as st, sys
v = [list(map(float, a.split())) for a in sys.argv[1:7]]
m = [st.median(x) for x in v]
print(f"median  static {m[0]:.0f} req/s p50 {m[2]:.3f} ms p99 {m[4]:.3f} ms")
print(f"median  search {m[1]:.0f} req/s p50 {m[3]:.3f} ms p99 {m[5]:.3f} ms")
print(f"ratio search/static req/s {m[1]/m[0]:.3f} (static {m[0]/m[1]:.0f}x search)  p99 {m[5]/m[4]:.1f}")
print(f"tieup partner peak RSS {int(sys.argv[7])/1024:.1f} MiB")
PY
echo "search bench: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
