"""Measure the aggregation layer on a 24-hour stream; print every figure of issue 3 in one run.

    python bench/bench_aggregation.py             # 2,000,000 events over 500 assets
    python bench/bench_aggregation.py --quick     # 100,000 events (CI smoke)

Figures: ingest into the window store (events/s), sustained SQLite writes (rows/s), one full
query = five windows + long and short leaderboards over all assets (ms), the same query done
the seed's way (a pandas DataFrame filtered by time per query) and the ratio, restart rebuild
(s), and resident memory per retained event (bytes).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregation.coverage import CoverageTracker  # noqa: E402
from aggregation.query import LiquidationQueries  # noqa: E402
from aggregation.store import LiquidationStore  # noqa: E402
from aggregation.windows import DEFAULT_WINDOWS_S, WindowStore  # noqa: E402
from collectors.record import Liquidation, Side  # noqa: E402

DAY_MS = 86_400_000
VENUES = [("binance", "usdm"), ("binance", "coinm"), ("okx", "swap"), ("bybit", "linear")]


def rss_bytes() -> int:
    """Return the current resident set size."""
    with Path("/proc/self/statm").open() as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def stream(count: int, assets: int, end_ms: int, seed: int = 42) -> list[Liquidation]:
    """A day of events ending at end_ms: skewed across assets, some late (OKX-like)."""
    rng = random.Random(seed)
    names = [f"A{i}" for i in range(assets)]
    records = []
    start = end_ms - DAY_MS
    for i in range(count):
        recv = start + i * DAY_MS // count
        asset = names[min(int(rng.paretovariate(1.16)) - 1, assets - 1)]
        exchange, market = VENUES[i % len(VENUES)]
        qty = rng.randint(1, 100_000) / 1000
        price = rng.randint(10, 1_000_000) / 100
        late = rng.choice((0, 0, 0, 0, 0, 0, 0, 0, 150, 45_000))
        side = Side.LONG if rng.random() < 0.6 else Side.SHORT
        records.append(
            Liquidation(
                exchange,
                market,
                f"{asset}X",
                asset,
                side,
                price,
                qty,
                qty * price,
                recv - late,
                recv,
            )
        )
    return records


def full_query(queries: LiquidationQueries, now: int) -> int:
    """Five windows (market totals) + long and short leaderboards for every window."""
    produced = len(queries.market(now))
    for window in queries.windows_s:
        board = queries.leaderboard(window, 10, now)
        produced += len(board.longs) + len(board.shorts)
    return produced


def seed_query(frame: pd.DataFrame, now: int) -> int:
    """The same answers the seed's way: filter a DataFrame by time for every window."""
    produced = 0
    for window in DEFAULT_WINDOWS_S:
        inside = frame[(frame.sec > now // 1000 - window) & (frame.sec <= now // 1000)]
        produced += len(inside.groupby("side").usd.sum())
        per_asset = inside.groupby(["side", "asset"]).usd.sum()
        for side in (0, 1):
            if side in per_asset.index.get_level_values(0):
                produced += len(per_asset.loc[side].nlargest(10))
    return produced


def timed(function, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Return the durations (s) of `repeat` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def measure_queries(windows: WindowStore, end_ms: int) -> float:
    """Print and return the median full-query time (ms), the clock moving 1 s per query."""
    queries = LiquidationQueries(windows, CoverageTracker([]), clock=lambda: end_ms)
    samples = []
    for step in range(1, 201):
        started = time.perf_counter()
        full_query(queries, end_ms + step * 1000)
        samples.append(time.perf_counter() - started)
    same_second = timed(lambda: full_query(queries, end_ms + 200_000), 200)
    ours_ms = statistics.median(samples) * 1000
    print(f"full query (5 windows + both leaderboards, all assets): median {ours_ms:.2f} ms, "
          f"p99 {np.percentile(samples, 99) * 1000:.2f} ms with a 1 s advance; "
          f"{statistics.median(same_second) * 1000:.2f} ms within the same second")  # fmt: skip
    return ours_ms


def measure_seed(records: list[Liquidation], now: int, ours_ms: float, count: int) -> None:
    """Print the same query done the seed's way, and the ratio."""
    frame = pd.DataFrame(
        {
            "sec": [r.ts_ms // 1000 for r in records],
            "asset": pd.Categorical([r.base for r in records]),
            "side": [0 if r.side is Side.LONG else 1 for r in records],
            "usd": [r.notional_usd for r in records],
        }
    )
    seed = timed(lambda: seed_query(frame, now), 5 if count > 500_000 else 20)
    seed_ms = statistics.median(seed) * 1000
    print(f"the seed's way (pandas DataFrame filtered per query): median {seed_ms:.1f} ms "
          f"= {seed_ms / ours_ms:,.0f}x the window store")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="100,000 events")
    args = parser.parse_args()
    count = 100_000 if args.quick else args.events
    end_ms = time.time_ns() // 1_000_000
    print(f"python {sys.version.split()[0]}; {count:,} events over {args.assets} assets and 24 h")
    records = stream(count, args.assets, end_ms)
    gc.collect()

    # Ingest (and memory).
    rss_before = rss_bytes()
    windows = WindowStore()
    add = windows.add
    started = time.perf_counter()
    for record in records:
        add(record)
    ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    windows.advance(end_ms)
    fold_s = time.perf_counter() - started
    gc.collect()
    in_memory = windows.events_in_memory
    rss_per_event = (rss_bytes() - rss_before) / in_memory
    print(f"ingest into the window store: {count / ingest_s:,.0f} events/s "
          f"(then the first fold of 24 h: {fold_s * 1000:.0f} ms)")  # fmt: skip
    print(f"resident memory per retained event: {rss_per_event:.0f} bytes "
          f"({in_memory:,} events, RSS growth incl. the recent-key set)")  # fmt: skip

    ours_ms = measure_queries(windows, end_ms)
    measure_seed(records, end_ms + 200_000, ours_ms, count)

    # SQLite: sustained writes, then a restart rebuild from the sealed segments.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        async with LiquidationStore(path, max_pending=count + 1) as store:
            started = time.perf_counter()
            for record in records:
                store.enqueue(record)
            await store.flush()
            write_s = time.perf_counter() - started
            started = time.perf_counter()
            await store.maintain(now_ms=end_ms + 300_000)
            seal_s = time.perf_counter() - started
        print(f"sustained SQLite writes: {count / write_s:,.0f} rows/s "
              f"(sealing {count:,} rows into minute segments: {seal_s:.2f} s)")  # fmt: skip
        del records, windows
        gc.collect()
        async with LiquidationStore(path) as store:
            started = time.perf_counter()
            snapshot = await store.snapshot(end_ms - DAY_MS)
            rebuilt = WindowStore()
            loaded = rebuilt.load(snapshot.events, snapshot.instruments)
            rebuilt.advance(end_ms)
            rebuild_s = time.perf_counter() - started
        print(f"restart rebuild of 24 h: {rebuild_s:.2f} s for {loaded:,} events "
              f"(read segments + load + first fold)")  # fmt: skip
    print(
        "goals: ingest >= 300,000 ev/s; SQLite >= 100,000 rows/s; query <= 2 ms; "
        "rebuild <= 3 s for 2,000,000; memory <= 100 bytes/event"
    )


if __name__ == "__main__":
    asyncio.run(main())
