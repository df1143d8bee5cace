"""Tie the in-memory windows, the SQLite store and coverage together behind one ingest path."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import collectors.clock
from aggregation.coverage import CoverageTracker, FeedInfo
from aggregation.query import LiquidationQueries
from aggregation.store import LiquidationStore
from aggregation.windows import IngestCounters, Outcome, WindowStore
from collectors.record import Liquidation

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StartReport:
    """What the rebuild at start found."""

    events_loaded: int
    previous_heartbeat_ms: int | None  # when the previous process last wrote


class Aggregation:
    """Ingest liquidations and feed states into memory and disk; answer queries.

    `ingest` never waits on the disk: it updates the windows and buffers the row for the
    store's writer task (`run`).
    """

    def __init__(
        self,
        store: LiquidationStore,
        windows: WindowStore,
        feeds: Sequence[FeedInfo],
        clock: Callable[[], int] = collectors.clock.now_ms,
    ) -> None:
        self.store = store
        self.windows = windows
        self.coverage = CoverageTracker(feeds)
        self.queries = LiquidationQueries(windows, self.coverage, clock)
        self.errors = 0
        self._clock = clock

    async def start(self) -> StartReport:
        """Rebuild memory from the database, so figures equal those before the restart."""
        now = self._clock()
        snapshot = await self.store.snapshot(now - self.windows.retention_s * 1000)
        loaded = self.windows.load(snapshot.events, snapshot.instruments)
        if snapshot.heartbeat_ms is not None:
            # The previous process stopped (cleanly or not) after its last write.
            await self.store.close_open_intervals(snapshot.heartbeat_ms)
        self.coverage.load(
            (
                (
                    i.feed_id,
                    i.up,
                    i.start_ms,
                    i.end_ms if i.end_ms is not None else snapshot.heartbeat_ms or i.start_ms,
                )
                for i in snapshot.intervals
            ),
            ((b.feed_id, b.start_ms, b.end_ms) for b in snapshot.backfills),
        )
        log.info("rebuilt %d events from %s", loaded, self.store.path)
        return StartReport(loaded, snapshot.heartbeat_ms)

    def ingest(self, record: Liquidation) -> Outcome:
        """Count an event in memory and buffer it for the database (duplicates are dropped).

        Never raises: an unexpected error is logged and counted, and the event is still stored.
        """
        try:
            outcome = self.windows.add(record)
        except Exception:  # a bug must not stop the feeds; the row still reaches the disk
            self.errors += 1
            log.exception("window store failed on %r", record)
            outcome = Outcome.STALE
        if outcome is not Outcome.DUPLICATE:
            self.store.enqueue(record)  # stale events are stored too, just not counted live
        return outcome

    def ingest_backfill(
        self, feed_id: str, start_ms: int, end_ms: int, records: Iterable[Liquidation]
    ) -> IngestCounters:
        """Merge a gap's history through the idempotent path and mark the gap backfilled."""
        counters = IngestCounters()
        for record in records:
            outcome = self.ingest(record)
            if outcome is Outcome.COUNTED:
                counters.counted += 1
            elif outcome is Outcome.DUPLICATE:
                counters.duplicates += 1
            else:
                counters.stale += 1
        self.coverage.mark_backfilled(feed_id, start_ms, end_ms)
        self.store.enqueue_backfill(feed_id, start_ms, end_ms, counters.counted)
        return counters

    def feed_state(self, feed_id: str, up: bool, ts_ms: int, reason: str) -> None:
        """Record a feed's up/down transition in coverage and on disk."""
        self.coverage.feed_state(feed_id, up, ts_ms)
        self.store.enqueue_state(feed_id, up, ts_ms, reason)

    async def run(self) -> None:
        """Run the database writer forever."""
        await self.store.run()
