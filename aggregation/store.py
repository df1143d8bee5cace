"""Persist liquidations, feed intervals and backfills to SQLite, and read them back fast.

One writer (an aiosqlite connection) drains a bounded in-memory buffer in batched transactions
at least every `flush_interval_s`; ingest never waits on the disk. Rows are keyed by the event's
natural identity, so re-delivered or re-imported events are ignored (idempotent storage).

For fast restarts the writer also keeps one packed "segment" per sealed minute (the minute's
rows, column by column). A write into a sealed minute marks its segment dirty in the same
transaction, so a segment is never trusted when it could be stale; dirty segments are rebuilt
by the next maintenance pass, and the loader reads rows instead of any dirty segment.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from aggregation.events import MINUTE_MS
from aggregation.maintenance import prune, seal
from aggregation.schema import INSERT_EVENT, SCHEMA, SCHEMA_VERSION
from aggregation.snapshot import Snapshot, read_snapshot
from collectors import clock
from collectors.record import Liquidation, Side
from collectors.sqlite import execute, executemany

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _StateChange:
    feed_id: str
    up: bool
    ts_ms: int
    reason: str


@dataclass(frozen=True, slots=True)
class _Backfill:
    feed_id: str
    start_ms: int
    end_ms: int
    events: int


@dataclass(slots=True)
class StoreStats:
    """Counters of the writer."""

    written: int = 0  # new rows
    duplicates: int = 0  # rows the unique key ignored
    dropped: int = 0  # events the full buffer could not take (logged)
    batches: int = 0
    last_flush_ms: int | None = None
    segments_sealed: int = 0
    rows_pruned: int = 0


def private_file(path: Path) -> None:
    """Create the file (and folder) if needed, readable and writable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(descriptor)
    path.chmod(0o600)


