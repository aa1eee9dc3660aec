#!/usr/bin/python3
"""file-server: serve a directory over HTTP on 127.0.0.1 and a free port,
for the attestation-URL tests (test/unit/t-attest.c).

  file-server.py PORTFILE DIR

Writes the port to PORTFILE once listening. GET /redirect answers 302 to
file:///etc/passwd (a redirect to another scheme, never to be followed);
GET /big answers 100 KiB; any other path is a file of DIR (404 if none).
"""

import http.server
import os
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
            return
        if self.path == "/big":
            body = b"x" * (100 * 1024)
        else:
            name = os.path.basename(self.path.split("?")[0])
            full = os.path.join(sys.argv[2], name)
            if not name or not os.path.isfile(full):
                self.send_response(404)
                self.end_headers()
                return
            with open(full, "rb") as f:
                body = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(tmp, sys.argv[1])
srv.serve_forever()
