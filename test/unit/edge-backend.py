#!/usr/bin/python3
"""edge-backend.py: real backends behind t-edge-nginx's real nginx.

  edge-backend.py ws PORT    a WebSocket echo server (python3-websockets):
                             every message comes back as it was sent
  edge-backend.py http PORT  HTTP/1.1 with keep-alive: GET answers
                             "requests=N connection=HDR" (N counts requests
                             on this TCP connection, HDR is the Connection
                             header received, "-" when none); GET
                             /slow?ms=N first waits N ms and answers "slow";
                             POST reads the whole body and answers "bytes=N";
                             GET /status?code=N answers status N with body
                             "status N"; every answer carries the header
                             "X-Backend: edge-backend" (t-checks)

Listens on 127.0.0.1 only; runs until killed.

  edge-backend.py client URL CAFILE MESSAGE
                             a WebSocket client: connects to 127.0.0.1 at
                             URL's port (TLS for wss://, checked against
                             CAFILE for URL's host), sends MESSAGE and
                             prints what comes back; exit 0 when it is the
                             same
"""
import sys
import time


def ws(port):
    import asyncio
    import websockets

    async def echo(conn, path=None):
        async for msg in conn:
            await conn.send(msg)

    async def main():
        async with websockets.serve(echo, "127.0.0.1", port):
            await asyncio.Future()

    asyncio.run(main())


def http(port):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            self.served = 0

        def answer(self, text, code=200):
            body = text.encode()
            self.send_response(code)
            self.send_header("X-Backend", "edge-backend")
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.served += 1
            if self.path.startswith("/slow?ms="):
                time.sleep(int(self.path.split("=", 1)[1]) / 1000.0)
                self.answer("slow")
                return
            if self.path.startswith("/status?code="):
                code = int(self.path.split("=", 1)[1])
                self.answer("status %d" % code, code)
                return
            self.answer("requests=%d connection=%s" %
                        (self.served, self.headers.get("Connection", "-")))

        def do_POST(self):
            left = int(self.headers.get("Content-Length", "0"))
            got = 0
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                got += len(chunk)
                left -= len(chunk)
            self.answer("bytes=%d" % got)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def client(url, cafile, message):
    import asyncio
    import ssl
    import urllib.parse
    import websockets

    parts = urllib.parse.urlsplit(url)
    extra = {}
    if parts.scheme == "wss":
        ctx = ssl.create_default_context(cafile=cafile)
        extra = {"ssl": ctx, "server_hostname": parts.hostname}

    async def main():
        async with websockets.connect(url, host="127.0.0.1", port=parts.port,
                                      open_timeout=10, **extra) as conn:
            await conn.send(message)
            return await asyncio.wait_for(conn.recv(), 10)

    got = asyncio.run(main())
    print(got)
    return 0 if got == message else 1


if __name__ == "__main__":
    if sys.argv[1] == "client":
        sys.exit(client(sys.argv[2], sys.argv[3], sys.argv[4]))
    {"ws": ws, "http": http}[sys.argv[1]](int(sys.argv[2]))
