#!/usr/bin/env python3
"""The OWASP Core Rule Set's regression suite against a real site (issue 17 item 2).

Reads the go-ftw YAML tests (../shared/testdata/crs-v3.3.4/, not copied into the project),
sends every stage, byte for byte, to a real public port on loopback and checks what go-ftw
checks: `log_contains` / `no_log_contains` (a regular expression over the log of the rules that
matched that request), `status` (one of the statuses given) and `expect_error`.

Targets:
  --tieup BIN --site main|partner
      creates a site in a temporary directory ('tieup main init' or 'tieup partner init'), sets
      its [waf] (paranoia level 4, as the CRS runs its own suite, so that every rule is tried)
      and lifts the per-client request rate limit, runs 'tieup main|partner serve', and reads
      the rules that matched each request from SITE_DIR/logs/waf.jsonl, which the daemon writes
      before it answers.
  --nginx
      nginx with Debian's libnginx-mod-http-modsecurity and the same rules and settings; the
      matched rules are read from its error log (ModSecurity writes each there).

Both are driven by the same code, so their pass rates compare. Exit status: 0 when the pass rate
is at least --floor (percent), 1 under it, 2 when the target could not be started. The report
(--report FILE) lists every failing stage with its reason.
"""

import argparse
import base64
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TESTDATA = os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "shared", "testdata", "crs-v3.3.4"))
CRS_SETUP = "/etc/modsecurity/crs/crs-setup.conf"
CRS_RULES = "/usr/share/modsecurity-crs/rules"
# Statuses the HTTP layer answers before any rule runs (a request it cannot parse or will not
# take). Counted apart: the request was refused, but not by the rule the test names.
HTTP_LAYER_REFUSALS = {400, 405, 408, 411, 413, 414, 417, 431, 501, 505}


def load_stages(testdata):
    """Every stage of every enabled test: (title, input, output), in file order."""
    files = sorted(glob.glob(os.path.join(testdata, "*", "*.yaml")))
    if not files:
        raise SystemExit(f"crs_suite: no go-ftw YAML under {testdata} (pass --testdata)")
    stages = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        if not doc.get("meta", {}).get("enabled", True):
            continue
        for test in doc.get("tests", []):
            for i, s in enumerate(test.get("stages", [])):
                stage = s["stage"]
                title = test["test_title"] + (f"#{i + 1}" if len(test["stages"]) > 1 else "")
                stages.append((title, stage.get("input", {}), stage.get("output", {})))
    return stages


def to_bytes(text):
    if isinstance(text, list):  # lines, as ftw joins them
        return b"\r\n".join(to_bytes(line) for line in text)
    if text is None:
        return b""
    return str(text).encode("utf-8")


def request_bytes(inp):
    """The bytes go-ftw would send for a stage's input."""
    if "encoded_request" in inp:
        return base64.b64decode(inp["encoded_request"])
    if "raw_request" in inp:
        return to_bytes(inp["raw_request"])
    method = inp.get("method", "GET")
    uri = inp.get("uri", "/")
    version = inp.get("version", "HTTP/1.1")
    headers = dict(inp.get("headers") or {})
    data = to_bytes(inp.get("data", ""))
    # As ftw does unless a stage says stop_magic: a body gets its length and, when the stage
    # gives no type, the form type (the suite's attacks in bodies are form fields).
    if data and not inp.get("stop_magic", False):
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if not any(k.lower() == "content-length" for k in headers):
            headers["Content-Length"] = str(len(data))
    out = to_bytes(f"{method} {uri} {version}".rstrip(" ") if version else f"{method} {uri}")
    out += b"\r\n"
    for name, value in headers.items():
        out += to_bytes(str(name)) + b": " + to_bytes(str(value)) + b"\r\n"
    return out + b"\r\n" + data


def send(port, raw, timeout=10.0):
    """Sends `raw`; the response's status, or None with the error when there is no response."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(raw)
            response = http.client.HTTPResponse(s)
            response.begin()
            try:
                response.read()
            except (http.client.HTTPException, OSError):
                pass
            return response.status, ""
    except (http.client.HTTPException, OSError) as e:
        return None, f"{type(e).__name__}: {e}"


class LogTail:
    """The text appended to a log file since the last call."""

    def __init__(self, path):
        self.path = path
        self.offset = os.path.getsize(path) if os.path.exists(path) else 0

    def take(self):
        if not os.path.exists(self.path):
            return ""
        size = os.path.getsize(self.path)
        if size < self.offset:  # rotated
            self.offset = 0
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        return data.decode("utf-8", "replace")


def waf_log_text(lines):
    """The matched rules of tieup's waf.jsonl lines, written as ModSecurity writes them."""
    out = []
    for line in lines.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        out.append(" ".join(f'[id "{r}"]' for r in e.get("rules", [])) +
                   f' [msg "{e.get("message", "")}"] {e.get("outcome", "")}')
    return "\n".join(out)