class LiquidationStore:
    """SQLite persistence for the aggregation layer."""

    def __init__(
        self,
        path: str | Path,
        *,
        retention_s: int = 48 * 3600,
        flush_interval_s: float = 0.5,
        max_batch: int = 20_000,
        max_pending: int = 1_000_000,
        seal_after_s: int = 120,
        maintenance_interval_s: float = 30.0,
        prune_step_ms: int = 10 * MINUTE_MS,
    ) -> None:
        self.path = Path(path)
        self.stats = StoreStats()
        self._retention_s = retention_s
        self._flush_interval_s = flush_interval_s
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._seal_after_s = seal_after_s
        self._maintenance_interval_s = maintenance_interval_s
        self._prune_step_ms = prune_step_ms
        self._db: aiosqlite.Connection | None = None
        self._buffer: deque[Liquidation | _StateChange | _Backfill] = deque()
        self._wake = asyncio.Event()
        self._instrument_ids: dict[tuple[str, str, str], int] = {}
        self._frontier: int = -1  # every minute <= frontier with rows has a segment row
        self._last_maintenance = 0.0
        self._drop_logged_at = 0.0
        self._lock = asyncio.Lock()

    # --- lifecycle ------------------------------------------------------------------------

    async def open(self) -> LiquidationStore:
        """Create the file owner-only, open the writer connection and migrate the schema."""
        private_file(self.path)
        db = await aiosqlite.connect(self.path, timeout=10.0)
        await execute(db, "PRAGMA journal_mode=WAL")
        await execute(db, "PRAGMA synchronous=NORMAL")
        await execute(db, "PRAGMA foreign_keys=ON")
        await db.executescript(SCHEMA)
        async with db.execute("SELECT value FROM meta WHERE name = 'schema_version'") as cur:
            row = await cur.fetchone()
        if row is None:
            await execute(db, "INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        elif int(row[0]) > SCHEMA_VERSION:
            await db.close()
            raise RuntimeError(
                f"{self.path} was written by a newer version (schema {row[0]}); "
                f"this version reads schema {SCHEMA_VERSION}"
            )
        await db.commit()
        self._db = db
        async with db.execute("SELECT id, exchange, market, symbol FROM instruments") as cur:
            async for ident, exchange, market, symbol in cur:
                self._instrument_ids[(exchange, market, symbol)] = int(ident)
        async with db.execute("SELECT value FROM meta WHERE name = 'seal_frontier'") as cur:
            row = await cur.fetchone()
        self._frontier = -1 if row is None else int(row[0])
        return self

    async def close(self) -> None:
        """Write everything still buffered and close."""
        if self._db is None:
            return
        try:
            await self.flush()
        finally:
            await self._db.close()
            self._db = None

    async def __aenter__(self) -> LiquidationStore:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("LiquidationStore is not open")
        return self._db

    # --- ingest side (never blocks) -------------------------------------------------------

    def enqueue(self, record: Liquidation) -> bool:
        """Buffer one event for the next flush; False (counted, logged) if the buffer is full."""
        if len(self._buffer) >= self._max_pending:
            self.stats.dropped += 1
            now = time.monotonic()
            if now - self._drop_logged_at >= 10.0:
                self._drop_logged_at = now
                log.error(
                    "database buffer full (%d events): %d event(s) not stored so far; "
                    "is the disk stalled?",
                    self._max_pending,
                    self.stats.dropped,
                )
            return False
        self._buffer.append(record)
        if len(self._buffer) >= self._max_batch:
            self._wake.set()
        return True

    def enqueue_state(self, feed_id: str, up: bool, ts_ms: int, reason: str) -> None:
        """Buffer a feed's up/down transition."""
        self._buffer.append(_StateChange(feed_id, up, ts_ms, reason))

    def enqueue_backfill(self, feed_id: str, start_ms: int, end_ms: int, events: int) -> None:
        """Buffer the record that a feed's gap was backfilled."""
        self._buffer.append(_Backfill(feed_id, start_ms, end_ms, events))

    # --- writer ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Flush at least every flush interval and keep segments and retention up, forever."""
        while True:
            try:
                async with asyncio.timeout(self._flush_interval_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()
            if time.monotonic() - self._last_maintenance >= self._maintenance_interval_s:
                await self.maintain()

    async def flush(self) -> None:
        """Write everything buffered so far, in batches of at most `max_batch` rows."""
        async with self._lock:
            while self._buffer:
                batch: list[Liquidation | _StateChange | _Backfill] = []
                buffer = self._buffer
                while buffer and len(batch) < self._max_batch:
                    batch.append(buffer.popleft())
                await _uncancelled(self._write(batch))

    async def _write(self, batch: list[Liquidation | _StateChange | _Backfill]) -> None:
        db = self._conn()
        records = [item for item in batch if isinstance(item, Liquidation)]
        await self._ensure_instruments(records)
        ids = self._instrument_ids
        rows = [
            (
                r.ts_ms,
                ids[(r.exchange, r.market, r.symbol)],
                0 if r.side is Side.LONG else 1,
                r.qty_base,
                r.price,
                r.notional_usd,
                r.recv_ms,
            )
            for r in records
        ]
        before = db.total_changes
        await executemany(db, INSERT_EVENT, rows)
        written = db.total_changes - before
        # A write at or before the frontier makes that minute's segment stale (or creates a
        # placeholder for a minute that had no rows): mark it dirty in this same transaction.
        frontier = self._frontier
        sealed = {m for m in {r.ts_ms // MINUTE_MS for r in records} if m <= frontier}
        if sealed:
            await executemany(
                db,
                "INSERT INTO segments (minute, dirty, rows, data) VALUES (?, 1, 0, x'') "
                "ON CONFLICT (minute) DO UPDATE SET dirty = 1",
                [(minute,) for minute in sorted(sealed)],
            )
        for item in batch:
            if isinstance(item, _StateChange):
                await execute(
                    db,
                    "UPDATE feed_intervals SET end_ms = ? WHERE feed_id = ? AND end_ms IS NULL",
                    (item.ts_ms, item.feed_id),
                )
                await execute(
                    db,
                    "INSERT OR REPLACE INTO feed_intervals "
                    "(feed_id, up, start_ms, end_ms, reason) VALUES (?, ?, ?, NULL, ?)",
                    (item.feed_id, int(item.up), item.ts_ms, item.reason[:500]),
                )
            elif isinstance(item, _Backfill):
                await execute(
                    db,
                    "INSERT OR REPLACE INTO backfills VALUES (?, ?, ?, ?, ?)",
                    (item.feed_id, item.start_ms, item.end_ms, item.events, clock.now_ms()),
                )
        now = clock.now_ms()
        await execute(db, "INSERT OR REPLACE INTO meta VALUES ('heartbeat_ms', ?)", (now,))
        await db.commit()
        self.stats.written += written
        self.stats.duplicates += len(rows) - written
        self.stats.batches += 1
        self.stats.last_flush_ms = now

    async def _ensure_instruments(self, records: Iterable[Liquidation]) -> None:
        new = {
            (r.exchange, r.market, r.symbol): r.base
            for r in records
            if (r.exchange, r.market, r.symbol) not in self._instrument_ids
        }
        if not new:
            return
        db = self._conn()
        await executemany(
            db,
            "INSERT OR IGNORE INTO instruments (exchange, market, symbol, base) "
            "VALUES (?, ?, ?, ?)",
            [(e, m, s, base) for (e, m, s), base in new.items()],
        )
        for exchange, market, symbol in new:
            async with db.execute(
                "SELECT id FROM instruments WHERE exchange = ? AND market = ? AND symbol = ?",
                (exchange, market, symbol),
            ) as cur:
                row = await cur.fetchone()
            assert row is not None
            self._instrument_ids[(exchange, market, symbol)] = int(row[0])

    # --- maintenance: segments and retention ----------------------------------------------

    async def maintain(self, now_ms: int | None = None) -> None:
        """Seal finished minutes, rebuild dirty segments and prune beyond retention."""
        async with self._lock:
            now = clock.now_ms() if now_ms is None else now_ms
            self._last_maintenance = time.monotonic()
            db = self._conn()
            up_to_minute = (now // 1000 - self._seal_after_s) * 1000 // MINUTE_MS - 1
            self._frontier, sealed = await seal(db, self._frontier, up_to_minute)
            self.stats.segments_sealed += sealed
            cutoff_ms = now - self._retention_s * 1000
            self.stats.rows_pruned += await prune(db, cutoff_ms, self._prune_step_ms)

    # --- reads ----------------------------------------------------------------------------

    async def snapshot(self, since_ms: int) -> Snapshot:
        """Return the events with ts >= since_ms and the feed history, for a restart."""
        await self.flush()
        return await asyncio.to_thread(read_snapshot, self.path, since_ms)

    async def close_open_intervals(self, at_ms: int) -> int:
        """Close intervals a previous process left open (it stopped at `at_ms`)."""
        db = self._conn()
        cursor = await execute(
            db, "UPDATE feed_intervals SET end_ms = MAX(start_ms, ?) WHERE end_ms IS NULL", (at_ms,)
        )
        await db.commit()
        return max(cursor.rowcount, 0)

    async def count_events(self) -> int:
        """Return how many events the database holds."""
        async with self._conn().execute("SELECT COUNT(*) FROM liquidations") as cur:
            row = await cur.fetchone()
        return 0 if row is None else int(row[0])

    def db_bytes(self) -> int:
        """Return the size of the database file and its WAL."""
        total = 0
        for suffix in ("", "-wal"):
            candidate = Path(f"{self.path}{suffix}")
            if candidate.exists():
                total += candidate.stat().st_size
        return total

    def pending(self) -> int:
        """Return how many items wait for the next flush."""
        return len(self._buffer)


async def _uncancelled(write: Coroutine[Any, Any, None]) -> None:
    """Run one batch's transaction to its commit even if the caller is cancelled meanwhile.

    The batch has left the buffer and aiosqlite's thread keeps executing after a cancelled await:
    giving up halfway would lose the batch and leave its transaction open, locking the file for
    every other connection. The cancellation is delivered once the commit is done.
    """
    task = asyncio.ensure_future(write)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError
