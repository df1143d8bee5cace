"""The SQLite store with a real file: idempotent writes, rollups that equal the rows, retention,
history, and the migration from the segments of schema 1."""

from __future__ import annotations

import random
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest

from aggregation.database import Database
from aggregation.history import events_between
from aggregation.schema import STORED_TOP_DTYPE, SUMS_DTYPE
from aggregation.snapshot import FeedHistory, read_feeds
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


Row = tuple[str, int, int, float, float, float, int]


async def stored(store: LiquidationStore, since_ms: int = 0) -> list[Row]:
    """Every stored row as (symbol, ts, side, qty, price, usd, recv), in time order."""

    def read(db: Database) -> list[Row]:
        rows = events_between(db.conn, since_ms, 2**62, 0.0, 10**9)
        return [
            (db.catalog[int(r["inst"])].symbol, int(r["ts"]), int(r["side"]), float(r["qty"]),
             float(r["price"]), float(r["usd"]), int(r["recv"]))
            for r in rows
        ]  # fmt: skip

    return await store.read(read)


async def feeds(store: LiquidationStore) -> FeedHistory:
    return await store.read(lambda db: read_feeds(db.conn))


def rollups(path: Path) -> dict[int, dict[tuple[int, int], tuple[int, float, float]]]:
    """minute -> (instrument id, side) -> (count, usd, largest), from the rollup rows."""
    with sqlite3.connect(path) as db:
        return {
            minute: {
                (int(e["inst"]), int(e["side"])): (
                    int(e["count"]),
                    float(e["usd"]),
                    float(e["max"]),
                )
                for e in np.frombuffer(sums, dtype=SUMS_DTYPE)
            }
            for minute, sums in db.execute("SELECT minute, sums FROM rollups")
        }


def rolled_from_rows(path: Path) -> dict[int, dict[tuple[int, int], tuple[int, float, float]]]:
    """The same, computed from the raw rows."""
    result: dict[int, dict[tuple[int, int], tuple[int, float, float]]] = {}
    with sqlite3.connect(path) as db:
        for minute, inst, side, count, usd, most in db.execute(
            "SELECT ts_ms / 60000, instrument_id, side, COUNT(*), SUM(notional_usd), "
            "MAX(notional_usd) FROM liquidations GROUP BY 1, 2, 3"
        ):
            result.setdefault(minute, {})[(inst, side)] = (count, usd, most)
    return result


def assert_rollups_equal_rows(path: Path) -> None:
    got, expected = rollups(path), rolled_from_rows(path)
    assert got.keys() == expected.keys()
    for minute, cells in expected.items():
        assert got[minute].keys() == cells.keys()
        for cell, (count, usd, most) in cells.items():
            assert got[minute][cell][0] == count
            assert got[minute][cell][1] == pytest.approx(usd, rel=1e-12)
            assert got[minute][cell][2] == most


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
            store.enqueue_checked(record)
        await store.flush()
        assert store.stats.written == 500
        assert store.stats.duplicates == 200
        assert await store.count_events() == 500
        rows = await stored(store)
        history = await feeds(store)
    assert sorted(rows) == expected_rows(records)
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert history.heartbeat_ms is not None
    assert_rollups_equal_rows(path)


async def test_checked_rows_get_a_verdict_each(tmp_path: Path) -> None:
    records = events(20)
    verdicts: list[bool] = []
    async with LiquidationStore(tmp_path / "bot.db") as store:
        for record in records[:10]:
            store.enqueue(record)
        for record in records[5:15]:
            store.enqueue_checked(record, verdicts.append)
        await store.flush()
        assert (store.stats.written, store.stats.duplicates) == (15, 5)
    assert verdicts == [False] * 5 + [True] * 5


async def test_a_new_row_that_was_not_new_is_counted_once(tmp_path: Path) -> None:
    records = events(30)
    async with LiquidationStore(tmp_path / "bot.db") as store:
        for record in records:
            store.enqueue(record)
        await store.flush()
        for record in records[:3]:  # memory should never do this; the rollups stay right
            store.enqueue(record)
        await store.flush()
        assert (store.stats.written, store.stats.duplicates) == (30, 3)
    assert_rollups_equal_rows(tmp_path / "bot.db")