def check(output, status, error, log):
    """'' when the stage passes, else why not. `log`: the rules that matched the request."""
    if "expect_error" in output:
        if output["expect_error"] and error == "" and status not in HTTP_LAYER_REFUSALS:
            return f"expected a connection error, got status {status}"
        return ""
    if error and status is None:
        return f"no response: {error}"
    want = output.get("status")
    if want is not None:
        allowed = want if isinstance(want, list) else [want]
        if status not in allowed:
            return f"status {status}, expected one of {allowed}"
    if "log_contains" in output:
        if not re.search(output["log_contains"], log):
            refused = f" (the HTTP layer answered {status})" if status in HTTP_LAYER_REFUSALS else ""
            found = sorted(set(re.findall(r'id "(\d+)"', log)))
            return (f"no {output['log_contains']} in the log{refused}; matched: "
                    f"{', '.join(found) or 'nothing'}")
    if "no_log_contains" in output:
        if re.search(output["no_log_contains"], log):
            return f"{output['no_log_contains']} is in the log (a false positive)"
    return ""


def wait_for_line(proc, pattern, what, timeout=120):
    """Reads `proc`'s stderr until a line matches `pattern`; the match."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        line = line.decode("utf-8", "replace")
        seen.append(line)
        m = re.search(pattern, line)
        if m:
            return m
    raise SystemExit(f"crs_suite: {what} did not start:\n" + "".join(seen[-20:]))


class TieupTarget:
    def __init__(self, binary, role, paranoia, workdir):
        self.dir = os.path.join(workdir, role)
        common = ["--public", "127.0.0.1:0", "--sync", "127.0.0.1:0", "--console",
                  "127.0.0.1:0", "--manager", "none"]
        if role == "main":
            init = [binary, "main", "init", self.dir] + common
        else:
            init = [binary, "partner", "init", self.dir, "--id", "shop-crs",
                    "--no-starter-pages"] + common
        r = subprocess.run(init, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"crs_suite: {' '.join(init)} failed:\n{r.stdout}{r.stderr}")
        config = os.path.join(self.dir, "site.toml")
        with open(config, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"(?m)^paranoia_level = \d+", f"paranoia_level = {paranoia}", text)
        text = re.sub(r"(?m)^requests_per_second_per_client = \d+",
                      "requests_per_second_per_client = 0", text)
        with open(config, "w", encoding="utf-8") as f:
            f.write(text)
        self.proc = subprocess.Popen([binary, role, "serve", self.dir], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        m = wait_for_line(self.proc, r"serving http://[^:]+:(\d+)/", f"tieup {role} serve")
        self.port = int(m.group(1))
        # The daemon goes on logging to stderr: read it, or it would block on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()
        self.log = LogTail(os.path.join(self.dir, "logs", "waf.jsonl"))
        self.name = f"tieup {role}"

    def matched(self):
        return waf_log_text(self.log.take())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class NginxTarget:
    def __init__(self, paranoia, workdir):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        module = "/usr/lib/nginx/modules/ngx_http_modsecurity_module.so"
        if not os.path.exists(module):
            raise SystemExit("crs_suite: no nginx ModSecurity module: install "
                             "libnginx-mod-http-modsecurity (scripts/install-deps.sh bench)")
        self.dir = os.path.join(workdir, "nginx")
        root = os.path.join(self.dir, "html")
        os.makedirs(root)
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<p>ok</p>\n")
        rules = os.path.join(self.dir, "modsecurity.conf")
        with open(rules, "w") as f:
            f.write(modsecurity_conf(paranoia, os.path.join(self.dir, "audit.log")))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.error_log = os.path.join(self.dir, "error.log")
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_conf(module, self.dir, root, rules, self.port, self.error_log))
        self.proc = subprocess.Popen([nginx, "-c", conf, "-p", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit("crs_suite: nginx did not start:\n" +
                                     self.proc.stderr.read().decode("utf-8", "replace"))
                time.sleep(0.05)
        self.log = LogTail(os.path.join(self.dir, "audit.log"))
        self.name = "nginx+ModSecurity"
        self.markers = 0

    def matched(self):
        """What the audit log holds since the last call. ModSecurity writes a request's entry
        (with every rule that matched, part H) after the response: a marker request follows,
        and the text up to the marker's entry is the stage's."""
        self.markers += 1
        marker = f"X-CRS-Marker: {self.markers}-{os.getpid()}"
        send(self.port, f"GET /?marker HTTP/1.1\r\nHost: localhost\r\nUser-Agent: crs-suite\r\n"
                        f"Accept: */*\r\n{marker}\r\nConnection: close\r\n\r\n".encode())
        text = ""
        deadline = time.monotonic() + 10
        while marker not in text and time.monotonic() < deadline:
            more = self.log.take()
            if not more:
                time.sleep(0.001)
            text += more
        return text.split(marker)[0]

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def modsecurity_conf(paranoia, audit_log=None, threshold=5):
    """The settings tieup's guard::Waf loads (src/guard/waf.cc), for ModSecurity in nginx, and
    with `audit_log` an audit log of every request (where ModSecurity lists every rule that
    matched; without it, as tieup, none)."""
    audit = (f"SecAuditEngine On\nSecAuditLogType Serial\nSecAuditLogParts ABHZ\n"
             f"SecAuditLog {audit_log}" if audit_log else "SecAuditEngine Off")
    return f"""SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 1048576
