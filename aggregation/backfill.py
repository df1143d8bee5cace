"""Fill a feed's outage from its exchange's REST history, one gap at a time, in the background.

A feed that keeps history (OKX, about a day) provides a `HistorySource`; aggregation knows it
only through that protocol. When such a feed comes back up after a gap of at least
`min_gap_ms`, the gap is queued; one worker fetches the history of the instruments active in
the last 24 h and merges it through the idempotent ingest path (history raises no alerts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import collectors.clock
from aggregation.coverage import CoverageTracker
from aggregation.store import LiquidationStore
from aggregation.windows import IngestCounters, Outcome, WindowStore
from collectors.record import HistoryBatch, HistorySource, Liquidation

log = logging.getLogger(__name__)

# Shorter outages are a reconnect blip: not worth a round of REST requests.
MIN_BACKFILL_GAP_MS = 5_000
# A drop is noticed late (OKX's watchdog allows 30 s of silence), so history is fetched from
# this long before the recorded gap; the idempotent merge ignores what was already seen.
BACKFILL_LEAD_MS = 60_000
HISTORY_MS = 24 * 3600 * 1000


@dataclass(slots=True)
class BackfillStats:
    """What the gap backfills did."""

    runs: int = 0
    events: int = 0
    errors: int = 0
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class _Gap:
    feed_id: str
    start_ms: int
    end_ms: int


class GapBackfill:
    """Queue the gaps of feeds with a history source and fill them one at a time (`run`)."""

    def __init__(
        self,
        sources: Mapping[str, HistorySource],
        *,
        windows: WindowStore,
        coverage: CoverageTracker,
        store: LiquidationStore,
        ingest: Callable[[Liquidation], Outcome],
        clock: Callable[[], int] = collectors.clock.now_ms,
        min_gap_ms: int = MIN_BACKFILL_GAP_MS,
    ) -> None:
        self.stats = BackfillStats()
        self._sources = dict(sources)
        self._windows = windows
        self._coverage = coverage
        self._store = store
        self._ingest = ingest
        self._clock = clock
        self._min_gap_ms = min_gap_ms
        self._queue: asyncio.Queue[_Gap] = asyncio.Queue()

    def gap_closed(self, feed_id: str, start_ms: int, end_ms: int) -> None:
        """Queue the gap [start_ms, end_ms] of a feed that came back up, if worth filling."""
        if feed_id in self._sources and end_ms - start_ms >= self._min_gap_ms:
            self._queue.put_nowait(_Gap(feed_id, start_ms, end_ms))

    async def run(self) -> None:
        """Fill queued gaps one at a time, forever (the REST limits are per IP)."""
        while True:
            gap = await self._queue.get()
            try:
                await self._fill(gap.feed_id, gap.start_ms, gap.end_ms)
            except Exception as exc:  # a bug in one backfill must not stop the next ones
                self.stats.errors += 1
                self.stats.last_error = repr(exc)
                log.exception("%s backfill failed", gap.feed_id)
            finally:
                self._queue.task_done()

    async def wait_backfills(self) -> None:
        """Wait until every queued gap is done (tests); needs `run` to be running."""
        await self._queue.join()

    async def _fill(self, feed_id: str, start_ms: int, end_ms: int) -> None:
        """Fetch the gap [start_ms, end_ms] from the feed's history and merge it idempotently."""
        source = self._sources[feed_id]
        exchange = self._coverage.feeds[feed_id].exchange
        since = self._clock() - HISTORY_MS
        active = [i.symbol for i in self._windows.instruments_since(exchange, since)]
        if not active:
            log.info("%s: no instrument active in the last 24 h: nothing to backfill", feed_id)
            return
        batch = await source.fetch(start_ms - BACKFILL_LEAD_MS, end_ms, active)
        self.stats.runs += 1
        if batch.errors:
            self._failed(feed_id, batch)
            return
        covered_from = max(start_ms, batch.covered_from_ms)
        counters = self._merge(batch.records)
        self._coverage.mark_backfilled(feed_id, covered_from, end_ms)
        self._store.enqueue_backfill(feed_id, covered_from, end_ms, counters.counted)
        self.stats.events += counters.counted
        log.info(
            "%s backfill of a %.0fs gap: %d new events, %d already known (%d requests)",
            feed_id,
            (end_ms - start_ms) / 1000,
            counters.counted,
            counters.duplicates,
            batch.requests,
        )

    def _failed(self, feed_id: str, batch: HistoryBatch) -> None:
        self.stats.errors += len(batch.errors)
        self.stats.last_error = batch.errors[-1]
        log.warning(
            "%s backfill: %d request(s) failed, the gap stays a gap: %s",
            feed_id,
            len(batch.errors),
            "; ".join(batch.errors[:3]),
        )
        # Merge what arrived (history: no alerts), but do not claim the gap is covered.
        for record in batch.records:
            self._ingest(record)

    def _merge(self, records: list[Liquidation]) -> IngestCounters:
        counters = IngestCounters()
        for record in records:
            outcome = self._ingest(record)
            if outcome is Outcome.COUNTED:
                counters.counted += 1
            elif outcome is Outcome.DUPLICATE:
                counters.duplicates += 1
            else:
                counters.stale += 1
        return counters
