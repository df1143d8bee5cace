"""The SQLite store with a real file: idempotent writes, sealed segments, retention, history."""

from __future__ import annotations

import random
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest

from aggregation.events import Instrument
from aggregation.store import LiquidationStore
from collectors.record import Liquidation, Side

T0 = 1_800_000_000_000
MINUTE = 60_000


def events(count: int, *, start: int = T0, step_ms: int = 700, seed: int = 1) -> list[Liquidation]:
    rng = random.Random(seed)
    venues = [("binance", "usdm", "BTCUSDT", "BTC"), ("okx", "swap", "ETH-USDT-SWAP", "ETH"),
              ("bybit", "linear", "SOLUSDT", "SOL")]  # fmt: skip
    result = []
    for i in range(count):
        exchange, market, symbol, base = venues[i % 3]
        qty = rng.randint(1, 1000) / 100
        price = rng.randint(100, 100_000) / 10
        ts = start + i * step_ms
        side = Side.LONG if rng.random() < 0.6 else Side.SHORT
        result.append(
            Liquidation(exchange, market, symbol, base, side, price, qty, qty * price, ts, ts + 40)
        )
    return result


def rows_of(snapshot_events: np.ndarray, instruments: list[Instrument]) -> list[tuple[object, ...]]:
    return [
        (
            instruments[int(e["inst"])].symbol,
            int(e["ts"]),
            int(e["side"]),
            float(e["qty"]),
            float(e["price"]),
            float(e["usd"]),
            int(e["recv"]),
        )
        for e in snapshot_events
    ]


def expected_rows(records: list[Liquidation]) -> list[tuple[object, ...]]:
    return sorted(
        (
            r.symbol,
            r.ts_ms,
            0 if r.side is Side.LONG else 1,
            r.qty_base,
            r.price,
            r.notional_usd,
            r.recv_ms,
        )
        for r in records
    )