SecRequestBodyNoFilesLimit 1048576
SecRequestBodyLimitAction ProcessPartial
SecResponseBodyAccess Off
{audit}
Include {CRS_SETUP}
SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level={paranoia}"
SecAction "id:900110,phase:1,nolog,pass,t:none,setvar:tx.inbound_anomaly_score_threshold={threshold},setvar:tx.outbound_anomaly_score_threshold=4"
Include {CRS_RULES}/*.conf
"""


def nginx_conf(module, prefix, root, rules, port, error_log, workers=1):
    return f"""load_module {module};
daemon off;
master_process on;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {error_log} warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  keepalive_requests 1000000;
  client_max_body_size 1m;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    modsecurity on;
    modsecurity_rules_file {rules};
    location / {{ try_files $uri $uri/ /index.html; }}
  }}
}}
"""


def run(target, stages, report):
    passed = 0
    by_reason = {"rule": 0, "http": 0}
    failures = []
    for title, inp, out in stages:
        target.matched()  # anything left from the previous stage
        status, error = send(target.port, request_bytes(inp))
        log = target.matched()
        why = check(out, status, error, log)
        if why:
            failures.append((title, why))
            if status in HTTP_LAYER_REFUSALS:
                by_reason["http"] += 1
            else:
                by_reason["rule"] += 1
        else:
            passed += 1
    total = len(stages)
    rate = 100.0 * passed / total if total else 0.0
    if report:
        with open(report, "w", encoding="utf-8") as f:
            f.write(f"# CRS v3.3.4 regression suite against {target.name}: {passed}/{total} stages "
                    f"pass ({rate:.1f}%)\n")
            f.write(f"# failing: {len(failures)} ({by_reason['http']} answered by the HTTP layer "
                    f"before the rules)\n")
            for title, why in failures:
                f.write(f"{title}: {why}\n")
    return passed, total, rate, failures


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tieup", help="the tieup binary")
    p.add_argument("--site", choices=["main", "partner"], default="main")
    p.add_argument("--nginx", action="store_true", help="run against nginx+ModSecurity instead")
    p.add_argument("--testdata", default=DEFAULT_TESTDATA)
    p.add_argument("--paranoia", type=int, default=4)
    p.add_argument("--floor", type=float, default=0.0, help="fail under this pass rate (percent)")
    p.add_argument("--report", help="write every failing stage and its reason here")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line")
    a = p.parse_args()
    stages = load_stages(a.testdata)
    workdir = tempfile.mkdtemp(prefix="crs-suite-")
    try:
        if a.nginx:
            target = NginxTarget(a.paranoia, workdir)
        elif a.tieup:
            target = TieupTarget(a.tieup, a.site, a.paranoia, workdir)
        else:
            p.error("give --tieup BIN or --nginx")
        try:
            started = time.monotonic()
            passed, total, rate, failures = run(target, stages, a.report)
            seconds = time.monotonic() - started
        finally:
            target.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if a.json:
        print(json.dumps({"target": target.name, "passed": passed, "total": total,
                          "rate": round(rate, 2), "seconds": round(seconds, 1)}))
    else:
        print(f"{target.name}: {passed}/{total} CRS stages pass ({rate:.1f}%) in {seconds:.0f} s"
              + (f"; every failing stage is in {a.report}" if a.report else ""))
        for title, why in failures[:10]:
            print(f"  {title}: {why}")
        if len(failures) > 10:
            print(f"  ... and {len(failures) - 10} more")
    if rate < a.floor:
        print(f"crs_suite: the pass rate {rate:.1f}% is under the floor {a.floor}%",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
