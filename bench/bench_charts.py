"""Measure 24-hour charts: the series query on the event loop and the PNG render off it.

    python bench/bench_charts.py            # 500,000 events over 24 h, 15 renders per chart
    python bench/bench_charts.py --quick    # 50,000 events, 5 renders (CI smoke)

The series comes from a real window store holding a day of events on three exchanges, so the
chart has realistic bars: 48 buckets (30 min, the default for 24 h) and a dense 288 (5 min).
Figures: the query (it runs on the event loop), the first render in the process (it also loads
the fonts) and the median of the following renders, beside the goal of 300 ms per 24 h chart.
Then 30 days (`--month-events` through the real pipeline into SQLite, hourly rollups built):
the series query (goal 5 ms) and the render (goal 300 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import matplotlib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregation.coverage import CoverageTracker  # noqa: E402
from aggregation.pipeline import Aggregation  # noqa: E402
from aggregation.query import LiquidationQueries  # noqa: E402
from aggregation.store import LiquidationStore  # noqa: E402
from aggregation.windows import WindowStore  # noqa: E402
from bot.render.charts import render_chart  # noqa: E402
from collectors.record import Liquidation, Side  # noqa: E402

DAY_MS = 86_400_000
MONTH_MS = 30 * DAY_MS
GOAL_MS = 300.0
SERIES_GOAL_MS = 5.0
VENUES = [("binance", "usdm"), ("okx", "swap"), ("bybit", "linear")]
ASSETS = ["BTC", "ETH", "SOL", "XRP", "DOGE", "PEPE", "SUI", "WIF"]


def stream(count: int, end_ms: int, span_ms: int = DAY_MS, seed: int = 7) -> Iterator[Liquidation]:
    """Events over the span: heavy-tailed sizes, mostly BTC/ETH, two cascades a day."""
    rng = random.Random(seed)
    start = end_ms - span_ms
    for i in range(count):
        ts = start + i * span_ms // count
        hour = (ts - start) / 3_600_000 % 24
        # A long squeeze around hour 9 and a short squeeze around hour 17.
        long_bias = 0.55 + 0.4 * (8.5 < hour < 9.5) - 0.4 * (16.5 < hour < 17.5)
        size = min(rng.paretovariate(1.3) * 2_000, 20_000_000)
        size *= 1 + 8 * ((8.5 < hour < 9.5) or (16.5 < hour < 17.5))
        exchange, market = VENUES[rng.randrange(3)]
        asset = ASSETS[min(int(rng.paretovariate(1.2)) - 1, len(ASSETS) - 1)]
        side = Side.LONG if rng.random() < long_bias else Side.SHORT
        price = 100.0 + i % 997
        yield Liquidation(
            exchange, market, f"{asset}X", asset, side, price, size / price, size, ts, ts
        )


def day_store(count: int, end_ms: int) -> WindowStore:
    """A day of events in a window store."""
    store = WindowStore()
    for record in stream(count, end_ms):
        store.add(record)
    return store


async def month(path: Path, count: int, end_ms: int, runs: int) -> None:
    """Time 30-day charts: events through the real pipeline into SQLite, the hourly rollups
    built by the store's own maintenance step, then the series query and the render."""
    async with LiquidationStore(path, max_pending=50_001) as store:
        aggregation = Aggregation(store, WindowStore(), [], clock=lambda: end_ms)
        await aggregation.start()
        for i, record in enumerate(stream(count, end_ms, MONTH_MS)):
            aggregation.ingest(record)
            if i % 50_000 == 49_999:
                await store.flush()
        await store.flush()
        await store.maintain(end_ms)
        queries = aggregation.queries
        for asset in (None, "BTC"):
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                series = await queries.series(MONTH_MS // 1000, asset)
                samples.append((time.perf_counter() - started) * 1000)
            median = statistics.median(samples)
            print(f"series query (on the event loop), 30 days from the rollups, "
                  f"{series.buckets} buckets of {series.bucket_s // 3600} h, "
                  f"{asset or 'all assets'}: {median:.1f} ms "
                  f"(goal <= {SERIES_GOAL_MS:.0f} ms)")  # fmt: skip
        chart = await queries.series(MONTH_MS // 1000)
    median = timed(partial(render_chart, chart), runs)
    verdict = "OK" if median < GOAL_MS else "OVER"
    print(f"render 30-day chart, {len(chart.exchanges)} exchanges, 1200x675: {median:.0f} ms "
          f"(goal < {GOAL_MS:.0f} ms: {verdict})")  # fmt: skip


def timed(action: Callable[[], object], runs: int) -> float:
    """Return the median of `runs` calls in milliseconds."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--month-events", type=int, default=1_000_000, help="over 30 days")
    parser.add_argument("--quick", action="store_true", help="50,000 events, 5 runs")
    args = parser.parse_args()
    count, runs = (50_000, 5) if args.quick else (args.events, args.runs)
    month_count = 100_000 if args.quick else args.month_events
    print(f"command: python {' '.join(sys.argv)}")
    print(f"python {sys.version.split()[0]}, matplotlib {matplotlib.__version__}; "
          f"{count:,} events over 24 h on 3 exchanges; medians of {runs} runs")  # fmt: skip

    end_ms = 1_800_000_000_000
    queries = LiquidationQueries(day_store(count, end_ms), CoverageTracker([]), lambda: end_ms)
    loop = asyncio.new_event_loop()
    for buckets in (48, 288):
        for asset in (None, "BTC"):

            def query(asset: str | None = asset, buckets: int = buckets) -> object:
                return loop.run_until_complete(queries.series(86_400, asset, buckets=buckets))

            print(f"series query (on the event loop), 24 h, {buckets} buckets, "
                  f"{asset or 'all assets'}: {timed(query, runs):.1f} ms")  # fmt: skip

    charts = {
        buckets: loop.run_until_complete(queries.series(86_400, buckets=buckets))
        for buckets in (48, 288)
    }
    started = time.perf_counter()
    render_chart(charts[48])
    print(f"first render in the process (loads the fonts): "
          f"{(time.perf_counter() - started) * 1000:.0f} ms")  # fmt: skip
    for buckets, chart in charts.items():
        median = timed(partial(render_chart, chart), runs)
        size = len(render_chart(chart))
        verdict = "OK" if median < GOAL_MS else "OVER"
        print(f"render 24 h chart, {buckets} buckets x {len(chart.exchanges)} exchanges, "
              f"1200x675: {median:.0f} ms, {size / 1024:.0f} KiB PNG "
              f"(goal < {GOAL_MS:.0f} ms: {verdict})")  # fmt: skip
    print(f"30 days: {month_count:,} events through the pipeline into SQLite")
    with tempfile.TemporaryDirectory() as folder:
        loop.run_until_complete(month(Path(folder) / "month.db", month_count, end_ms, runs))


if __name__ == "__main__":
    main()
