"""The typed read API over a small, hand-checked set of events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aggregation.coverage import CoverageTracker, FeedInfo
from aggregation.pipeline import Aggregation
from aggregation.query import (
    AssetTotals,
    ExchangeTotals,
    LiquidationQueries,
    RankedAsset,
    SideTotals,
)
from aggregation.store import LiquidationStore
from aggregation.windows import WindowStore
from collectors.record import Coverage, Liquidation, Side

T0 = 1_800_000_000_000
NOW = T0 + 3_600_000


def ev(exchange: str, base: str, side: Side, usd: float, age_s: int) -> Liquidation:
    ts = NOW - age_s * 1000
    return Liquidation(exchange, "swap", f"{base}-X", base, side, usd, 1.0, usd, ts, ts)


EVENTS = (
    ev("okx", "BTC", Side.LONG, 1_000.0, 10),
    ev("binance", "BTC", Side.LONG, 500.0, 30),
    ev("binance", "BTC", Side.SHORT, 200.0, 300),
    ev("okx", "ETH", Side.SHORT, 5_000.0, 100),
    ev("okx", "SOL", Side.LONG, 300.0, 2_000),
    ev("binance", "ETH", Side.LONG, 50.0, 3_599),
    ev("binance", "DOGE", Side.LONG, 9.0, 3_600),  # just outside the hour
)


def queries() -> LiquidationQueries:
    store = WindowStore((60, 600, 3600))
    for record in EVENTS:
        store.add(record)
    tracker = CoverageTracker([FeedInfo("okx", "okx", Coverage.PARTIAL)])
    tracker.feed_state("okx", True, NOW - 1_800_000)
    return LiquidationQueries(store, tracker, clock=lambda: NOW)


def test_market_windows() -> None:
    one_minute, ten_minutes, hour = queries().market()
    assert (one_minute.window_s, one_minute.end_ms) == (60, NOW)
    assert one_minute.totals == SideTotals(1_500.0, 0.0, 2, 0)
    assert ten_minutes.totals == SideTotals(1_500.0, 5_200.0, 2, 2)
    assert hour.totals == SideTotals(1_850.0, 5_200.0, 4, 2)
    assert hour.exchanges == (
        ExchangeTotals("okx", SideTotals(1_300.0, 5_000.0, 2, 1)),
        ExchangeTotals("binance", SideTotals(550.0, 200.0, 2, 1)),
    )


def test_asset_windows_and_unknown_asset() -> None:
    q = queries()
    btc = q.asset("BTC")
    assert btc is not None
    assert [w.totals for w in btc] == [
        SideTotals(1_500.0, 0.0, 2, 0),
        SideTotals(1_500.0, 200.0, 2, 1),
        SideTotals(1_500.0, 200.0, 2, 1),
    ]
    assert q.asset("XRP") is None
    assert q.assets() == ("BTC", "DOGE", "ETH", "SOL")


def test_leaderboard_and_table() -> None:
    q = queries()
    board = q.leaderboard(3600, n=2)
    assert board.longs == (RankedAsset("BTC", 1_500.0, 2), RankedAsset("SOL", 300.0, 1))
    assert board.shorts == (RankedAsset("ETH", 5_000.0, 1), RankedAsset("BTC", 200.0, 1))
    assert q.asset_table(600) == (
        AssetTotals("ETH", SideTotals(0.0, 5_000.0, 0, 1)),
        AssetTotals("BTC", SideTotals(1_500.0, 200.0, 2, 1)),
    )


def test_largest_latest_and_floor() -> None:
    q = queries()
    assert [r.notional_usd for r in q.largest(3600, 3)] == [5_000.0, 1_000.0, 500.0]
    assert [r.notional_usd for r in q.latest(3)] == [1_000.0, 500.0, 5_000.0]
    assert [r.notional_usd for r in q.latest(10, min_usd=400)] == [1_000.0, 500.0, 5_000.0]
    assert [r.notional_usd for r in q.latest(10, "ETH")] == [5_000.0, 50.0]


async def test_period_summary() -> None:
    summary = await queries().period(NOW - 600_000, NOW + 1)
    assert summary.totals == SideTotals(1_500.0, 5_200.0, 2, 2)
    assert [r.asset for r in summary.longs] == ["BTC"]
    assert [r.asset for r in summary.shorts] == ["ETH", "BTC"]
    assert summary.largest is not None
    assert summary.largest.notional_usd == 5_000.0
    [okx] = summary.coverage
    assert okx.uptime_share == 1.0


async def test_asset_volumes_for_configured_and_other_windows() -> None:
    q = queries()
    assert await q.asset_volumes(3600) == {"BTC": 1_700.0, "ETH": 5_050.0, "SOL": 300.0}
    assert await q.asset_volumes(60) == {"BTC": 1_500.0}
    # 30 min is not configured: the events are scanned, with the same boundaries.
    assert await q.asset_volumes(1800) == {"BTC": 1_700.0, "ETH": 5_000.0}
    assert await q.asset_volumes(3600 + 1) == {
        "BTC": 1_700.0,
        "ETH": 5_050.0,
        "SOL": 300.0,
        "DOGE": 9.0,
    }


@asynccontextmanager
async def stored_queries(path: Path) -> AsyncIterator[LiquidationQueries]:
    """The same events through the real pipeline into a real SQLite file."""
    async with LiquidationStore(path) as store:
        aggregation = Aggregation(store, WindowStore((60, 600, 3600)), [], clock=lambda: NOW)
        await aggregation.start()
        for record in EVENTS:
            aggregation.on_liquidation(record)
        await store.flush()
        yield aggregation.queries


async def test_backtest_narrows_by_asset_side_and_exchange_before_matching(tmp_path: Path) -> None:
    async with stored_queries(tmp_path / "liquidations.db") as q:
        await _backtests(q)


async def _backtests(q: LiquidationQueries) -> None:
    seen: list[str] = []

    def match(record: Liquidation) -> bool:
        seen.append(f"{record.exchange} {record.base} {record.side.value}")
        return True

    hour = await q.backtest(3600, match)
    assert (hour.count, hour.largest_usd) == (6, 5_000.0)
    seen.clear()
    btc_long = await q.backtest(3600, match, assets=frozenset({"BTC"}), side=Side.LONG)
    assert (btc_long.count, btc_long.largest_usd) == (2, 1_000.0)
    assert sorted(seen) == ["binance BTC long", "okx BTC long"]  # nothing else was built
    okx = await q.backtest(
        3600, match, assets=frozenset({"ETH", "SOL"}), exchanges=frozenset({"okx"})
    )
    assert (okx.count, okx.largest_usd) == (2, 5_000.0)
    nothing = await q.backtest(3600, match, assets=frozenset({"XYZ"}))
    assert (nothing.count, nothing.largest_usd) == (0, 0.0)
    assert (await q.backtest(3600, match, exchanges=frozenset({"kraken"}))).count == 0
    # Narrowed in the database before the limit: the one SOL event, though four are newer.
    hour_ago, end = NOW - 3_600_000, NOW + 1
    sol = await q.events_between(hour_ago, end, limit=1, assets=frozenset({"SOL"}))
    assert [(r.base, r.notional_usd) for r in sol] == [("SOL", 300.0)]
    shorts = await q.events_between(hour_ago, end, limit=1, side=Side.SHORT)
    assert [(r.base, r.side) for r in shorts] == [("ETH", Side.SHORT)]
    binance = await q.events_between(hour_ago, end, limit=2, exchanges=frozenset({"binance"}))
    assert [r.notional_usd for r in binance] == [200.0, 500.0]
