"""The aggregation ingest path never raises, stores what it could not count, tells listeners."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregation.coverage import CoverageTracker
from aggregation.pipeline import Aggregation
from aggregation.query import (
    BackfillStats,
    IngestCounters,
    IngestHealth,
    LiquidationQueries,
    StoreStats,
)
from aggregation.store import LiquidationStore
from aggregation.windows import Outcome, WindowStore
from collectors.record import Liquidation, Side


class BrokenWindows(WindowStore):
    def add(self, record: Liquidation) -> Outcome:
        raise ValueError("boom")


async def test_a_window_store_bug_is_logged_counted_and_the_row_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    aggregation = Aggregation(LiquidationStore(tmp_path / "bot.db"), BrokenWindows(), [])
    await aggregation.store.open()
    record = Liquidation("okx", "swap", "X-USDT-SWAP", "X", Side.LONG, 1.0, 1.0, 1.0, 5, 5)
    assert aggregation.ingest(record) is Outcome.STALE
    assert aggregation.errors == 1
    await aggregation.store.close()
    assert "window store failed" in caplog.text
    async with LiquidationStore(tmp_path / "bot.db") as store:
        assert await store.count_events() == 1


def okx(ts_ms: int, qty: float = 1.0) -> Liquidation:
    return Liquidation(
        "okx",
        "swap",
        "BTC-USDT-SWAP",
        "BTC",
        Side.LONG,
        80_000.0,
        qty,
        80_000.0 * qty,
        ts_ms,
        ts_ms,
    )


async def test_listeners_hear_each_new_event_once_and_a_failing_one_silences_no_other(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    aggregation = Aggregation(LiquidationStore(tmp_path / "bot.db"), WindowStore(), [])
    heard: list[Liquidation] = []

    def broken(record: Liquidation) -> None:
        raise RuntimeError("listener bug")

    aggregation.add_listener(broken)
    aggregation.add_listener(heard.append)
    first, second = okx(1_800_000_000_000), okx(1_800_000_001_000)
    aggregation.on_liquidation(first)
    aggregation.on_liquidation(first)  # a duplicate is counted, never forwarded
    aggregation.remove_listener(broken)
    aggregation.on_liquidation(second)
    assert heard == [first, second]
    assert aggregation.listener_errors == 1
    assert aggregation.windows.counters.counted == 2
    assert aggregation.windows.counters.duplicates == 1
    assert aggregation.store.pending() == 2  # both new events are stored, whatever a listener did
    assert "listener" in caplog.text
    assert "listener bug" in caplog.text
    with pytest.raises(ValueError, match=r"not in list"):
        aggregation.remove_listener(broken)


def file_bytes(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def test_ingest_health_copies_every_ingest_counter(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    aggregation = Aggregation(LiquidationStore(path), WindowStore(), [])
    await aggregation.store.open()
    aggregation.on_liquidation(okx(1_800_000_000_000))
    aggregation.on_liquidation(okx(1_800_000_000_000))
    aggregation.backfill.stats.runs = 3
    before = aggregation.queries.ingest_health()
    await aggregation.store.flush()
    after = aggregation.queries.ingest_health()
    on_disk = file_bytes(path) + file_bytes(Path(f"{path}-wal"))
    await aggregation.store.close()
    assert before.ingest == IngestCounters(counted=1, duplicates=1)
    assert (before.pending, before.store.written, before.backfill.runs) == (1, 0, 3)
    assert (after.pending, after.store.written, after.store.batches) == (0, 1, 1)
    assert before.db_path == after.db_path == path
    assert after.db_bytes == on_disk > 0
    empty = LiquidationQueries(WindowStore(), CoverageTracker([])).ingest_health()
    assert empty == IngestHealth(IngestCounters(), StoreStats(), 0, 0, None, BackfillStats())
