# ws-client.py: the WebSocket client of t-edge-live (Debian's
# python3-websockets, run by /usr/bin/python3 with argv, no shell).
#
#   ws-client.py PORT HOST FLAG MSG [MSG2]
#
# Opens ws://HOST:PORT/ through 127.0.0.1:PORT (the Host header names the
# site, as a browser's would), sends MSG and prints the answer on a line.
# With MSG2: waits (up to 120 s) until the file FLAG exists, then sends MSG2
# on the SAME connection and prints that answer too. Any failure (refused
# handshake, closed connection, timeout) prints "error: ..." and exits 1.
import asyncio
import os
import sys

import websockets


async def main(port, host, flag, msgs):
    async with websockets.connect(f"ws://{host}:{port}/", host="127.0.0.1", port=port,
                                  open_timeout=10, ping_interval=None) as ws:
        for i, msg in enumerate(msgs):
            if i > 0:
                for _ in range(1200):
                    if os.path.exists(flag):
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise TimeoutError(f"{flag} did not appear")
            await ws.send(msg)
            print(await asyncio.wait_for(ws.recv(), 10), flush=True)


try:
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:6]))
except Exception as e:  # the test reads what went wrong
    print(f"error: {type(e).__name__}: {e}", flush=True)
    sys.exit(1)
