"""kill -9 during heavy ingest: the database is intact, nothing is doubled, little is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

from aggregation.coverage import FeedInfo
from aggregation.pipeline import Aggregation
from aggregation.store import LiquidationStore
from aggregation.windows import WindowStore
from collectors.record import Coverage
from tests.support.crash_writer import event

ROOT = Path(__file__).resolve().parents[2]
RATE = 10_000  # events per second
FLUSH_INTERVAL_MS = 500
SLACK_MS = 500  # time a flush itself may take on a busy machine


async def test_hard_kill_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    base_ms = time.time_ns() // 1_000_000 - 3_600_000  # event times inside the windows
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.crash_writer", str(path), str(RATE), str(base_ms),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert child.stdout is not None
    progress: list[tuple[int, int]] = []
    async with asyncio.timeout(60):
        while not progress or progress[-1][0] < 3 * RATE:  # about three seconds of ingest
            line = await child.stdout.readline()
            assert line, "the writer process ended early"
            count, at_ms = map(int, line.split())
            progress.append((count, at_ms))
    child.send_signal(signal.SIGKILL)
    killed_ms = time.time_ns() // 1_000_000
    await child.wait()

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = db.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0]
        (first_ts, last_ts) = db.execute(
            "SELECT MIN(ts_ms), MAX(ts_ms) FROM liquidations"
        ).fetchone()
    ingested = progress[-1][0]
    safe = max(
        (c for c, at in progress if at <= killed_ms - FLUSH_INTERVAL_MS - SLACK_MS), default=0
    )
    assert safe > RATE  # the check below is not vacuous
    # Event i has ts base_ms + i, and rows are written in order: a prefix survives.
    assert first_ts == base_ms
    assert stored == last_ts - base_ms + 1
    assert safe <= stored <= ingested

    # Restart and replay the whole stream again: every event is counted and stored once.
    aggregation = Aggregation(
        LiquidationStore(path), WindowStore(), [FeedInfo("okx", "okx", Coverage.PARTIAL)]
    )
    await aggregation.store.open()
    report = await aggregation.start()
    assert report.events_loaded == stored
    for i in range(ingested):
        aggregation.ingest(event(i, base_ms))
    assert aggregation.windows.counters.duplicates == stored
    assert aggregation.windows.counters.counted == ingested
    await aggregation.store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0] == ingested
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
