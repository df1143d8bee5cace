"""How long closing a feed's socket takes while the exchange keeps sending.

    python bench/bench_close.py            # 3 rounds of each
    python bench/bench_close.py --quick    # 1 (CI smoke)

At a stop (and at a planned rotation) the bot stops reading a socket, then closes it. A local
WebSocket server plays a busy exchange: 300-byte frames in bursts of 200 every 5 ms (up to
40,000 a second). The client reads 1,000 frames, stops reading for 0.5 s (the buffers fill),
then closes with the feeds' close timeout (`ConnectionPolicy.close_timeout_s`), either with
websockets' plain `close()` or with `collectors.session.close_socket`, which reads on while
closing. Printed: the seconds each close took and the close code (1000: the exchange answered;
1006: the socket was dropped at the timeout). The two alternate in rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import ServerConnection, serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from collectors.connection import ConnectionPolicy  # noqa: E402
from collectors.session import close_socket  # noqa: E402

FRAME = "x" * 300


async def busy_exchange(ws: ServerConnection) -> None:
    """Send bursts of frames until the client closes."""
    try:
        while True:
            for _ in range(200):
                await ws.send(FRAME)
            await asyncio.sleep(0.005)
    except ConnectionClosed:
        pass


async def one_close(reading_on: bool, timeout_s: float) -> tuple[float, int | None]:
    """Return the seconds one close took and its close code."""
    async with serve(busy_exchange, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await connect(f"ws://127.0.0.1:{port}", close_timeout=timeout_s)
        for _ in range(1_000):
            await ws.recv()
        await asyncio.sleep(0.5)  # the reader has ended: the buffers fill
        started = time.perf_counter()
        await (close_socket(ws) if reading_on else ws.close())
        return time.perf_counter() - started, ws.close_code


async def main(rounds: int) -> None:
    timeout_s = ConnectionPolicy().close_timeout_s
    print(f"close timeout {timeout_s:g} s, {rounds} round(s)")
    for index in range(rounds):
        for reading_on, name in ((False, "websockets close()"), (True, "close_socket")):
            took, code = await one_close(reading_on, timeout_s)
            print(f"round {index + 1}: {name:<18} {took:6.3f} s, close code {code}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round (CI smoke)")
    args = parser.parse_args()
    asyncio.run(main(1 if args.quick else 3))
