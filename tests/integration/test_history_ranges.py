"""A period older than the day in memory is read from the one-minute rollups: its whole minutes,
not the minutes after it, and its largest from each minute's largest (`minute_best`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aggregation.pipeline import Aggregation
from aggregation.store import LiquidationStore
from aggregation.windows import WindowStore
from collectors.record import Liquidation, Side

NOW = 1_800_000_000_000
HOUR_MS = 3_600_000


def event(hours_ago: float, usd: float, side: Side = Side.LONG) -> Liquidation:
    ts = NOW - int(hours_ago * HOUR_MS)
    return Liquidation("okx", "swap", "ETH-USDT-SWAP", "ETH", side, 1_000.0, usd / 1_000.0, usd,
                       ts, ts + 200)  # fmt: skip


EVENTS = [event(30, 1_000.0), event(29, 2_000.0), event(28.5, 500.0, Side.SHORT),
          event(26, 50_000.0), event(1, 7_000.0)]  # fmt: skip


async def test_a_period_older_than_memory_ends_where_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with LiquidationStore(path) as store:
        aggregation = Aggregation(store, WindowStore(), [], clock=lambda: NOW)
        await aggregation.start()
        for record in EVENTS:  # all but the last older than memory: stored, not counted live
            aggregation.ingest(record)
        await store.flush()
        queries = aggregation.queries
        old = await queries.period(NOW - 31 * HOUR_MS, NOW - 28 * HOUR_MS)
        both = await queries.period(NOW - 31 * HOUR_MS, NOW)
    assert (old.totals.long_usd, old.totals.short_usd, old.totals.long_count) == (3_000.0, 500.0, 2)
    assert old.largest == EVENTS[1]  # not the $50,000 of 26 h ago, after the period
    assert (both.totals.long_usd, both.totals.long_count) == (60_000.0, 4)
    assert both.largest == EVENTS[3]

    with sqlite3.connect(path) as db:  # minutes rolled up before schema 3: derived when read
        db.execute("DELETE FROM minute_best")
    async with LiquidationStore(path) as store:
        aggregation = Aggregation(store, WindowStore(), [], clock=lambda: NOW)
        await aggregation.start()
        again = await aggregation.queries.period(NOW - 31 * HOUR_MS, NOW - 28 * HOUR_MS)
    assert again.largest == EVENTS[1]
