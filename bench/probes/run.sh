#!/usr/bin/env bash
# Main's probes of a partner's public pages (issue 17 item 3): what they cost the partner.
# A real main and a real partner (`tieup main serve`, `tieup partner serve`) on loopback; the
# partnership has the security service; main's release for it holds PAGES pages of ~8 KB.
# Rounds alternate:
#   idle   security.probe_pages_per_hour = 0 (no probes): the partner's own background CPU;
#   10k/h  the issue's load, 10,000 pages per partner per hour;
#   fast   100 pages a second (360,000/h), to measure the cost of one probe precisely.
# Each round restarts main with the setting and reads the partner process's CPU time
# (/proc/PID/stat, user + system) over DURATION seconds, and the pages main probed meanwhile
# (`tieup main probes`). Printed: CPU as a percentage of one core, medians over ROUNDS, and the
# 10k/h cost extrapolated from the fast rounds' cost per page. Goal: under 1%.
# Usage: bench/probes/run.sh   (DURATION=60 ROUNDS=2 PAGES=1000 by default)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tieup=${TIEUP:-$root/build/apps/tieup/tieup}
work=$(mktemp -d /tmp/tieup-bench-probes.XXXXXX)
trap 'pkill -P $$ 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
/usr/bin/python3 - "$tieup" "$work" "${DURATION:-60}" "${ROUNDS:-2}" "${PAGES:-1000}" <<'PY'
import atexit, os, random, re, signal, socket, statistics, subprocess, sys, time, urllib.request
tieup, work, duration, rounds, pages = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
tick = os.sysconf("SC_CLK_TCK")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def run(*args):
    r = subprocess.run([tieup, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"probes bench: tieup {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout + r.stderr

main, shop = os.path.join(work, "main"), os.path.join(work, "shop-a")
msync, mpub, ppub, psync = free_port(), free_port(), free_port(), free_port()
run("main", "init", main, "--name", "Bench", "--public", f"127.0.0.1:{mpub}", "--sync",
    f"127.0.0.1:{msync}", "--console", "127.0.0.1:0", "--manager", "none")
random.seed(42)
words = "tea sencha gyokuro matcha hojicha leaf kyoto uji shizuoka cup steep water bowl".split()
os.makedirs(os.path.join(main, "authoring", "pages", "p"), exist_ok=True)
for i in range(pages):
    body = " ".join(random.choice(words) for _ in range(1400))[:8000]
    open(os.path.join(main, "authoring", "pages", "p", f"{i}.md"), "w").write(
        f"---\ntitle: Page {i}\n---\n{body}\n")
config = os.path.join(main, "site.toml")
base_config = open(config).read()

def set_rate(rate):
    text = base_config
    lines = f'"security.probe_pages_per_hour" = "{rate}"\n"security.probe_interval" = "1s"\n'
    text = text.replace("\n[variables]\n", "\n[variables]\n" + lines) if "\n[variables]\n" in text \
        else text + "\n[variables]\n" + lines
    open(config, "w").write(text)

daemons = []
def start(args, log):
    p = subprocess.Popen([tieup, *args], stdout=open(os.path.join(work, log), "a"),
                         stderr=subprocess.STDOUT)
    daemons.append(p)
    return p

def stop_all():
    for p in daemons:
        if p.poll() is None: p.send_signal(signal.SIGTERM)
    for p in daemons:
        try: p.wait(timeout=60)
        except subprocess.TimeoutExpired: p.kill()
atexit.register(stop_all)

def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

def probed():
    out = run("main", "probes", main, "--partner", "shop-a")
    m = re.search(r"(\d+) pages probed", out)
    return int(m.group(1)) if m else 0, out

def wait_port(port, what):
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close(); return
        except OSError:
            if time.monotonic() > deadline: sys.exit(f"probes bench: {what} does not start")
            time.sleep(0.1)

set_rate(0)
mainp = start(["main", "serve", main], "main.log")
wait_port(msync, "main")
out = run("main", "partner", "add", main, "--id", "shop-a", "--name", "Shop A", "--public-url",
          f"http://localhost:{ppub}", "--sync-url", f"https://127.0.0.1:{psync}")
code = re.search(r"code[^\n]*:\n\s+(\S+)", out).group(1)
run("main", "partner", "set", main, "shop-a", "--options", "security")
run("partner", "init", shop, "--id", "shop-a", "--name", "Shop A", "--public", f"127.0.0.1:{ppub}",
    "--sync", f"127.0.0.1:{psync}", "--main", f"https://127.0.0.1:{msync}", "--token", code,
    "--console", "127.0.0.1:0", "--manager", "none")
partner = start(["partner", "serve", shop], "partner.log")
wait_port(ppub, "the partner"); wait_port(psync, "the partner's sync port")
run("main", "publish", main, "--all")
deadline = time.monotonic() + 120
while True:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ppub}/p/{pages - 1}.html", timeout=5) as r:
            if r.status == 200: break
    except OSError:
        pass
    if time.monotonic() > deadline: sys.exit("probes bench: the partner does not serve main's pages")
    time.sleep(0.2)

results = {"idle": [], "10k/h": [], "fast": []}
per_page = []
for rnd in range(rounds):
    for name, rate in (("idle", 0), ("10k/h", 10000), ("fast", 360000)):
        mainp.send_signal(signal.SIGTERM); mainp.wait(timeout=60)
        set_rate(rate)
        mainp = start(["main", "serve", main], "main.log")
        before_pages, _ = probed()
        if rate:
            # The first round of probes has begun before measuring.
            deadline = time.monotonic() + 60
            while probed()[0] == before_pages:
                if time.monotonic() > deadline: sys.exit("probes bench: main does not probe")
                time.sleep(0.2)
        start_pages, _ = probed()
        c0, t0 = cpu_seconds(partner.pid), time.monotonic()
        time.sleep(duration)
        c1, t1 = cpu_seconds(partner.pid), time.monotonic()
        end_pages, text = probed()
        pct = 100 * (c1 - c0) / (t1 - t0)
        n = end_pages - start_pages
        results[name].append((pct, n, c1 - c0))
        print(f"round {rnd + 1} {name:6} partner CPU {pct:6.3f}% of a core over {t1 - t0:5.1f} s; "
              f"{n} pages probed ({n * 3600 / (t1 - t0):,.0f}/h)", flush=True)
        if rate and "not what main signed" in text:
            sys.exit("probes bench: a probe found a page that is not main's:\n" + text)

idle = statistics.median(r[0] for r in results["idle"])
slow = statistics.median(r[0] for r in results["10k/h"])
fast_cost = statistics.median((r[2] - i[2]) / r[1] for r, i in zip(results["fast"], results["idle"]) if r[1])
print(f"median partner CPU: idle {idle:.3f}%, probed at 10,000 pages/h {slow:.3f}% "
      f"(+{slow - idle:.3f} points); one probe costs the partner {fast_cost * 1e6:.0f} us of CPU "
      f"(fast rounds), so 10,000 pages/h cost {fast_cost * 10000 / 3600 * 100:.3f}% of a core. "
      f"Goal: under 1%.")
print(probed()[1].strip())
PY
echo "probes bench: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
