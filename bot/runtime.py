"""Wire collectors into aggregation: one ingest path, persistence, coverage and OKX backfill."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from aggregation.coverage import FeedInfo
from aggregation.pipeline import Aggregation, StartReport
from aggregation.query import LiquidationQueries, wall_clock_ms
from aggregation.store import LiquidationStore
from aggregation.windows import Outcome, WindowStore
from bot.settings import Settings
from collectors.exchanges.okx.feed import OkxFeed
from collectors.exchanges.okx.history import OkxHistory as OkxBackfill
from collectors.feed import Feed
from collectors.metadata_cache import SqliteMetadataCache
from collectors.record import FeedStateChange, Liquidation
from collectors.registry import build_feeds
from collectors.service import CollectorService
from collectors.stats import FeedStats

log = logging.getLogger(__name__)

# Shorter outages are a reconnect blip: not worth a round of REST requests.
MIN_BACKFILL_GAP_MS = 5_000
# A drop is noticed late (OKX's watchdog allows 30 s of silence), so history is fetched from
# this long before the recorded gap; the idempotent merge ignores what was already seen.
BACKFILL_LEAD_MS = 60_000
HISTORY_MS = 24 * 3600 * 1000

LiquidationListener = Callable[[Liquidation], None]


def http_client() -> httpx.AsyncClient:
    """Return the REST client used for exchange metadata and history."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(10.0),
        headers={"User-Agent": "liquidation-bot"},
        follow_redirects=True,
    )


@dataclass(slots=True)
class BackfillStats:
    """What the OKX gap backfills did."""

    runs: int = 0
    events: int = 0
    errors: int = 0
    last_error: str = ""


class _Sink:
    """The collectors' sink: every event goes through aggregation, then to the listeners."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def on_liquidation(self, record: Liquidation) -> None:
        self._runtime.ingest(record)

    def on_feed_state(self, change: FeedStateChange) -> None:
        self._runtime.feed_state(change)


@dataclass
class Runtime:
    """Own the feeds, the aggregation and the background tasks of one process."""

    settings: Settings
    listeners: list[LiquidationListener] = field(default_factory=list)
    clock: Callable[[], int] = wall_clock_ms
    backfill_stats: BackfillStats = field(default_factory=BackfillStats)
    min_backfill_gap_ms: int = MIN_BACKFILL_GAP_MS

    def __post_init__(self) -> None:
        self.feeds: list[Feed] = build_feeds(self.settings.exchanges, self.settings.endpoints())
        self.store = LiquidationStore(
            self.settings.database_path, retention_s=int(self.settings.retention_hours * 3600)
        )
        self.aggregation = Aggregation(
            self.store,
            WindowStore(self.settings.windows),
            [FeedInfo(f.feed_id, f.exchange, f.coverage) for f in self.feeds],
            clock=self.clock,
        )
        self._http: httpx.AsyncClient | None = None
        self._cache: SqliteMetadataCache | None = None
        self.collectors: CollectorService | None = None
        self._backfills: set[asyncio.Task[None]] = set()
        self._backfill_lock = asyncio.Lock()
        self.start_report: StartReport | None = None

    @property
    def queries(self) -> LiquidationQueries:
        """Return the read API."""
        return self.aggregation.queries

    def feed_stats(self) -> list[FeedStats]:
        """Return every feed's live counters."""
        return [] if self.collectors is None else self.collectors.stats()

    async def __aenter__(self) -> Runtime:
        await self.store.open()
        try:
            self.start_report = await self.aggregation.start()
            self._http = http_client()
            self._cache = await SqliteMetadataCache(self.settings.database_path).open()
        except BaseException:
            await self._close()
            raise
        self.collectors = CollectorService(
            self.feeds,
            _Sink(self),
            http=self._http,
            cache=self._cache,
            metadata_refresh_s=self.settings.metadata_refresh_s,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        for task in self._backfills:
            task.cancel()
        await asyncio.gather(*self._backfills, return_exceptions=True)
        await self.store.close()  # flushes what is still buffered
        if self._cache is not None:
            await self._cache.close()
        if self._http is not None:
            await self._http.aclose()

    async def run(self) -> None:
        """Run the collectors and the database writer until cancelled."""
        assert self.collectors is not None, "use `async with Runtime(...)`"
        async with asyncio.TaskGroup() as group:
            group.create_task(self.aggregation.run())
            group.create_task(self.collectors.run())

    # --- the ingest path ------------------------------------------------------------------

    def ingest(self, record: Liquidation) -> None:
        """Count and store an event; tell the listeners (console, alerts) unless a duplicate.

        An event older than every window (stale) is still news to a listener; those that act
        on freshness (alerts) check the event's age themselves.
        """
        if self.aggregation.ingest(record) is not Outcome.DUPLICATE:
            for listener in self.listeners:
                listener(record)

    def feed_state(self, change: FeedStateChange) -> None:
        """Record a feed transition; after an OKX outage, backfill the gap."""
        gap_start = None
        if change.up:
            gap_start = self.aggregation.coverage.last_down_start(change.feed_id, change.ts_ms)
        self.aggregation.feed_state(change.feed_id, change.up, change.ts_ms, change.reason)
        if (
            gap_start is not None
            and change.ts_ms - gap_start >= self.min_backfill_gap_ms
            and any(isinstance(f, OkxFeed) and f.feed_id == change.feed_id for f in self.feeds)
        ):
            task = asyncio.create_task(self.backfill(change.feed_id, gap_start, change.ts_ms))
            self._backfills.add(task)
            task.add_done_callback(self._backfills.discard)

    async def wait_backfills(self) -> None:
        """Wait until the backfills under way are done (tests and clean shutdowns)."""
        while self._backfills:
            await asyncio.gather(*self._backfills, return_exceptions=True)

    async def backfill(self, feed_id: str, start_ms: int, end_ms: int) -> None:
        """Fetch the gap [start_ms, end_ms] from OKX's history and merge it idempotently."""
        feed = next(f for f in self.feeds if f.feed_id == feed_id)
        assert isinstance(feed, OkxFeed)
        assert self._http is not None
        async with self._backfill_lock:  # one at a time: the REST limits are per IP
            since = self.clock() - HISTORY_MS
            active = [
                i.symbol for i in self.aggregation.windows.instruments_since(feed.exchange, since)
            ]
            if not active:
                log.info("%s: no instrument active in the last 24 h: nothing to backfill", feed_id)
                return
            result = await OkxBackfill(feed, self._http).fetch(
                start_ms - BACKFILL_LEAD_MS, end_ms, active
            )
            self.backfill_stats.runs += 1
            if result.errors:
                self.backfill_stats.errors += len(result.errors)
                self.backfill_stats.last_error = result.errors[-1]
                log.warning(
                    "%s backfill: %d request(s) failed, the gap stays a gap: %s",
                    feed_id,
                    len(result.errors),
                    "; ".join(result.errors[:3]),
                )
                # Merge what arrived (history: no alerts), but do not claim the gap is covered.
                for record in result.records:
                    self.aggregation.ingest(record)
                return
            counters = self.aggregation.ingest_backfill(
                feed_id, max(start_ms, result.covered_from_ms), end_ms, result.records
            )
            self.backfill_stats.events += counters.counted
            log.info(
                "%s backfill of a %.0fs gap: %d new events, %d already known (%d requests)",
                feed_id,
                (end_ms - start_ms) / 1000,
                counters.counted,
                counters.duplicates,
                result.requests,
            )
