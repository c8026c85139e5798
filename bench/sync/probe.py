#!/usr/bin/env python3
"""Runs a publish command and polls every partner until each serves the changed page.

Usage: probe.py MARKER URL_PATH PORTS(comma-separated) TIMEOUT_S LOG -- COMMAND...
Prints one JSON object: publish_s (command wall time), all_active_s (start of the command to
the moment the last partner served MARKER at URL_PATH), first_active_s, rc, and per-port times.
One thread polls the partners round robin over keep-alive connections (a cycle of 20 partners
takes a few ms; then it sleeps 10 ms), so the resolution is ~15 ms.
"""
import http.client
import json
import subprocess
import sys
import time

marker, path, ports, timeout, log = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
cmd = sys.argv[sys.argv.index("--") + 1:]
ports = [int(p) for p in ports.split(",")]
needle = marker.encode()
conns = {p: None for p in ports}
seen = {}


def check(port):
    for _ in range(2):
        try:
            if conns[port] is None:
                conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conns[port].request("GET", path)
            r = conns[port].getresponse()
            body = r.read()
            return r.status == 200 and needle in body
        except (OSError, http.client.HTTPException):
            conns[port] = None
    return False


t0 = time.monotonic()
with open(log, "w") as out:
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    publish_s = None
    while len(seen) < len(ports) or publish_s is None:
        now = time.monotonic()
        if publish_s is None and proc.poll() is not None:
            publish_s = now - t0
        if now - t0 > timeout:
            break
        for p in ports:
            if p not in seen and check(p):
                seen[p] = time.monotonic() - t0
        time.sleep(0.01)
    if publish_s is None:
        proc.wait()
        publish_s = time.monotonic() - t0
times = sorted(seen.values())
print(json.dumps({
    "publish_s": round(publish_s, 3),
    "rc": proc.returncode,
    "active": len(seen),
    "partners": len(ports),
    "first_active_s": round(times[0], 3) if times else None,
    "all_active_s": round(times[-1], 3) if len(seen) == len(ports) else None,
    "per_port": {str(p): round(t, 3) for p, t in seen.items()},
}))
