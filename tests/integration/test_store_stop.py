"""Stopping the database writer mid-batch: the batch is committed and the file stays writable."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from aggregation.store import LiquidationStore
from collectors.record import Liquidation, Side

T0 = 1_800_000_000_000


async def test_a_writer_cancelled_mid_batch_commits_it_and_releases_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "liq.db"
    store = await LiquidationStore(path, max_batch=100).open()
    records = [
        Liquidation("binance", "usdm", f"C{i}USDT", f"C{i}", Side.LONG, 10.0, 1.0, 10.0, T0 + i, T0)
        for i in range(2000)
    ]
    for record in records:
        store.enqueue(record)  # a full batch wakes the writer at once
    writer = asyncio.create_task(store.run())
    await asyncio.sleep(0)  # the writer starts its first batch: a transaction is open
    writer.cancel()  # the process stops
    with pytest.raises(asyncio.CancelledError):
        await writer
    # Another connection to the file (the bot's, in the real process) can write at once.
    with sqlite3.connect(path, timeout=0) as other:
        other.execute("BEGIN IMMEDIATE")
        other.rollback()
    await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM liquidations").fetchone() == (2000,)