async def test_a_repeated_row_beside_a_new_instrument_is_written(tmp_path: Path) -> None:
    records = events(3)
    newcomer = Liquidation("gate", "usdt", "NEWUSDT", "NEW", Side.LONG, 2.0, 5.0, 10.0, T0, T0)
    async with LiquidationStore(tmp_path / "bot.db") as store:
        store.enqueue(records[0])
        await store.flush()
        store.enqueue(records[0])  # memory should never do this (the batch is redone row by row)
        store.enqueue(newcomer)
        # Before: the redo kept the instrument id its rolled-back first try had inserted, and
        # the row failed its foreign key (the writer raised; the bot stopped).
        assert await store.flush()
        assert (store.stats.written, store.stats.duplicates) == (2, 1)
        assert sorted(await stored(store)) == expected_rows([records[0], newcomer])
    assert_rollups_equal_rows(tmp_path / "bot.db")


async def test_rollups_follow_late_events_and_hours_are_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    records = events(400, step_ms=900)  # 6 minutes
    late = events(30, start=T0 + 5_000, step_ms=4_000, seed=9)  # into minutes already rolled up
    async with LiquidationStore(path) as store:
        for record in records:
            store.enqueue(record)
        await store.flush()
        await store.maintain(now_ms=T0 + 3 * 3_600_000)
        assert store.stats.hours_rolled == 1
        for record in late:
            store.enqueue_checked(record)
        await store.flush()
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT COUNT(*) FROM dirty_hours").fetchone()[0] == 1
        await store.maintain(now_ms=T0 + 3 * 3_600_000)
        assert store.stats.hours_rolled == 2
    assert_rollups_equal_rows(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM dirty_hours").fetchone()[0] == 0
        [(hour_sums,)] = db.execute("SELECT sums FROM hours").fetchall()
        hour = np.frombuffer(hour_sums, dtype=SUMS_DTYPE)
        assert int(hour["count"].sum()) == 430
        assert float(hour["usd"].sum()) == pytest.approx(
            sum(r.notional_usd for r in records + late)
        )
        tops = np.concatenate(
            [
                np.frombuffer(t, dtype=STORED_TOP_DTYPE)
                for (t,) in db.execute("SELECT tops FROM rollups")
            ]
        )
    per_second: dict[int, list[float]] = {}
    for record in records + late:
        per_second.setdefault(record.ts_ms // 1000, []).append(record.notional_usd)
    expected = sorted(u for values in per_second.values() for u in sorted(values)[-5:])
    assert sorted(tops["usd"].tolist()) == expected


async def test_retention_prunes_rows_and_history_keeps_rollups(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    records = events(1_000, step_ms=10_000)  # about 2.8 hours
    async with LiquidationStore(path, retention_s=3600, history_days=1 / 24 * 2.5) as store:
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
        assert len(await stored(store)) == len(kept)
        history = await feeds(store)
    # Intervals that end before the cutoff go; the down span reaching into the window stays.
    assert [(i.up, i.start_ms, i.end_ms) for i in history.intervals] == [
        (False, T0 + 2_000, T0 + 9_000_000),
        (True, T0 + 9_000_000, None),
    ]
    with sqlite3.connect(path) as db:
        first = db.execute("SELECT MIN(minute) FROM rollups").fetchone()[0]
        assert first == (now - 9_000_000) // MINUTE  # history: 2.5 hours of rollups
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental


async def test_intervals_and_backfills_round_trip(tmp_path: Path) -> None:
    async with LiquidationStore(tmp_path / "bot.db") as store:
        store.enqueue_state("okx", False, T0, "starting")
        store.enqueue_state("okx", True, T0 + 500, "connected")
        store.enqueue_backfill("okx", T0 - 60_000, T0, 12)
        await store.flush()
        assert await store.close_open_intervals(T0 + 9_999) == 1
        history = await feeds(store)
    assert [(i.feed_id, i.up, i.start_ms, i.end_ms, i.reason) for i in history.intervals] == [
        ("okx", False, T0, T0 + 500, "starting"),
        ("okx", True, T0 + 500, T0 + 9_999, "connected"),
    ]
    assert [(b.feed_id, b.start_ms, b.end_ms, b.events) for b in history.backfills] == [
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
