"""A restart with a real SQLite file: every figure right after equals the figure before."""

from __future__ import annotations

import random
from pathlib import Path

import msgspec
import pytest

from aggregation.coverage import FeedInfo
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
    first = aggregation(path, clock)
    await first.store.open()
    await first.start()
    for record in records:
        first.ingest(record)
    before = figures(first.queries, clock[0])
    await first.store.close()
    second = aggregation(path, clock)
    await second.store.open()
    await second.start()
    for record in records:  # the same capture again, after a restart
        second.ingest(record)
    after = figures(second.queries, clock[0])
    stored = await second.store.count_events()
    await second.store.close()
    first_total = first.windows.counters.counted + first.windows.counters.stale
    assert second.windows.counters.counted == first_total
    assert stored == len({(r.symbol, r.ts_ms, r.side, r.qty_base, r.price) for r in records})
    assert_same(before, after)
