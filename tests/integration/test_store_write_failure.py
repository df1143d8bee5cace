"""A database that cannot write (a full disk): nothing lost, nothing crashes, said and retried.

SQLite's `max_page_count` makes the real file refuse to grow with the error a full disk gives
(SQLITE_FULL, "database or disk is full"), on the real writer connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path

import msgspec
import pytest

from aggregation.store import LiquidationStore
from aggregation.writes import WriteFailed
from collectors.record import Liquidation
from tests.integration.test_store import (
    T0,
    assert_rollups_equal_rows,
    events,
    expected_rows,
    stored,
)
from tests.support.waiting import eventually

UNLIMITED = 1_073_741_823  # SQLite's default max_page_count


def new_instruments(records: list[Liquidation]) -> list[Liquidation]:
    """The same events on instruments the database has not seen yet."""
    return [msgspec.structs.replace(r, symbol=f"NEW{i % 7}USDT") for i, r in enumerate(records)]


def full(store: LiquidationStore, full: bool) -> None:
    pages = store.database.conn.execute("PRAGMA page_count").fetchone()[0]
    store.database.conn.execute(f"PRAGMA max_page_count = {pages if full else UNLIMITED}")


async def test_a_full_disk_keeps_every_event_until_it_can_be_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    first = events(10)
    later = new_instruments(events(3_000, start=T0 + 3_600_000, seed=2))
    path = tmp_path / "bot.db"
    store = LiquidationStore(
        path, flush_interval_s=0.02, write_retry_s=0.02, maintenance_interval_s=3_600
    )
    async with store:
        for record in first:
            store.enqueue(record)
        assert await store.flush()
        full(store, True)
        for record in later:
            store.enqueue(record)
        store.enqueue_state("okx", False, T0, "test")
        # Before: the error left the writer (the bot stopped) and the batch was gone.
        assert await store.flush() is False
        assert store.pending() == len(later) + 1
        assert store.stats.write_failures == 1
        assert store.stats.failing_since_ms is not None
        assert store.stats.last_write_error == "database or disk is full"
        with pytest.raises(WriteFailed, match="database or disk is full"):
            await store.read(lambda db: 1)  # fails at once, does not wait for the disk
        writer = asyncio.create_task(store.run())
        try:
            await eventually(lambda: store.stats.write_failures >= 10)
            full(store, False)  # room again
            await eventually(lambda: store.stats.failing_since_ms is None)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        assert store.stats.failing_since_ms is None
        assert store.stats.written == len(first) + len(later)
        # Every row written once, on an instrument the database knows (the failed transaction's
        # instrument ids were forgotten and inserted again).
        assert sorted(await stored(store)) == expected_rows(first + later)
    assert_rollups_equal_rows(path)
    with sqlite3.connect(path) as db:
        orphans = db.execute(
            "SELECT COUNT(*) FROM liquidations WHERE instrument_id NOT IN (SELECT id FROM instruments)"
        ).fetchone()
        assert orphans == (0,)
        assert db.execute("SELECT COUNT(*) FROM feed_intervals").fetchone() == (1,)
    said = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "aggregation.store"]
    assert said[0] == (
        logging.WARNING,
        "database: writing 3001 events and changes failed: "
        "OperationalError('database or disk is full') (3,001 waiting, kept until written); "
        "retrying (one line a minute while it persists)",
    )
    assert said[1][0] == logging.INFO
    assert said[1][1].startswith(
        f"database: writing again after {store.stats.write_failures} failed attempts over "
    )
    assert len(said) == 2


async def test_closing_while_the_disk_is_full_says_what_was_not_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = LiquidationStore(tmp_path / "bot.db")
    async with store:
        store.enqueue(events(1)[0])
        assert await store.flush()
        full(store, True)
        for record in new_instruments(events(500, start=T0 + 3_600_000)):
            store.enqueue(record)
    # Before: the close raised the error (a traceback at exit).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "closing with 500 events and changes not written: database or disk is full"
    ]
    async with LiquidationStore(tmp_path / "bot.db") as reopened:
        assert await reopened.count_events() == 1  # the file is intact


async def test_a_failing_maintenance_is_said_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    store = LiquidationStore(tmp_path / "bot.db", flush_interval_s=0.01, maintenance_interval_s=0)
    calls: list[int] = []
    maintain = store.maintain

    async def locked_twice(now_ms: int | None = None) -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise sqlite3.OperationalError("database is locked")
        await maintain(now_ms)

    monkeypatch.setattr(store, "maintain", locked_twice)
    async with store:
        writer = asyncio.create_task(store.run())
        try:
            # Before: the error left the writer's loop (the bot stopped).
            await eventually(lambda: len(calls) >= 4)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
    said = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "aggregation.store"]
    assert said == [
        (
            logging.WARNING,
            "database maintenance: OperationalError('database is locked'); "
            "retrying (one line a minute while it persists)",
        ),
        (logging.INFO, "database maintenance: done after 2 failed attempts over 0s"),
    ]
