"""Measure the aggregation layer on a 24-hour stream; print every figure of issue 3 in one run.

    python bench/bench_aggregation.py             # 20,000,000 events over 500 assets
    python bench/bench_aggregation.py --quick     # 200,000 events (CI smoke)

Everything runs as the bot runs it: events go through `Aggregation` into the window store and
a real SQLite file (rollups included), the loop's 1 s tick every 2,000 events.

Figures: ingest (events/s, memory and SQLite), each 1 s advance on the loop (median, p99,
longest), RSS per event over the first day and per further event once the buckets are full,
the window state's arrays, one full query = five windows + long and short leaderboards over
all assets (ms; up to 2,000,000 events also the seed's way, a pandas DataFrame filtered by
time per query, and the ratio), the SQLite file per day, restart rebuild (s): in the bench's
process, then twice in a new process with the file in the page cache and twice with its pages
dropped first (`posix_fadvise`), as after a reboot.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregation.coverage import CoverageTracker  # noqa: E402
from aggregation.pipeline import Aggregation  # noqa: E402
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


def stream(
    count: int, assets: int, end_ms: int, seed: int = 42, span_ms: int = DAY_MS
) -> Iterator[Liquidation]:
    """Events over span_ms ending at end_ms: skewed across assets, some late (OKX-like)."""
    rng = random.Random(seed)
    names = [f"A{i}" for i in range(assets)]
    start = end_ms - span_ms
    for i in range(count):
        recv = start + i * span_ms // count
        asset = names[min(int(rng.paretovariate(1.16)) - 1, assets - 1)]
        exchange, market = VENUES[i % len(VENUES)]
        qty = rng.randint(1, 100_000) / 1000
        price = rng.randint(10, 1_000_000) / 100
        late = rng.choice((0, 0, 0, 0, 0, 0, 0, 0, 150, 45_000))
        side = Side.LONG if rng.random() < 0.6 else Side.SHORT
        yield Liquidation(
            exchange, market, f"{asset}X", asset, side, price, qty, qty * price, recv - late, recv
        )


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


class GcClock:
    """Add up the time the garbage collector runs (gc.callbacks)."""

    def __init__(self) -> None:
        self.total_s = 0.0
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total_s += time.perf_counter() - self._started


GC = GcClock()


async def ingest(
    aggregation: Aggregation, records: Iterator[Liquidation]
) -> tuple[int, float, list[tuple[float, float]]]:
    """Feed every record through the pipeline (memory and the database, as the bot does);
    return (count, seconds, each advance on the loop: (seconds, of which garbage collection)).
    The loop's 1 s tick comes every 2,000 events (2,000 events/s), and the database writer
    (its own thread in the bot) is awaited after each tick, so edge reads are served."""
    on_liquidation, advance = aggregation.on_liquidation, aggregation.windows.advance
    flush = aggregation.store.flush
    count = 0
    steps = []
    started = time.perf_counter()
    for record in records:
        on_liquidation(record)
        count += 1
        if count % 2_000 == 0:
            step, gc_before = time.perf_counter(), GC.total_s
            advance(record.recv_ms)
            steps.append((time.perf_counter() - step, GC.total_s - gc_before))
            await flush()
    await flush()
    return count, time.perf_counter() - started, steps


def print_steps(label: str, steps: list[tuple[float, float]]) -> None:
    """Print the advances' median, p99 and longest (ms), and the collector's share."""
    ms = np.array([step for step, _ in steps]) * 1000
    longest = int(ms.argmax())
    print(f"{label}: each 1 s advance on the loop median {np.median(ms):.2f} ms, p99 "
          f"{np.percentile(ms, 99):.2f} ms, longest {ms[longest]:.1f} ms (goal <= 20 ms; "
          f"{steps[longest][1] * 1000:.1f} ms of it garbage collection)")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="200,000 events")
    args = parser.parse_args()
    count = 200_000 if args.quick else args.events
    end_ms = time.time_ns() // 1_000_000 - DAY_MS // 4
    print(f"command: python {' '.join(sys.argv)}")
    print(f"python {sys.version.split()[0]}; {count:,} events over {args.assets} assets and 24 h")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        clock = [end_ms]
        gc.collect()
        rss_start = rss_bytes()
        async with LiquidationStore(path, max_pending=50_001) as store:
            aggregation = Aggregation(store, WindowStore(), [], clock=lambda: clock[0])
            await aggregation.start()
            windows = aggregation.windows
            n, ingest_s, steps = await ingest(aggregation, stream(count, args.assets, end_ms))
            windows.advance(end_ms)
            gc.collect()
            rss_day = rss_bytes()
            size_day = store.db_bytes()
            print(f"ingest through memory and SQLite: {n / ingest_s:,.0f} events/s")
            print_steps("first day", steps)
            print(f"RSS growth over the first day: {(rss_day - rss_start) / 2**20:.0f} MiB "
                  f"= {(rss_day - rss_start) / n:.1f} bytes/event; the window state's arrays "
                  f"{windows.nbytes / 2**20:.0f} MiB (goal <= 256 MiB)")  # fmt: skip
            per_day = size_day / n * 2_000 * 86_400 / 2**30
            print(f"SQLite file after the day: {size_day / 2**20:.0f} MiB = {size_day / n:.0f} "
                  f"bytes/event ({per_day:.1f} GiB/day at 2,000 events/s)")  # fmt: skip
            further = count // 4
            clock[0] = end_ms + DAY_MS // 4
            later = stream(further, args.assets, clock[0], seed=43, span_ms=DAY_MS // 4)
            n2, _, steps2 = await ingest(aggregation, later)
            windows.advance(clock[0])
            gc.collect()
            rss_after = rss_bytes()
            print(f"after the buckets fill, {n2:,} further events over 6 h: RSS "
                  f"{(rss_after - rss_day) / n2:+.2f} bytes/event (goal < 1)")  # fmt: skip
            print_steps("after the buckets fill", steps2)
            ours_ms = measure_queries(windows, clock[0])
            if count <= 2_000_000:
                records = list(stream(count, args.assets, clock[0]))
                measure_seed(records, clock[0] + 200_000, ours_ms, count)
                del records
        del aggregation, windows
        gc.collect()
        await measure_restart(path, count + further, clock[0])


async def measure_restart(path: Path, count: int, end_ms: int) -> None:
    """Time restarts from the database the run wrote (rollups, edge minutes, newest rows): in
    this process, then in fresh ones, with the file in the page cache and read from disk."""
    rebuild_s, loaded = await restart(path, end_ms)
    print(f"restart rebuild of 24 h ({count:,} events stored): {rebuild_s:.3f} s in this process "
          f"(goal < 1 s; {loaded:,} events in the last 24 h counted)")  # fmt: skip
    for cold in (False, True, False, True):
        command = [__file__, "--restart", str(path), str(end_ms), *(["--cold"] if cold else [])]
        child = await asyncio.create_subprocess_exec(
            sys.executable, *command, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await child.communicate()
        if child.returncode:
            raise RuntimeError(f"the restart in a new process failed ({child.returncode})")
        print(f"  in a new process, {out.decode().strip()}")


async def restart(path: Path, end_ms: int) -> tuple[float, int]:
    """Return the seconds `Aggregation.start` took on the file, and the events it counted."""
    async with LiquidationStore(path) as store:
        started = time.perf_counter()
        aggregation = Aggregation(store, WindowStore(), [], clock=lambda: end_ms)
        report = await aggregation.start()
        return time.perf_counter() - started, report.events_loaded


def drop_from_page_cache(path: Path) -> bool:
    """Ask the kernel to forget the file's cached pages, as after a reboot (False: can't)."""
    if not hasattr(os, "posix_fadvise"):
        return False
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)
    return True


async def restart_once(path: Path, end_ms: int, cold: bool) -> None:
    """Print one restart's time (run in a new process by `measure_restart`)."""
    dropped = cold and drop_from_page_cache(path)
    rebuild_s, _ = await restart(path, end_ms)
    how = "the file read from disk (page cache dropped)" if dropped else "the file in page cache"
    print(f"{how}: {rebuild_s:.3f} s")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--restart"]:  # python bench_aggregation.py --restart DB END_MS [--cold]
        asyncio.run(restart_once(Path(sys.argv[2]), int(sys.argv[3]), "--cold" in sys.argv))
    else:
        asyncio.run(main())
