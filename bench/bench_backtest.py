"""Measure the backtest a /subscribe answers with: how often a rule would have fired in 24 h.

    python bench/bench_backtest.py            # 10,000 matching events among 100,000 stored
    python bench/bench_backtest.py --quick    # 1,000 among 10,000 (CI smoke)

The store holds a day of events over 200 assets and three venues; the rule `BTC 10k` matches
one event in ten. Two markets: "typical", where the other events are under the rule's $10K
(most liquidations are small), and "worst", where every event is at least $10K and only the
asset filter rejects them. The time is one `await queries.backtest(...)` (best of five), the
whole answer the bot waits for (goal: under 50 ms for 10,000 matches).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aggregation.coverage import CoverageTracker  # noqa: E402
from aggregation.query import LiquidationQueries  # noqa: E402
from aggregation.windows import WindowStore  # noqa: E402
from bot.rules.matching import Rule  # noqa: E402
from collectors.record import Liquidation, Side  # noqa: E402

T0 = 1_800_000_000_000
DAY_MS = 86_400_000
VENUES = [("binance", "usdm"), ("okx", "swap"), ("bybit", "linear")]
ASSETS = [f"A{i}" for i in range(199)]


def build(total: int, rng: random.Random, *, worst: bool) -> LiquidationQueries:
    """Return queries over `total` events in the day before T0; every tenth is a BTC >= $10K,
    the others are under $10K (or, `worst`, also at least $10K)."""
    store = WindowStore((300, 3600, 86_400))
    for i in range(total):
        ts = T0 - DAY_MS + 1 + i * (DAY_MS - 2) // total
        exchange, market = VENUES[i % 3]
        base = "BTC" if i % 10 == 0 else rng.choice(ASSETS)
        big = worst or i % 10 == 0
        usd = rng.uniform(10_000.0, 500_000.0) if big else rng.uniform(100.0, 9_999.0)
        side = Side.LONG if i % 2 else Side.SHORT
        store.add(Liquidation(exchange, market, f"{base}-X", base, side, usd, 1.0, usd, ts, ts))
    return LiquidationQueries(store, CoverageTracker([]), clock=lambda: T0)


async def measure(queries: LiquidationQueries, rule: Rule) -> tuple[int, float]:
    """Return the matches and the best time of five backtests, in ms."""
    best = float("inf")
    count = 0
    for _ in range(5):
        start = time.perf_counter()
        result = await queries.backtest(
            86_400, rule.matches, min_usd=rule.min_usd, assets=rule.assets
        )
        best = min(best, (time.perf_counter() - start) * 1000)
        count = result.count
    return count, best


def main() -> None:
    """Build the store, run the backtest, print the figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer events (CI smoke)")
    total = 10_000 if parser.parse_args().quick else 100_000
    rule = Rule(1, 1, frozenset({"BTC"}), 10_000.0)
    for market, worst in (("typical", False), ("worst", True)):
        queries = build(total, random.Random(17), worst=worst)
        count, best_ms = asyncio.run(measure(queries, rule))
        print(
            f"backtest ({market}): {count:,} matches among {total:,} stored events "
            f"in {best_ms:.1f} ms"
        )


if __name__ == "__main__":
    main()
