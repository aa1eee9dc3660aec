#!/usr/bin/python3
"""alert-receiver: a real HTTP receiver for the alert tests (issue 14).

    alert-receiver.py PORTFILE LOGFILE STATUSES

Listens on 127.0.0.1 on a free port and writes that port to PORTFILE
(through a rename, so a reader never sees half of it). Every POST is
appended to LOGFILE as one JSON line {"path", "body", "content_type",
"user_agent", "status"}. STATUSES is a comma list of answers, one per
request in order, the last one repeating: an HTTP status (200, 500, ...)
or "hang" (read the request, then never answer). Exits by itself after
180 s, so a test that dies never leaves it behind for long.
"""

import http.server
import json
import os
import sys
import threading
import time


def main(argv):
    portfile, logfile, statuses = argv[1], argv[2], argv[3].split(",")
    lock = threading.Lock()
    seen = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n).decode("utf-8", "replace")
            with lock:
                i = seen[0]
                seen[0] += 1
                answer = statuses[min(i, len(statuses) - 1)]
                with open(logfile, "a", encoding="utf-8") as f:
                    f.write(json.dumps({
                        "path": self.path, "body": body,
                        "content_type": self.headers.get("Content-Type"),
                        "user_agent": self.headers.get("User-Agent"),
                        "status": answer}) + "\n")
            if answer == "hang":
                time.sleep(170)
                return
            code = int(answer)
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = portfile + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, portfile)
    threading.Timer(180, lambda: os._exit(0)).start()
    srv.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
