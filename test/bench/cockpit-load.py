#!/usr/bin/python3
"""cockpit-load: load figures for the cockpit (issue 15, docs/benchmarks.md).

Starts `bluegreen cockpit --safe` on a throw-away state directory holding a
status.json of N sites (no daemon, no Docker: this measures the cockpit
alone), opens S Server-Sent Events streams (/events) and keeps them
reading, then runs `hey` against /api/v1/sites, /metrics and / on
127.0.0.1. While hey runs, status.json is replaced every second (as a
daemon would after each plan), and afterwards every stream must have
received every status event: an event stream that stalls under load
fails the run. Run it under the shared docker lock (timings):

    flock -o /tmp/bg-docker.lock test/bench/cockpit-load.py BUILD/bluegreen

Options: --sites N (20), --streams S (50), --seconds T (10), --conc C (50).
Prints one line per endpoint: requests/s, p50/p99 latency, errors.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


def site(i, live):
    return {"site": "site-%02d" % i, "live": live, "version": 3,
            "image": "registry.example.com/site-%02d:1.4.2" % i, "health": "healthy (2/2)",
            "candidate": None, "previous": {"colour": "blue" if live == "green" else "green",
                                            "role": "previous", "version": 2, "image": "x",
                                            "containers": 2, "running": 2,
                                            "health": "healthy (2/2)"},
            "desired_rejected": False, "desired_version": 3, "in_sync": True,
            "edge_file": None, "pending_changes": 0, "blocked": None}


def write_snap(state, n, k):
    live = "green" if k % 2 else "blue"
    s = {"format": 1, "written_at_ms": int(time.time() * 1000), "pid": 1, "plan_ok": True,
         "pending_changes": 0, "sites": [site(i, live) for i in range(n)]}
    tmp = os.path.join(state, "status.json.tmp")
    with open(tmp, "w") as f:
        json.dump(s, f)
    os.replace(tmp, os.path.join(state, "status.json"))


class Stream(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        self.status_events = 0
        self.error = None

    def run(self):
        buf = b""
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    self.error = "closed"
                    return
                buf += d
                self.status_events += buf.count(b"event: status\n")
                buf = buf[buf.rfind(b"\n") + 1:] if b"\n" in buf else buf
        except OSError as e:
            self.error = str(e)


def hey(url, seconds, conc):
    r = subprocess.run(["hey", "-z", "%ds" % seconds, "-c", str(conc), url],
                       capture_output=True, text=True, check=True)
    out = r.stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    p50 = float(re.search(r"50%+ in ([0-9.]+) secs", out).group(1)) * 1000
    p99 = float(re.search(r"99%+ in ([0-9.]+) secs", out).group(1)) * 1000
    codes = dict(re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    errs = re.search(r"Error distribution:(.*)", out, re.S)
    return rps, p50, p99, codes, errs.group(1).strip() if errs else ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--sites", type=int, default=20)
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--conc", type=int, default=50)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="bg-cockpit-load-")
    state = os.path.join(d, "state")
    os.makedirs(state, mode=0o700)
    os.makedirs(os.path.join(d, "ngx"))
    with open(os.path.join(d, "global.conf"), "w") as f:
        f.write("install_mode: development\nstate_dir: %s\nedge:\n  kind: nginx\n  nginx:\n"
                "    conf_dir: %s/ngx\ncockpit:\n  listen: \"127.0.0.1:0\"\n" % (state, d))
    write_snap(state, a.sites, 0)
    ck = subprocess.Popen([a.binary, "-c", d, "cockpit", "--safe"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    rc = 1
    try:
        port = int(re.search(r"listening on port (\d+)", ck.stdout.readline()).group(1))
        streams = [Stream(port) for _ in range(a.streams)]
        for s in streams:
            s.start()
        time.sleep(1)
        stop = threading.Event()
        writes = [0]

        def writer():
            while not stop.wait(1.0):
                writes[0] += 1
                write_snap(state, a.sites, writes[0])
        w = threading.Thread(target=writer, daemon=True)
        w.start()
        print("cockpit load: %d sites, %d SSE streams open, hey -c %d for %ds per route, "
              "status.json replaced every second" % (a.sites, a.streams, a.conc, a.seconds))
        for path in ("/api/v1/sites", "/metrics", "/"):
            rps, p50, p99, codes, errs = hey("http://127.0.0.1:%d%s" % (port, path),
                                             a.seconds, a.conc)
            print("  %-14s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  codes %s%s"
                  % (path, rps, p50, p99, codes, ("  errors: " + errs) if errs else ""))
        stop.set()
        w.join()
        time.sleep(1.5)
        # Each stream got the first status plus one per replaced file (the hub may
        # fold two writes within one poll into one event, never lose the last).
        got = [s.status_events for s in streams]
        bad = [s.error for s in streams if s.error]
        print("  SSE: %d streams, status events per stream min %d max %d (status.json "
              "written %d times)%s" % (len(streams), min(got), max(got), writes[0] + 1,
                                        ("; errors: %s" % bad[:3]) if bad else ""))
        rc = 0 if not bad and min(got) >= (writes[0] + 1) * 0.8 else 1
    finally:
        ck.terminate()
        ck.wait(timeout=10)
        shutil.rmtree(d, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
