#!/usr/bin/python3
"""traefik-api-fake: a stand-in for Traefik's API, for t-edge. Traefik cannot
run in the test environment; this named fake plays the one part of it the
Traefik edge talks to: GET /api/http/routers/NAME@file, answered from what
the file provider directory holds, the way Traefik would after loading it.

  --mode follow   answers with the router's service as found in DIR/SITE.yml,
                  but only once a change has been on disk for --delay-ms
                  (Traefik's providersThrottleDuration); 404 until the file
                  exists.
  --mode stuck    keeps answering with what the directory held at start
                  (a Traefik that does not pick up changes).
  --mode broken   answers 500 to everything (an API in front of which
                  something is wrong).

It writes the port it listens on (127.0.0.1, ephemeral) to --port-file and
serves until killed. Run it with /usr/bin/python3.
"""
import argparse
import http.server
import json
import os
import threading
import time

import yaml


def router_service(directory, name):
    site = name[: -len("-live")] if name.endswith("-live") else name
    site = site[: -len("-preview")] if site.endswith("-preview") else site
    try:
        with open(os.path.join(directory, site + ".yml"), encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        return doc["http"]["routers"][name]["service"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.served = {}   # router name -> service served (None: absent)
        self.pending = {}  # router name -> (service on disk, first seen)

    def service(self, name):
        with self.lock:
            on_disk = router_service(self.args.dir, name)
            if name not in self.served:
                self.served[name] = on_disk
            if self.args.mode == "stuck":
                return self.served[name]
            if on_disk != self.served[name]:
                pend = self.pending.get(name)
                if pend is None or pend[0] != on_disk:
                    pend = (on_disk, time.monotonic())
                    self.pending[name] = pend
                if time.monotonic() - pend[1] >= self.args.delay_ms / 1000.0:
                    self.served[name] = on_disk
            return self.served[name]


def make_handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            prefix = "/api/http/routers/"
            if not self.path.startswith(prefix) or not self.path.endswith("@file"):
                self.send_error(404)
                return
            if state.args.mode == "broken":
                self.send_error(500)
                return
            name = self.path[len(prefix): -len("@file")]
            svc = state.service(name)
            if svc is None:
                body = b"404 page not found\n"
                self.send_response(404)
            else:
                body = json.dumps({
                    "entryPoints": ["websecure"],
                    "service": svc,
                    "rule": "Host(`example`)",
                    "status": "enabled",
                    "using": ["websecure"],
                    "name": name + "@file",
                    "provider": "file",
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            pass

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--mode", choices=["follow", "stuck", "broken"], default="follow")
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--routers", default="", help="router names to load at start")
    args = ap.parse_args()
    state = State(args)
    for name in filter(None, args.routers.split(",")):
        state.service(name)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