async def test_round_trip_is_exact_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "bot.db"
    records = events(500)
    async with LiquidationStore(path) as store:
        for record in records:
            assert store.enqueue(record)
        await store.flush()
        for record in records[:200]:  # a reconnect re-delivers, a capture is replayed
            store.enqueue(record)
        await store.flush()
        assert store.stats.written == 500
        assert store.stats.duplicates == 200
        assert await store.count_events() == 500
        snapshot = await store.snapshot(0)
    assert sorted(rows_of(snapshot.events, snapshot.instruments)) == expected_rows(records)
    assert list(snapshot.events["ts"]) == sorted(snapshot.events["ts"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert snapshot.heartbeat_ms is not None


async def test_segments_are_used_and_never_stale(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    records = events(400, step_ms=900)  # 6 minutes
    late = events(30, start=T0 + 5_000, step_ms=4_000, seed=9)  # into sealed minutes
    async with LiquidationStore(path, seal_after_s=0) as store:
        for record in records:
            store.enqueue(record)
        await store.flush()
        await store.maintain(now_ms=records[-1].ts_ms + 3 * MINUTE)
        assert store.stats.segments_sealed == 6
        for record in late:
            store.enqueue(record)
        await store.flush()
        with sqlite3.connect(path) as db:
            dirty = db.execute("SELECT COUNT(*) FROM segments WHERE dirty = 1").fetchone()[0]
        assert dirty == 3  # the late events span T0+5s..T0+121s: three sealed minutes
        snapshot = await store.snapshot(0)  # reads rows for the dirty minutes
        assert sorted(rows_of(snapshot.events, snapshot.instruments)) == expected_rows(
            records + late
        )
        await store.maintain(now_ms=records[-1].ts_ms + 3 * MINUTE)
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT COUNT(*) FROM segments WHERE dirty = 1").fetchone()[0] == 0
            assert db.execute("SELECT SUM(rows) FROM segments").fetchone()[0] == 430
        snapshot = await store.snapshot(T0 + 2 * MINUTE + 1)
    expected = [r for r in records + late if r.ts_ms >= T0 + 2 * MINUTE + 1]
    assert sorted(rows_of(snapshot.events, snapshot.instruments)) == expected_rows(expected)


async def test_a_snapshot_from_segments_alone_equals_one_from_rows(tmp_path: Path) -> None:
    records = events(2_000, step_ms=150)
    async with LiquidationStore(tmp_path / "a.db", seal_after_s=0) as sealed:
        for record in records:
            sealed.enqueue(record)
        await sealed.maintain(now_ms=records[-1].ts_ms + 10 * MINUTE)
        from_segments = await sealed.snapshot(T0 + 90_000)
    async with LiquidationStore(tmp_path / "b.db") as unsealed:
        for record in records:
            unsealed.enqueue(record)
        from_rows = await unsealed.snapshot(T0 + 90_000)
    assert rows_of(from_segments.events, from_segments.instruments) == rows_of(
        from_rows.events, from_rows.instruments
    )


async def test_retention_prunes_rows_segments_and_history(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    records = events(1_000, step_ms=10_000)  # about 2.8 hours
    async with LiquidationStore(path, retention_s=3600, seal_after_s=0) as store:
        for record in records:
            store.enqueue(record)
        store.enqueue_state("okx", False, T0, "starting")
        store.enqueue_state("okx", True, T0 + 1_000, "connected")
        store.enqueue_state("okx", False, T0 + 2_000, "lost")
        store.enqueue_state("okx", True, T0 + 9_000_000, "connected")
        await store.flush()
        now = records[-1].ts_ms
        await store.maintain(now_ms=now)
        kept = [r for r in records if r.ts_ms >= now - 3_600_000]
        assert await store.count_events() == len(kept)
        assert store.stats.rows_pruned == len(records) - len(kept)
        snapshot = await store.snapshot(0)
    assert len(snapshot.events) == len(kept)
    # Intervals that end before the cutoff go; the down span reaching into the window stays.
    assert [(i.up, i.start_ms, i.end_ms) for i in snapshot.intervals] == [
        (False, T0 + 2_000, T0 + 9_000_000),
        (True, T0 + 9_000_000, None),
    ]
    with sqlite3.connect(path) as db:
        assert (
            db.execute("SELECT MIN(minute) FROM segments").fetchone()[0]
            >= (now - 3_600_000) // MINUTE
        )
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_intervals_and_backfills_round_trip(tmp_path: Path) -> None:
    async with LiquidationStore(tmp_path / "bot.db") as store:
        store.enqueue_state("okx", False, T0, "starting")
        store.enqueue_state("okx", True, T0 + 500, "connected")
        store.enqueue_backfill("okx", T0 - 60_000, T0, 12)
        await store.flush()
        assert await store.close_open_intervals(T0 + 9_999) == 1
        snapshot = await store.snapshot(0)
    assert [(i.feed_id, i.up, i.start_ms, i.end_ms, i.reason) for i in snapshot.intervals] == [
        ("okx", False, T0, T0 + 500, "starting"),
        ("okx", True, T0 + 500, T0 + 9_999, "connected"),
    ]
    assert [(b.feed_id, b.start_ms, b.end_ms, b.events) for b in snapshot.backfills] == [
        ("okx", T0 - 60_000, T0, 12)
    ]


async def test_a_full_buffer_counts_and_refuses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with LiquidationStore(tmp_path / "bot.db", max_pending=3) as store:
        results = [store.enqueue(r) for r in events(5)]
        assert results == [True, True, True, False, False]
        assert store.stats.dropped == 2
        await store.flush()
        assert await store.count_events() == 3
    assert "database buffer full (3 events)" in caplog.text


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with LiquidationStore(path):
        pass
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = 99 WHERE name = 'schema_version'")
    with pytest.raises(RuntimeError, match="written by a newer version"):
        await LiquidationStore(path).open()
