"""The aggregation ingest path never raises, and still stores what it could not count."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregation.pipeline import Aggregation
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
