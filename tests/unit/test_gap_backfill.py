"""Gap backfill: which gaps are filled, one at a time, what a failure leaves, what is counted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from aggregation.backfill import BACKFILL_LEAD_MS
from aggregation.coverage import FeedInfo
from aggregation.pipeline import Aggregation
from aggregation.store import LiquidationStore
from aggregation.windows import WindowStore
from collectors.record import Coverage, FeedStateChange, HistoryBatch, Liquidation, Side
from tests.support.waiting import eventually

NOW = 1_800_000_000_000
FEEDS = [FeedInfo("okx", "okx", Coverage.PARTIAL), FeedInfo("bybit", "bybit", Coverage.COMPLETE)]


def event(exchange: str, symbol: str, ts_ms: int, qty: float = 1.0) -> Liquidation:
    return Liquidation(
        exchange, "swap", symbol, "BTC", Side.LONG, 80_000.0, qty, 80_000.0 * qty, ts_ms, ts_ms
    )


class History:
    """A HistorySource that answers from a list, and can be held or made to fail."""

    def __init__(self, records: list[Liquidation]) -> None:
        self.records = records
        self.calls: list[tuple[int, int, list[str]]] = []
        self.errors: list[str] = []
        self.fail: Exception | None = None
        self.gate = asyncio.Event()
        self.gate.set()
        self.inside = 0
        self.most_inside = 0

    async def fetch(self, start_ms: int, end_ms: int, symbols: Iterable[str]) -> HistoryBatch:
        self.calls.append((start_ms, end_ms, list(symbols)))
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            await self.gate.wait()
            if self.fail is not None:
                raise self.fail
            records = [r for r in self.records if start_ms <= r.ts_ms <= end_ms]
            return HistoryBatch(records, 1, list(self.errors), start_ms)
        finally:
            self.inside -= 1


@asynccontextmanager
async def running(tmp_path: Path, history: History) -> AsyncIterator[Aggregation]:
    aggregation = Aggregation(
        LiquidationStore(tmp_path / "bot.db"),
        WindowStore(),
        FEEDS,
        clock=lambda: NOW,
        history={"okx": history},
    )
    await aggregation.store.open()
    task = asyncio.create_task(aggregation.run())
    try:
        yield aggregation
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await aggregation.store.close()


def outage(aggregation: Aggregation, feed_id: str, down_ms: int, up_ms: int) -> None:
    aggregation.on_feed_state(FeedStateChange(feed_id, False, down_ms, "closed"))
    aggregation.on_feed_state(FeedStateChange(feed_id, True, up_ms, "connected"))


async def test_a_gap_is_fetched_from_its_lead_and_merged_once(tmp_path: Path) -> None:
    live = event("okx", "BTC-USDT-SWAP", NOW - 20_000)
    missed = event("okx", "BTC-USDT-SWAP", NOW - 9_000, qty=2.0)
    history = History([live, missed])
    async with running(tmp_path, history) as aggregation:
        heard: list[Liquidation] = []
        aggregation.add_listener(heard.append)
        aggregation.on_feed_state(FeedStateChange("okx", True, NOW - 30_000, "connected"))
        aggregation.on_liquidation(live)
        outage(aggregation, "okx", NOW - 10_000, NOW - 1_000)
        await aggregation.backfill.wait_backfills()
        [okx, _] = aggregation.queries.coverage(NOW - 30_000, NOW)
    assert history.calls == [(NOW - 10_000 - BACKFILL_LEAD_MS, NOW - 1_000, ["BTC-USDT-SWAP"])]
    stats = aggregation.backfill.stats
    assert (stats.runs, stats.events, stats.errors, stats.last_error) == (1, 1, 0, "")
    assert heard == [live]  # history raises no alerts
    assert aggregation.windows.counters.counted == 2
    assert aggregation.windows.counters.duplicates == 1
    [gap] = okx.gaps
    assert (gap.start_ms, gap.end_ms, gap.backfilled) == (NOW - 10_000, NOW - 1_000, True)


async def test_short_gaps_feeds_without_history_and_quiet_feeds_are_not_fetched(
    tmp_path: Path,
) -> None:
    history = History([])
    async with running(tmp_path, history) as aggregation:
        aggregation.on_feed_state(FeedStateChange("okx", True, NOW - 60_000, "connected"))
        aggregation.on_feed_state(FeedStateChange("bybit", True, NOW - 60_000, "connected"))
        outage(aggregation, "okx", NOW - 50_000, NOW - 45_001)  # 4.999 s: a reconnect blip
        aggregation.on_liquidation(event("bybit", "BTCUSDT", NOW - 40_000))
        outage(aggregation, "bybit", NOW - 30_000, NOW - 20_000)  # no history source
        outage(aggregation, "okx", NOW - 10_000, NOW - 1_000)  # no OKX instrument was active
        await aggregation.backfill.wait_backfills()
    assert history.calls == []
    assert aggregation.backfill.stats.runs == 0


async def test_gaps_are_filled_one_at_a_time(tmp_path: Path) -> None:
    history = History([])
    history.gate.clear()
    async with running(tmp_path, history) as aggregation:
        aggregation.on_feed_state(FeedStateChange("okx", True, NOW - 60_000, "connected"))
        aggregation.on_liquidation(event("okx", "BTC-USDT-SWAP", NOW - 55_000))
        outage(aggregation, "okx", NOW - 50_000, NOW - 40_000)
        outage(aggregation, "okx", NOW - 30_000, NOW - 20_000)
        await eventually(lambda: len(history.calls) == 1)
        history.gate.set()  # the first fetch was held while the second gap waited
        await aggregation.backfill.wait_backfills()
    assert history.most_inside == 1
    assert [c[1] for c in history.calls] == [NOW - 40_000, NOW - 20_000]
    assert aggregation.backfill.stats.runs == 2


async def test_failed_requests_merge_what_came_and_leave_the_gap_a_gap(tmp_path: Path) -> None:
    missed = event("okx", "BTC-USDT-SWAP", NOW - 9_000)
    history = History([missed])
    history.errors = ["BTC-USDT: HTTP 500", "BTC-USD: error 50011: Too Many Requests"]
    async with running(tmp_path, history) as aggregation:
        aggregation.on_feed_state(FeedStateChange("okx", True, NOW - 60_000, "connected"))
        aggregation.on_liquidation(event("okx", "BTC-USDT-SWAP", NOW - 55_000))
        outage(aggregation, "okx", NOW - 10_000, NOW - 1_000)
        await aggregation.backfill.wait_backfills()
        [okx, _] = aggregation.queries.coverage(NOW - 60_000, NOW)
    stats = aggregation.backfill.stats
    assert (stats.runs, stats.events, stats.errors) == (1, 0, 2)
    assert stats.last_error == "BTC-USD: error 50011: Too Many Requests"
    assert aggregation.windows.counters.counted == 2  # what came is merged
    assert [g.backfilled for g in okx.gaps] == [False]


async def test_a_backfill_that_raises_is_logged_counted_and_the_next_gap_still_filled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    history = History([])
    history.fail = ValueError("history bug")
    async with running(tmp_path, history) as aggregation:
        aggregation.on_feed_state(FeedStateChange("okx", True, NOW - 60_000, "connected"))
        aggregation.on_liquidation(event("okx", "BTC-USDT-SWAP", NOW - 55_000))
        outage(aggregation, "okx", NOW - 50_000, NOW - 40_000)
        await aggregation.backfill.wait_backfills()
        history.fail = None
        outage(aggregation, "okx", NOW - 30_000, NOW - 20_000)
        await aggregation.backfill.wait_backfills()
    stats = aggregation.backfill.stats
    assert (stats.runs, stats.errors, stats.last_error) == (1, 1, "ValueError('history bug')")
    assert len(history.calls) == 2
    assert "okx backfill failed" in caplog.text
