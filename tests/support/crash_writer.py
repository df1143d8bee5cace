"""A child process that ingests a deterministic stream until it is killed (crash tests).

    python -m tests.support.crash_writer DB RATE

Event i is `event(i)`. After each batch it prints "<events ingested> <wall ms>" so the parent
knows what was handed to the writer, and when.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from aggregation.coverage import FeedInfo
from aggregation.pipeline import Aggregation
from aggregation.store import LiquidationStore
from aggregation.windows import WindowStore
from collectors.record import Coverage, Liquidation, Side

T0 = 1_800_000_000_000
BATCH = 500


def event(i: int, base_ms: int) -> Liquidation:
    """The i-th event of the stream, with event times starting at base_ms."""
    asset = f"C{i % 37}"
    qty = 1.0 + (i % 13)
    price = 10.0 + (i % 101)
    ts = base_ms + i  # one per millisecond of event time, all distinct
    side = Side.LONG if i % 3 else Side.SHORT
    return Liquidation(
        "okx", "swap", f"{asset}-USDT-SWAP", asset, side, price, qty, qty * price, ts, ts
    )


async def main(path: Path, rate: float, base_ms: int) -> None:
    aggregation = Aggregation(
        LiquidationStore(path, flush_interval_s=0.5),
        WindowStore(),
        [FeedInfo("okx", "okx", Coverage.PARTIAL)],
    )
    await aggregation.store.open()
    await aggregation.start()
    writer = asyncio.create_task(aggregation.run())
    count = 0
    started = time.monotonic()
    while True:
        for _ in range(BATCH):
            aggregation.ingest(event(count, base_ms))
            count += 1
        print(count, time.time_ns() // 1_000_000, flush=True)
        ahead = count / rate - (time.monotonic() - started)
        await asyncio.sleep(max(0.0, ahead))  # hold the rate; yield to the writer
        if writer.done():
            writer.result()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])))
