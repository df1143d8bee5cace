"""Take what the collectors produce: count and store it, track coverage, tell the listeners.

`Aggregation` is the collectors' sink. Every new liquidation goes one way: into the windows and
the store, then to the listeners (console printer, alert router, cascade detector). An event
older than what memory can tell new is checked by the database first, and counted (and heard)
once it is found new. A feed coming back up after an outage queues a backfill of the gap when
the feed has a history source.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import collectors.clock
from aggregation.backfill import MIN_BACKFILL_GAP_MS, GapBackfill
from aggregation.coverage import CoverageTracker, FeedInfo
from aggregation.query import LiquidationQueries
from aggregation.restore import restore
from aggregation.snapshot import (
    END,
    MinuteSums,
    Snapshot,
    first_minute,
    read_edges,
    read_recent,
    read_rollups,
)
from aggregation.store import LiquidationStore
from aggregation.windows import DETAIL_S, MINUTE_S, Outcome, WindowStore
from collectors.record import FeedStateChange, HistorySource, Liquidation

log = logging.getLogger(__name__)

LiquidationListener = Callable[[Liquidation], None]

# The most rows a restart reads for identities and the newest events. A re-delivered event
# older than these is told apart by the database (PENDING), so this bounds the restart's time,
# not its correctness: 50,000 rows are 25 s at 2,000 events/s, and 0.1 s of the restart.
NEWEST_ROWS = 50_000
# The connections that read a restart's rollups at once, each a span of the day's minutes: a
# file read from disk comes in faster with several reads in flight.
ROLLUP_READERS = 3


@dataclass(frozen=True, slots=True)
class StartReport:
    """What the rebuild at start found."""

    events_loaded: int
    previous_heartbeat_ms: int | None  # when the previous process last wrote


class Aggregation:
    """The collectors' sink: ingest liquidations and feed states into memory and disk.

    `on_liquidation` never waits on the disk: it updates the windows, buffers the row for the
    store's writer and calls the listeners. `run` runs the writer and the gap backfills.
    """

    def __init__(
        self,
        store: LiquidationStore,
        windows: WindowStore,
        feeds: Sequence[FeedInfo],
        clock: Callable[[], int] = collectors.clock.now_ms,
        *,
        history: Mapping[str, HistorySource] | None = None,
        min_backfill_gap_ms: int = MIN_BACKFILL_GAP_MS,
        detail_s: int = DETAIL_S,
    ) -> None:
        self.store = store
        self.windows = windows
        windows.use_database(self._load_seconds, detail_s=detail_s)
        self.coverage = CoverageTracker(feeds)
        self.backfill = GapBackfill(
            history or {},
            windows=windows,
            coverage=self.coverage,
            store=store,
            ingest=self.ingest,
            clock=clock,
            min_gap_ms=min_backfill_gap_ms,
        )
        self.queries = LiquidationQueries(
            windows, self.coverage, clock, store=store, backfill=self.backfill.stats
        )
        self.errors = 0  # window store failures
        self.listener_errors = 0
        self._listeners: tuple[LiquidationListener, ...] = ()
        self._clock = clock

    async def start(self) -> StartReport:
        """Rebuild memory from the database's buckets, so figures equal those before."""
        now = self._clock()
        snapshot = await self._snapshot(now)
        loaded = restore(self.windows, snapshot, now)
        feeds = snapshot.recent.feeds
        if feeds.heartbeat_ms is not None:
            # The previous process stopped (cleanly or not) after its last write.
            await self.store.close_open_intervals(feeds.heartbeat_ms)
        self.coverage.load(
            (
                (
                    i.feed_id,
                    i.up,
                    i.start_ms,
                    i.end_ms if i.end_ms is not None else feeds.heartbeat_ms or i.start_ms,
                )
                for i in feeds.intervals
            ),
            ((b.feed_id, b.start_ms, b.end_ms) for b in feeds.backfills),
        )
        log.info("rebuilt %d events from %s", loaded, self.store.path)
        return StartReport(loaded, feeds.heartbeat_ms)

    async def _snapshot(self, now_ms: int) -> Snapshot:
        """Read the snapshot on several connections at once: the rollups in `ROLLUP_READERS`
        spans of minutes, the edges' per-second sums, and the rest on the writer's."""
        windows = self.windows
        now_sec = now_ms // 1000
        first = first_minute(now_ms, windows.retention_s)
        edges: set[int] = set()
        for window in (*windows.tracked_s, windows.retention_s):
            minute = first_minute(now_ms, window)
            edges.update((minute, minute + 1))
        edge_minutes = sorted(m for m in edges if m >= first)
        newest = min(windows.identity_cap or NEWEST_ROWS, NEWEST_ROWS)
        step = -(-(now_sec // MINUTE_S + 1 - first) // ROLLUP_READERS)
        bounds = [first + i * step for i in range(ROLLUP_READERS)] + [END]
        parts: list[Callable[[sqlite3.Connection], Any]] = [
            functools.partial(read_edges, minutes=edge_minutes),
            *(
                functools.partial(read_rollups, first=lo, end=hi)
                for lo, hi in itertools.pairwise(bounds)
            ),
        ]
        recent, (edge_sums, *rollups) = await asyncio.gather(
            self.store.read(lambda db: read_recent(db.conn, now_ms, first, edge_minutes, newest)),
            self.store.read_apart(parts),
        )
        return Snapshot(
            instruments=dict(self.store.database.catalog),
            rollups=np.concatenate(rollups),
            edges=edge_sums,
            recent=recent,
        )

    def _load_seconds(self, minute: int) -> None:
        """Ask the store for a minute's per-second sums (for a window edge)."""

        def deliver(sums: MinuteSums | None) -> None:
            self.windows.install_seconds(minute, sums, self.store.database.catalog)

        self.store.request_seconds(minute, deliver)

    # --- the collectors' sink -------------------------------------------------------------

    def on_liquidation(self, record: Liquidation) -> None:
        """Count and store an event; tell the listeners unless it is a duplicate.

        An event older than every window (stale) is still news to a listener; those that act
        on freshness (alerts) check the event's age themselves. A listener that raises is
        logged and counted; the others still hear of the event.
        """
        outcome = self.ingest(record, listen=True)
        if outcome is Outcome.COUNTED or outcome is Outcome.STALE:
            self._tell(record)

    def _tell(self, record: Liquidation) -> None:
        for listener in self._listeners:
            try:
                listener(record)
            except Exception:  # one consumer's bug must not silence the others or the feed
                self.listener_errors += 1
                log.exception("listener %r failed on %r", listener, record)

    def on_feed_state(self, change: FeedStateChange) -> None:
        """Record a feed's up/down transition; after an outage, queue a backfill of the gap."""
        gap_start = None
        if change.up:
            gap_start = self.coverage.last_down_start(change.feed_id, change.ts_ms)
        self.coverage.feed_state(change.feed_id, change.up, change.ts_ms)
        self.store.enqueue_state(change.feed_id, change.up, change.ts_ms, change.reason)
        if gap_start is not None:
            self.backfill.gap_closed(change.feed_id, gap_start, change.ts_ms)

    # --- listeners ------------------------------------------------------------------------

    def add_listener(self, listener: LiquidationListener) -> None:
        """Call `listener` with every new liquidation from now on."""
        self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: LiquidationListener) -> None:
        """Stop calling `listener`; ValueError if it was not added."""
        listeners = list(self._listeners)
        listeners.remove(listener)
        self._listeners = tuple(listeners)

    def ingest(self, record: Liquidation, *, listen: bool = False) -> Outcome:
        """Count an event in memory and buffer it for the database (duplicates are dropped).

        The listeners are not told here (history merges through here); a PENDING event is
        told to them (if `listen`) once the database finds it new. Never raises: an unexpected
        error is logged and counted, and the event is still stored.
        """
        try:
            outcome = self.windows.add(record)
        except Exception:  # a bug must not stop the feeds; the row still reaches the disk
            self.errors += 1
            log.exception("window store failed on %r", record)
            outcome = Outcome.STALE
        if outcome is Outcome.COUNTED:
            self.store.enqueue(record)
        elif outcome is Outcome.STALE:
            self.store.enqueue_checked(record)  # stored too, just not counted live
        elif outcome is Outcome.PENDING:
            self.store.enqueue_checked(record, self._verdict(record, listen))
        return outcome

    def _verdict(self, record: Liquidation, listen: bool) -> Callable[[bool], None]:
        def verdict(new: bool) -> None:
            try:
                outcome = self.windows.add_verified(record, new)
            except Exception:
                self.errors += 1
                log.exception("window store failed on %r", record)
                return
            if listen and outcome is not Outcome.DUPLICATE:
                self._tell(record)

        return verdict

    async def run(self) -> None:
        """Run the database writer, the gap backfills and the windows' clock until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.store.run(), name="liquidation-writer")
            group.create_task(self.backfill.run(), name="gap-backfill")
            group.create_task(self._tick(), name="window-clock")

    async def _tick(self) -> None:
        """Move the windows on every second, queries or not (edges ask for their minutes)."""
        while True:
            await asyncio.sleep(1.0 - self._clock() % 1000 / 1000)
            try:
                self.windows.advance(self._clock())
            except Exception:  # a bug must not stop the clock; the next tick tries again
                self.errors += 1
                log.exception("advancing the windows failed")
