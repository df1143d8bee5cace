"""Persist liquidations, their rollups and feed history to SQLite, off the event loop.

One writer drains a bounded in-memory buffer at least every `flush_interval_s`; ingest never
waits on the disk. The database lives in its own thread (`aggregation.database`): each batch,
with the rollups it changes, is ONE call there from BEGIN to COMMIT, so no transaction is ever
held open across an await (another connection to the file, such as the bot's alert journal,
waits at most one short batch). Rows are keyed by the event's natural identity, so re-delivered
or re-imported events are ignored (idempotent storage); rows memory could not tell new are
checked one by one and their verdict is handed back.

Reads that must see every event counted so far (`read`, `request_seconds`) are queued behind
the writes; history reads (`history`) use a second connection in another thread, a restart's
reads (`read_apart`) several at once.

A write that fails for a passing reason (a full disk, an I/O error, the file locked by another
program too long: `sqlite3.OperationalError`) is rolled back and its batch goes back to the
front of the buffer; the writer tries again every `write_retry_s`, says so once and then a line
a minute, and the reads queued behind it fail with `WriteFailed` instead of waiting. Nothing is
lost while the buffer has room.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from aggregation.database import Backfill, Database, StateChange, WriteResult
from aggregation.maintenance import prune_events, prune_history, rebuild_hour, vacuum_step
from aggregation.reader import Reader
from aggregation.snapshot import MinuteSums, read_seconds
from aggregation.writes import (
    CheckedItem,
    ReadItem,
    StoreStats,
    Verdict,
    WriteFailed,
    WriteItem,
)
from collectors import clock
from collectors.outage import OutageLog
from collectors.record import Liquidation
from collectors.sqlite import uncancelled

log = logging.getLogger(__name__)

T = TypeVar("T")
DAY_S = 86_400


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
        history_days: float = 90,
        flush_interval_s: float = 0.5,
        max_batch: int = 5_000,
        max_pending: int = 1_000_000,
        maintenance_interval_s: float = 5.0,
        prune_step_ms: int = 5_000,
        write_retry_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.stats = StoreStats()
        self.retention_s = retention_s
        self.history_s = int(history_days * DAY_S)
        self._flush_interval_s = flush_interval_s
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._maintenance_interval_s = maintenance_interval_s
        self._prune_step_ms = prune_step_ms
        self._write_retry_s = write_retry_s
        self._outage = OutageLog("database", log, recovered_as="writing again")
        self._maintenance_outage = OutageLog("database maintenance", log, recovered_as="done")
        self._db = Database(self.path)
        self._reader = Reader(self.path)
        self._thread: ThreadPoolExecutor | None = None
        self._buffer: deque[WriteItem] = deque()
        self._wake = asyncio.Event()
        self._last_maintenance = 0.0
        self._drop_logged_at = 0.0
        self._lock = asyncio.Lock()

    # --- lifecycle ------------------------------------------------------------------------

    async def open(self) -> LiquidationStore:
        """Create the file owner-only, open the writer connection and migrate the schema."""
        private_file(self.path)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="liquidation-db")
        try:
            await self._call(self._db.open)
        except BaseException:
            self._thread.shutdown(wait=False)
            self._thread = None
            raise
        return self

    async def close(self) -> None:
        """Write everything still buffered and close (what cannot be written is said)."""
        if self._thread is None:
            return
        try:
            if not await self.flush():
                log.error(
                    "closing with %d events and changes not written: %s",
                    len(self._buffer),
                    self.stats.last_write_error,
                )
        finally:
            await self._call(self._db.close)
            await self._reader.close()
            self._thread.shutdown(wait=True)
            self._thread = None

    async def __aenter__(self) -> LiquidationStore:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        if self._thread is None:
            raise RuntimeError("LiquidationStore is not open")
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    # --- ingest side (never blocks) -------------------------------------------------------

    def enqueue(self, record: Liquidation) -> bool:
        """Buffer one event memory knows is new; False (counted, logged) if the buffer is full."""
        return self._push(record)

    def enqueue_checked(self, record: Liquidation, verdict: Verdict | None = None) -> bool:
        """Buffer one event the database must tell new or not; `verdict` hears which."""
        return self._push(CheckedItem(record, verdict))

    def _push(self, item: WriteItem) -> bool:
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
        self._buffer.append(item)
        if len(self._buffer) >= self._max_batch:
            self._wake.set()
        return True

    def enqueue_state(self, feed_id: str, up: bool, ts_ms: int, reason: str) -> None:
        """Buffer a feed's up/down transition."""
        self._buffer.append(StateChange(feed_id, up, ts_ms, reason))

    def enqueue_backfill(self, feed_id: str, start_ms: int, end_ms: int, events: int) -> None:
        """Buffer the record that a feed's gap was backfilled."""
        self._buffer.append(Backfill(feed_id, start_ms, end_ms, events))

    def request_seconds(self, minute: int, deliver: Callable[[MinuteSums | None], None]) -> None:
        """Queue a read of a minute's per-second sums and largest behind everything buffered so
        far; the writer calls `deliver` with them (None if the read failed)."""

        def done(result: Any, error: BaseException | None) -> None:
            if error is not None and not isinstance(error, WriteFailed):  # that one is said
                log.error("reading the per-second sums of minute %d failed: %r", minute, error)
            deliver(None if error is not None else result)

        self._buffer.append(ReadItem(lambda db: read_seconds(db.conn, minute, tops=True), done))
        self._wake.set()

    # --- writer ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Flush at least every flush interval and keep retention and rollups up, forever."""
        while True:
            try:
                async with asyncio.timeout(self._flush_interval_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if not await self.flush():
                await asyncio.sleep(self._write_retry_s)
                continue
            if time.monotonic() - self._last_maintenance >= self._maintenance_interval_s:
                try:
                    await self.maintain()
                except sqlite3.OperationalError as exc:  # retried at the next interval
                    self._maintenance_outage.failed(repr(exc))
                else:
                    self._maintenance_outage.recovered()

    async def flush(self) -> bool:
        """Write everything buffered so far (batches of at most `max_batch` events) and serve
        the reads queued among them, in order. Return False if a write failed: its batch is
        back at the front of the buffer, and the reads queued have failed (`WriteFailed`)."""
        async with self._lock:
            buffer = self._buffer
            while buffer:
                if isinstance(buffer[0], ReadItem):
                    await uncancelled(self._serve(buffer.popleft()))  # type: ignore[arg-type]
                    continue
                batch: list[WriteItem] = []
                while (
                    buffer and len(batch) < self._max_batch and not isinstance(buffer[0], ReadItem)
                ):
                    batch.append(buffer.popleft())
                try:
                    await uncancelled(self._write(batch))
                except sqlite3.OperationalError as exc:  # rolled back: none of it is stored
                    # (A full disk, an I/O error, a lock held too long: it passes. Any other
                    # error is a bug, and a batch that can never be written is not retried.)
                    buffer.extendleft(reversed(batch))
                    self._write_failed(len(batch), exc)
                    return False
            return True

    def _write_failed(self, batch: int, exc: sqlite3.OperationalError) -> None:
        stats = self.stats
        stats.write_failures += 1
        stats.last_write_error = str(exc)
        if stats.failing_since_ms is None:
            stats.failing_since_ms = clock.now_ms()
        self._outage.failed(
            f"writing {batch} events and changes failed: {exc!r} "
            f"({len(self._buffer):,} waiting, kept until written)"
        )
        reads = [item for item in self._buffer if isinstance(item, ReadItem)]
        if reads:  # they would wait for as long as the failure lasts
            kept = [item for item in self._buffer if not isinstance(item, ReadItem)]
            self._buffer.clear()
            self._buffer.extend(kept)
            error = WriteFailed(f"the database could not store what this read must see: {exc}")
            for read in reads:
                read.deliver(None, error)

    async def _write(self, batch: list[WriteItem]) -> None:
        new = [item for item in batch if isinstance(item, Liquidation)]
        checked = [item for item in batch if isinstance(item, CheckedItem)]
        states = [item for item in batch if isinstance(item, StateChange)]
        backfills = [item for item in batch if isinstance(item, Backfill)]
        started = time.perf_counter()
        now = clock.now_ms()
        result: WriteResult = await self._call(
            self._db.write, new, [c.record for c in checked], states, backfills, now
        )
        stats = self.stats
        stats.longest_batch_ms = max(stats.longest_batch_ms, (time.perf_counter() - started) * 1e3)
        stats.written += result.written
        stats.duplicates += result.duplicates
        stats.batches += 1
        stats.last_flush_ms = now
        if stats.failing_since_ms is not None:
            stats.failing_since_ms = None
            self._outage.recovered()
        for item, fresh in zip(checked, result.verified, strict=True):
            if item.verdict is not None:
                try:
                    item.verdict(fresh)
                except Exception:  # one consumer's bug must not stop the writer
                    log.exception("the verdict on %r failed", item.record)

    async def _serve(self, read: ReadItem) -> None:
        try:
            result = await self._call(read.work, self._db)
        except Exception as exc:  # noqa: BLE001 - handed to whoever asked, who logs or raises it
            read.deliver(None, exc)
            return
        read.deliver(result, None)

    async def read(self, work: Callable[[Database], T]) -> T:
        """Run `work` in the database's thread after everything buffered so far is written."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        def deliver(result: Any, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        self._buffer.append(ReadItem(work, deliver))
        await self.flush()
        return await future

    async def read_apart(self, works: Sequence[Callable[[sqlite3.Connection], T]]) -> list[T]:
        """Run each `work` at the same time, each on its own read-only connection and thread
        (a restart's reads, before anything is counted: they all see the same file)."""
        readers = [Reader(self.path) for _ in works]
        try:
            return list(
                await asyncio.gather(*(r.run(w) for r, w in zip(readers, works, strict=True)))
            )
        finally:
            for reader in readers:
                await reader.close()

    async def history(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(connection, *args)` on the read-only history connection (its own thread)."""
        return await self._reader.run(work, *args)

    # --- maintenance ----------------------------------------------------------------------

    async def maintain(self, now_ms: int | None = None) -> None:
        """Prune past retention and history, rebuild finished hours, give back free pages:
        each step its own short transaction."""
        now = clock.now_ms() if now_ms is None else now_ms
        self._last_maintenance = time.monotonic()
        cutoff = now - self.retention_s * 1000
        while True:
            async with self._lock:
                step = await self._call(prune_events, self._db.conn, cutoff, self._prune_step_ms)
            self.stats.rows_pruned += step.rows
            if step.done:
                break
        async with self._lock:
            await self._call(prune_history, self._db.conn, cutoff, now - self.history_s * 1000)
        while True:
            async with self._lock:
                rolled = await self._call(
                    rebuild_hour, self._db.conn, self._db.catalog, now - 60_000
                )
            if not rolled:
                break
            self.stats.hours_rolled += 1
        async with self._lock:
            await self._call(vacuum_step, self._db.conn)

    # --- reads ----------------------------------------------------------------------------

    async def close_open_intervals(self, at_ms: int) -> int:
        """Close intervals a previous process left open (it stopped at `at_ms`)."""
        async with self._lock:
            return await self._call(self._db.close_open_intervals, at_ms)

    async def count_events(self) -> int:
        """Return how many events the database holds (written so far)."""
        async with self._lock:
            return await self._call(self._db.count_events)

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

    @property
    def database(self) -> Database:
        """Return the database (its methods run only in the store's thread, via `read`)."""
        return self._db
