# The WebSocket test server of bluegreen-test/ws (test/images/build.sh):
# Debian's python3-websockets on :8080. Plain HTTP GET / answers the
# image's version, GET /healthz answers "ok" (websockets' process_request
# hook: the health gate and curl need no WebSocket); a WebSocket connection
# on any path echoes each message prefixed with the version ("v1: hello"),
# so a test can tell which colour holds an open connection.
import asyncio
import http
import os
import signal

import websockets

VERSION = os.environ.get("BG_WS_VERSION", "v0")


async def plain_http(path, headers):
    if headers.get("Upgrade", "").lower() == "websocket":
        return None
    body = {"/": VERSION, "/healthz": "ok"}.get(path.split("?")[0])
    if body is None:
        return (http.HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain")], b"not found\n")
    return (http.HTTPStatus.OK, [("Content-Type", "text/plain")], (body + "\n").encode())


async def echo(ws):
    async for msg in ws:
        await ws.send(f"{VERSION}: {msg}")


async def main():
    # PID 1 has no default SIGTERM action: stop (closing the open
    # connections) when Docker asks, instead of waiting to be killed.
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with websockets.serve(echo, "0.0.0.0", 8080, process_request=plain_http):
        await stop


asyncio.run(main())
