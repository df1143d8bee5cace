"""A database written by the previous release (schema 1, commit 65aa976) opens as schema 3: every
event kept, rolled up once, nothing lost or counted twice, and a second opening changes nothing.

`tests/fixtures/aggregation_schema1.db` was written by that commit's LiquidationStore: the 600
events of `events()` below, flushed, then sealed into minute segments (`maintain`).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from aggregation.pipeline import Aggregation
from aggregation.store import LiquidationStore
from aggregation.windows import WindowStore
from collectors.record import Liquidation, Side

FIXTURE = Path(__file__).parents[1] / "fixtures" / "aggregation_schema1.db"
T0 = 1_800_000_000_000
NOW = T0 + 2 * 3_600_000  # every event within the last 2 hours


def events() -> list[Liquidation]:
    """The events the fixture holds (the generator that wrote it)."""
    venues = [
        ("binance", "usdm", "{}USDT"),
        ("okx", "swap", "{}-USDT-SWAP"),
        ("bybit", "linear", "{}USDT"),
    ]
    out = []
    for i in range(600):
        exchange, market, pattern = venues[i % 3]
        base = ("BTC", "ETH", "SOL", "DOGE")[i % 4]
        side = Side.LONG if i % 5 < 3 else Side.SHORT
        price = 100.0 + i
        qty = 1.0 + (i % 7)
        ts = T0 + i * 12_000 + (i % 3) * 7
        out.append(
            Liquidation(
                exchange, market, pattern.format(base), base, side, price, qty, qty * price,
                ts, ts + 30,
            )
        )  # fmt: skip
    return out


def expected(records: list[Liquidation]) -> tuple[float, float, int, int]:
    longs = [r.notional_usd for r in records if r.side is Side.LONG]
    shorts = [r.notional_usd for r in records if r.side is Side.SHORT]
    return sum(longs), sum(shorts), len(longs), len(shorts)


async def test_a_schema_1_database_migrates_without_loss_or_double_count(tmp_path: Path) -> None:
    path = tmp_path / "liquidations.db"
    shutil.copyfile(FIXTURE, path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone() == (1,)
        assert db.execute("SELECT COUNT(*) FROM segments").fetchone() == (98,)
    records = events()
    long_usd, short_usd, long_count, short_count = expected(records)
    for _ in range(2):  # the second opening finds schema 3 and changes nothing
        async with LiquidationStore(path) as store:
            assert await store.count_events() == 600
            aggregation = Aggregation(store, WindowStore(), [], clock=lambda: NOW)
            await aggregation.start()
            queries = aggregation.queries
            day = queries.market(NOW)[-1].totals
            assert (day.long_usd, day.short_usd, day.long_count, day.short_count) == (
                long_usd, short_usd, long_count, short_count,
            )  # fmt: skip
            week = await queries.totals(7 * 86_400, now_ms=NOW)
            assert week is not None
            assert (week.totals.long_count, week.totals.short_count) == (long_count, short_count)
            assert week.totals.long_usd == long_usd
            assert week.totals.short_usd == short_usd
            hourly = await queries.history(None, T0 - 3_600_000, NOW + 3_600_000, 3600)
            assert sum(map(sum, hourly.long_usd)) == long_usd
            assert sum(map(sum, hourly.short_usd)) == short_usd
        with sqlite3.connect(path) as db:
            assert db.execute(
                "SELECT value FROM meta WHERE name = 'schema_version'"
            ).fetchone() == (3,)
            # Every rolled-up minute has its largest alone, what a restart reads.
            assert (
                db.execute("SELECT COUNT(*) FROM minute_best").fetchone()
                == db.execute("SELECT COUNT(*) FROM rollups").fetchone()
            )
