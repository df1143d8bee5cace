"""No cap on exchanges: ten venues (issue 15) and more count apart in every window and board."""

from __future__ import annotations

from aggregation.coverage import CoverageTracker
from aggregation.query import LiquidationQueries
from aggregation.windows import WindowStore
from collectors.record import Liquidation, Side

T0 = 1_800_000_000_000
VENUES = (
    "binance", "okx", "bybit", "gate", "htx", "bitget", "deribit", "bitmex", "bitfinex", "kraken",
    "venue-11", "venue-12", "venue-13", "venue-14", "venue-15", "venue-16", "venue-17", "venue-18",
)  # fmt: skip


def test_eighteen_exchanges_count_apart() -> None:
    store = WindowStore((60, 3600))
    for i, exchange in enumerate(VENUES):
        usd = 1_000.0 * (i + 1)
        for side in (Side.LONG, Side.SHORT):
            ts = T0 - 10_000 - i
            store.add(
                Liquidation(exchange, "swap", "BTCUSDT", "BTC", side, 100.0, usd / 100, usd, ts, ts)
            )
    queries = LiquidationQueries(store, CoverageTracker([]), clock=lambda: T0)
    for window in queries.market(T0):
        by_exchange = {e.exchange: e.totals for e in window.exchanges}
        assert sorted(by_exchange) == sorted(VENUES)
        for i, exchange in enumerate(VENUES):
            totals = by_exchange[exchange]
            assert (totals.long_usd, totals.short_usd) == (1_000.0 * (i + 1), 1_000.0 * (i + 1))
            assert (totals.long_count, totals.short_count) == (1, 1)
        assert window.totals.long_usd == 1_000.0 * sum(range(1, 19))
    board = queries.leaderboard(60)
    assert [(a.asset, a.usd, a.count) for a in board.longs] == [("BTC", 171_000.0, 18)]
    assert [r.exchange for r in queries.latest(20, exchange="kraken")] == ["kraken", "kraken"]
