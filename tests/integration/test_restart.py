"""A restart with a real SQLite file: every figure right after equals the figure before."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest

from aggregation.coverage import CoverageTracker, FeedInfo
from aggregation.pipeline import Aggregation
from aggregation.query import LiquidationQueries
from aggregation.store import LiquidationStore
from aggregation.windows import WindowStore
from collectors.record import Coverage, FeedStateChange, Liquidation, Side

T0 = 1_800_000_000_000
FEEDS = [
    FeedInfo("binance-usdm", "binance", Coverage.THROTTLED),
    FeedInfo("okx", "okx", Coverage.PARTIAL),
]


def stream(count: int, seed: int = 3) -> list[Liquidation]:
    """Six hours of events over 40 assets, some late, some re-delivered."""
    rng = random.Random(seed)
    result: list[Liquidation] = []
    recv = T0
    for _ in range(count):
        recv += rng.randint(0, 2_000)
        if result and rng.random() < 0.05:
            old = rng.choice(result)
            result.append(msgspec.structs.replace(old, recv_ms=recv))
            continue
        asset = f"C{int(rng.paretovariate(1.1)) % 40}"
        exchange, market, symbol = rng.choice(
            [("binance", "usdm", f"{asset}USDT"), ("okx", "swap", f"{asset}-USDT-SWAP")]
        )
        qty = rng.randint(1, 10_000) / 100
        price = rng.randint(1, 100_000) / 10
        ts = recv - rng.choice([0, 0, 0, 150, 40_000, 400_000])
        side = rng.choice(list(Side))
        result.append(
            Liquidation(exchange, market, symbol, asset, side, price, qty, qty * price, ts, recv)
        )
    return result


def figures(queries: LiquidationQueries, now: int) -> dict[str, object]:
    return {
        "market": queries.market(now),
        "leaderboards": [queries.leaderboard(w, 10, now) for w in queries.windows_s],
        "largest": [queries.largest(w, 5, now) for w in queries.windows_s],
        "latest": queries.latest(20),
        "latest_c1": queries.latest(5, "C1"),
        "table": queries.asset_table(3600, now),
    }


def assert_same(before: object, after: object) -> None:
    """Equal, with floats compared to 1e-9 relative (summation order differs)."""
    if isinstance(before, float):
        assert after == pytest.approx(before, rel=1e-9, abs=1e-6)
    elif isinstance(before, (list, tuple)):
        assert isinstance(after, (list, tuple))
        assert len(before) == len(after)
        for b, a in zip(before, after, strict=True):
            assert_same(b, a)
    elif isinstance(before, dict):
        assert isinstance(after, dict)
        assert before.keys() == after.keys()
        for key in before:
            assert_same(before[key], after[key])
    elif hasattr(before, "__dataclass_fields__"):
        assert type(before) is type(after)
        for name in before.__dataclass_fields__:
            assert_same(getattr(before, name), getattr(after, name))
    else:
        assert before == after


def aggregation(path: Path, now: list[int]) -> Aggregation:
    return Aggregation(LiquidationStore(path), WindowStore(), FEEDS, clock=lambda: now[0])


async def started(path: Path, now: list[int], records: Sequence[Liquidation] = ()) -> Aggregation:
    """Return an Aggregation on the file, started (a restart if the file has events), that
    ingested `records`; its store is open."""
    running = aggregation(path, now)
    await running.store.open()
    await running.start()
    for record in records:
        running.ingest(record)
    return running


async def test_figures_after_a_clean_restart_equal_those_before(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    records = stream(20_000)
    clock = [records[-1].recv_ms + 1_000]
    first = aggregation(path, clock)
    await first.store.open()
    await first.start()
    first.on_feed_state(FeedStateChange("okx", True, T0, "connected"))
    for record in records:
        first.ingest(record)
    before = figures(first.queries, clock[0])
    assert first.windows.counters.duplicates > 500
    await first.store.close()

    second = aggregation(path, clock)
    await second.store.open()
    report = await second.start()
    after = figures(second.queries, clock[0])
    await second.store.close()

    assert report.events_loaded == first.windows.counters.counted + first.windows.counters.stale
    assert_same(before, after)


async def test_replaying_the_same_events_twice_stores_and_counts_them_once(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    records = stream(3_000, seed=8)
    clock = [records[-1].recv_ms + 1_000]
    first = await started(path, clock, records)
    before = figures(first.queries, clock[0])
    await first.store.close()
    second = await started(path, clock)
    for record in records:  # the same capture again, after a restart
        second.ingest(record)
    after = figures(second.queries, clock[0])
    stored = await second.store.count_events()
    await second.store.close()
    first_total = first.windows.counters.counted + first.windows.counters.stale
    assert second.windows.counters.counted == first_total
    assert stored == len({(r.symbol, r.ts_ms, r.side, r.qty_base, r.price) for r in records})
    assert_same(before, after)


def reference(records: list[Liquidation], now: list[int]) -> LiquidationQueries:
    """Queries over memory alone: every second of every minute kept, no database."""
    windows = WindowStore()
    for record in records:
        windows.add(record)
    return LiquidationQueries(windows, CoverageTracker(FEEDS), clock=lambda: now[0])


async def test_the_largest_stay_exact_as_the_windows_move_on_after_a_restart(
    tmp_path: Path,
) -> None:
    """A restart reads each minute's largest alone and every second's only for the edge
    minutes; as each window's edge moves into an older minute, that minute's seconds are read
    from the database (or, for a period summary, read first)."""
    path = tmp_path / "bot.db"
    records = stream(20_000, seed=5)
    clock = [records[-1].recv_ms + 1_000]
    first = await started(path, clock, records)
    await first.store.close()

    second = await started(path, clock)
    whole = [m for m, tops in second.windows.tops.items() if tops.complete]
    assert 0 < len(whole) < len(second.windows.tops) / 10  # most minutes: their largest only
    expected = reference(records, clock)
    writer = asyncio.create_task(second.store.run())
    edges: set[int] = set()
    try:
        for step in range(100):  # 50 minutes: the windows' edges move into 50 minutes each
            clock[0] += 30_000
            second.windows.advance(clock[0])
            edges.update((clock[0] // 1000 - w + 1) // 60 for w in second.queries.windows_s)
            await second.store.read(lambda db: None)  # the edge reads asked for, delivered
            for window in second.queries.windows_s:
                assert second.queries.largest(window, 5, clock[0]) == expected.largest(
                    window, 5, clock[0]
                ), (step, window)
            # A summary of any span: its edge minutes' seconds are read first.
            start = clock[0] - 7_777_777 + step * 1_013
            got = await second.queries.period(start, clock[0] - 123_456)
            assert got.largest == (await expected.period(start, clock[0] - 123_456)).largest
        lacking = [
            m for m in edges if m in second.windows.tops and not second.windows.tops[m].complete
        ]
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        await second.store.close()
    assert len(edges & second.windows.tops.keys()) > 100  # edges crossed minutes with events
    assert lacking == []  # every edge minute took its seconds from the database


async def test_a_schema_2_file_restarts_with_the_same_largest(tmp_path: Path) -> None:
    """Schema 3 adds each minute's largest alone (`minute_best`): opening a schema 2 file
    writes them for its last two days; a minute without one (older) has its largest derived
    from its per-second ones when read."""
    path = tmp_path / "bot.db"
    records = stream(5_000, seed=11)
    clock = [records[-1].recv_ms + 1_000]
    first = await started(path, clock, records)
    before = figures(first.queries, clock[0])
    await first.store.close()
    with sqlite3.connect(path) as db:
        minutes = db.execute("SELECT COUNT(*) FROM minute_best").fetchone()[0]
        assert minutes == db.execute("SELECT COUNT(*) FROM rollups").fetchone()[0] > 50
        db.execute("DROP TABLE minute_best")
        db.execute("UPDATE meta SET value = 2 WHERE name = 'schema_version'")

    for dropped in (0, minutes // 2):
        with sqlite3.connect(path) as db:  # the older half as if older than the migration's reach
            if dropped:
                db.execute(
                    "DELETE FROM minute_best WHERE minute IN "
                    "(SELECT minute FROM minute_best ORDER BY minute LIMIT ?)",
                    (dropped,),
                )
        second = await started(path, clock)
        after = figures(second.queries, clock[0])
        await second.store.close()
        assert_same(before, after)
        with sqlite3.connect(path) as db:
            assert db.execute(
                "SELECT value FROM meta WHERE name = 'schema_version'"
            ).fetchone() == (3,)
            assert db.execute("SELECT COUNT(*) FROM minute_best").fetchone() == (minutes - dropped,)
