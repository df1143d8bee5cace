"""Answer the bot's questions about liquidations with typed results: the only read API.

The configured windows, the newest and the largest events are answered from memory, at once
(synchronous). Any other span (another window, a period, a chart, history up to HISTORY_DAYS,
raw events) may read the database and is asynchronous. Every type the bot reads is re-exported
here (`__all__`), so the bot imports nothing else from aggregation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

import collectors.clock
from aggregation.backfill import BackfillStats
from aggregation.coverage import CoverageTracker, FeedCoverage, Gap
from aggregation.event_reads import EventReads

# Re-exported: the bot reads stored events for its CSV export through this module.
from aggregation.export import EXPORT_COLUMNS, ExportRow, export_rows
from aggregation.keys import FloatArray, IntArray
from aggregation.ranges import HOUR_S, Ranges
from aggregation.results import (
    BUCKET_STEPS_S,
    DEFAULT_BUCKETS,
    EMPTY,
    AssetTotals,
    Backtest,
    ExchangeTotals,
    IngestHealth,
    Leaderboard,
    PeriodSummary,
    RankedAsset,
    Series,
    SideTotals,
    WindowTotals,
    bucket_seconds,
    history_bucket_seconds,
)
from aggregation.shaping import exchanges_of, ranked, series_of, side_totals, volumes
from aggregation.store import LiquidationStore
from aggregation.windows import IngestCounters, WindowStore
from aggregation.writes import StoreStats
from collectors.record import Liquidation, Side

__all__ = [
    "BUCKET_STEPS_S",
    "DEFAULT_BUCKETS",
    "EMPTY",
    "EXPORT_COLUMNS",
    "AssetTotals",
    "BackfillStats",
    "Backtest",
    "ExchangeTotals",
    "ExportRow",
    "FeedCoverage",
    "Gap",
    "IngestCounters",
    "IngestHealth",
    "Leaderboard",
    "LiquidationQueries",
    "PeriodSummary",
    "RankedAsset",
    "Series",
    "SideTotals",
    "StoreStats",
    "WindowTotals",
    "bucket_seconds",
    "export_rows",
    "history_bucket_seconds",
]


class LiquidationQueries(EventReads):
    """Read windows, leaderboards, latest and largest events, history, coverage and health."""

    def __init__(
        self,
        windows: WindowStore,
        coverage: CoverageTracker,
        clock: Callable[[], int] = collectors.clock.now_ms,
        *,
        store: LiquidationStore | None = None,
        backfill: BackfillStats | None = None,
    ) -> None:
        self._windows = windows
        self._coverage = coverage
        self._clock = clock
        self._store = store
        self._backfill = backfill
        self._ranges = Ranges(windows, store)

    @property
    def windows_s(self) -> tuple[int, ...]:
        """Return the configured windows, shortest first."""
        return self._windows.windows_s

    @property
    def history_s(self) -> int:
        """Return the longest span that can be asked for (HISTORY_DAYS with a database)."""
        retention = self._windows.retention_s
        return retention if self._store is None else max(retention, self._store.history_s)

    @property
    def memory_s(self) -> int:
        """Return the span held in memory, exact to the second (at least a day)."""
        return self._windows.retention_s

    def assets(self) -> tuple[str, ...]:
        """Return every asset name seen (in memory), sorted."""
        return tuple(sorted(self._windows.asset_names))

    # --- configured windows, from memory --------------------------------------------------

    def market(self, now_ms: int | None = None) -> tuple[WindowTotals, ...]:
        """Return every configured window's market-wide totals."""
        return self._window_totals(None, now_ms)

    def asset(self, asset: str, now_ms: int | None = None) -> tuple[WindowTotals, ...] | None:
        """Return every configured window's totals for one asset, or None if it is unknown."""
        index = self._windows.asset_index(asset)
        if index is None:
            return None
        return self._window_totals(index, now_ms)

    def leaderboard(self, window_s: int, n: int = 10, now_ms: int | None = None) -> Leaderboard:
        """Return the top n assets by long- and short-liquidated USD in a configured window."""
        w = self._window_position(window_s)
        end = self._end_ms(now_ms)
        view = self._windows.totals_view(end)
        return self._ranked_board(window_s, end, view.asset_usd[w], view.asset_count[w], n)

    def asset_table(self, window_s: int, now_ms: int | None = None) -> tuple[AssetTotals, ...]:
        """Return every asset with events in a configured window, largest total first."""
        w = self._window_position(window_s)
        view = self._windows.totals_view(self._end_ms(now_ms))
        per_asset_usd, per_asset_count = view.asset_usd[w], view.asset_count[w]
        active = np.flatnonzero(per_asset_count.sum(axis=1))
        order = active[np.argsort(-per_asset_usd[active].sum(axis=1), kind="stable")]
        names = self._windows.asset_names
        return tuple(
            AssetTotals(names[a], side_totals(per_asset_usd[a], per_asset_count[a]))
            for a in order.tolist()
        )

    def window_volumes(self, window_s: int, now_ms: int | None = None) -> dict[str, float]:
        """Return the USD liquidated per asset (assets with events only) in a configured window
        or the last 24 h (always kept)."""
        if window_s not in self._windows.tracked_s:
            raise ValueError(f"{window_s}s is neither a configured window nor a day")
        usd, _ = self._windows.tracked_totals(window_s, self._end_ms(now_ms))
        return volumes(self._windows.asset_names, self._windows.by_name(usd).sum(axis=(1, 2)))

    def largest(
        self, window_s: int, k: int = 5, now_ms: int | None = None
    ) -> tuple[Liquidation, ...]:
        """Return the k (<= 5) largest single liquidations of a window held in memory."""
        if not 0 < window_s <= self._windows.retention_s:
            raise ValueError(f"a window must be 1s to {self._windows.retention_s}s")
        first, end = self._window_seconds(window_s, now_ms)
        return tuple(self._windows.largest(first * 1000, end * 1000, k))

    def latest(
        self,
        n: int = 10,
        asset: str | None = None,
        min_usd: float = 0.0,
        *,
        side: Side | None = None,
        exchange: str | None = None,
    ) -> tuple[Liquidation, ...]:
        """Return the newest n liquidations (by event time) of at least min_usd, newest first;
        only of one asset, side or exchange if given."""
        return tuple(self._windows.latest(n, asset, min_usd, side=side, exchange=exchange))

    # --- any span, memory and history -----------------------------------------------------

    async def totals(
        self, window_s: int, asset: str | None = None, now_ms: int | None = None
    ) -> WindowTotals | None:
        """Return one window's totals (any window up to `history_s`) for the market or an
        asset; None if the asset is unknown."""
        index = None if asset is None else self._windows.asset_index(asset)
        if asset is not None and index is None:
            return None
        first, end = self._window_seconds(window_s, now_ms, limit=self.history_s)
        usd, count = await self._by_name(first, end)
        by_exchange_usd = usd.sum(axis=0) if index is None else usd[index]
        by_exchange_count = count.sum(axis=0) if index is None else count[index]
        return WindowTotals(
            window_s=window_s,
            end_ms=self._end_ms(now_ms),
            totals=side_totals(by_exchange_usd.sum(axis=0), by_exchange_count.sum(axis=0)),
            exchanges=self._exchanges(by_exchange_usd, by_exchange_count),
        )

    async def top(self, window_s: int, n: int = 10, now_ms: int | None = None) -> Leaderboard:
        """Return the top n assets of any window up to `history_s`."""
        if window_s in self._windows.windows_s:
            return self.leaderboard(window_s, n, now_ms)
        first, end = self._window_seconds(window_s, now_ms, limit=self.history_s)
        usd, count = await self._by_name(first, end)
        end_ms = self._end_ms(now_ms)
        return self._ranked_board(window_s, end_ms, usd.sum(axis=1), count.sum(axis=1), n)

    async def asset_volumes(self, window_s: int, now_ms: int | None = None) -> dict[str, float]:
        """Return the USD liquidated per asset (assets with events only) in any window up to
        `history_s` ending now."""
        if window_s in self._windows.tracked_s:
            return self.window_volumes(window_s, now_ms)
        first, end = self._window_seconds(window_s, now_ms, limit=self.history_s)
        usd, _ = await self._by_name(first, end)
        return volumes(self._windows.asset_names, usd.sum(axis=(1, 2)))

    async def period(self, start_ms: int, end_ms: int, top_n: int = 5) -> PeriodSummary:
        """Summarize [start_ms, end_ms) (edges to the second; older than memory, to the
        minute): totals, exchanges, top assets, largest, coverage."""
        usd, count = await self._by_name(-(-start_ms // 1000), -(-end_ms // 1000))
        per_asset_usd = usd.sum(axis=1)
        per_asset_count = count.sum(axis=1)
        largest = await self._ranges.largest(start_ms, end_ms, 1)
        return PeriodSummary(
            start_ms=start_ms,
            end_ms=end_ms,
            totals=side_totals(usd.sum(axis=(0, 1)), count.sum(axis=(0, 1))),
            exchanges=self._exchanges(usd.sum(axis=0), count.sum(axis=0)),
            longs=self._ranked(per_asset_usd[:, 0], per_asset_count[:, 0], top_n),
            shorts=self._ranked(per_asset_usd[:, 1], per_asset_count[:, 1], top_n),
            largest=largest[0] if largest else None,
            coverage=self._coverage.report(start_ms, end_ms),
        )

    async def series(
        self,
        window_s: int,
        asset: str | None = None,
        now_ms: int | None = None,
        buckets: int = DEFAULT_BUCKETS,
    ) -> Series:
        """Return liquidated USD per bucket, exchange and side over the window ending now.

        Windows held in memory (up to a day) end with the current second, buckets of
        `bucket_seconds(window_s, buckets)`; longer ones (up to `history_s`) end with the
        current hour, in whole-hour buckets (`history_bucket_seconds`). An asset never seen
        gives an empty series.
        """
        if not 0 < window_s <= self.history_s:
            raise ValueError(f"a chart window must be 1s to {self.history_s}s, not {window_s}s")
        end = self._end_ms(now_ms)
        end_sec = max(end, self._windows.clock_ms) // 1000 + 1
        if window_s <= self._windows.retention_s:
            return await self._series(
                end_sec - window_s, end_sec, bucket_seconds(window_s, buckets), asset
            )
        end_sec = -(-end_sec // HOUR_S) * HOUR_S
        span = -(-window_s // HOUR_S) * HOUR_S
        return await self._series(
            end_sec - span, end_sec, history_bucket_seconds(span, buckets), asset
        )

    async def period_series(
        self,
        start_ms: int,
        end_ms: int,
        asset: str | None = None,
        buckets: int = DEFAULT_BUCKETS,
    ) -> Series:
        """Return liquidated USD per bucket, exchange and side over [start_ms, end_ms) (edges to
        the second; reaching older than memory: to the hour, in whole-hour buckets)."""
        if end_ms - start_ms < 1000:
            raise ValueError("a series must span at least one second")
        first, end = -(-start_ms // 1000), -(-end_ms // 1000)
        if first < self._ranges.memory_from_sec and self._store is not None:
            first, end = first // HOUR_S * HOUR_S, -(-end // HOUR_S) * HOUR_S
            return await self._series(
                first, end, history_bucket_seconds(end - first, buckets), asset
            )
        return await self._series(first, end, bucket_seconds(end - first, buckets), asset)

    async def history(
        self, asset: str | None, since_ms: int, until_ms: int, interval_s: int
    ) -> Series:
        """Return liquidated USD per `interval_s` bucket over [since_ms, until_ms) (the web
        dashboard's history): edges to the second in memory; reaching older than memory,
        whole hours (the interval rounded up to hours)."""
        if interval_s <= 0 or until_ms - since_ms < 1000:
            raise ValueError("the interval and the span must be positive")
        first, end = -(-since_ms // 1000), -(-until_ms // 1000)
        if first < self._ranges.memory_from_sec and self._store is not None:
            first, end = first // HOUR_S * HOUR_S, -(-end // HOUR_S) * HOUR_S
            interval_s = -(-interval_s // HOUR_S) * HOUR_S
        return await self._series(first, end, interval_s, asset)

    # --- coverage and health --------------------------------------------------------------

    def coverage(self, start_ms: int, end_ms: int) -> tuple[FeedCoverage, ...]:
        """Return each feed's coverage of [start_ms, end_ms)."""
        return self._coverage.report(start_ms, end_ms)

    def window_coverage(self, window_s: int, now_ms: int | None = None) -> tuple[FeedCoverage, ...]:
        """Return each feed's coverage of the window ending now."""
        end = self._end_ms(now_ms)
        return self._coverage.report(end - window_s * 1000, end)

    def collecting_since(self, window_s: int, now_ms: int | None = None) -> int | None:
        """Return when the feeds began collecting if that is inside the window ending now (a
        fresh install: the window is not full yet), else None."""
        end = self._end_ms(now_ms)
        start = end - window_s * 1000
        began = [
            feed.gaps[0].end_ms if feed.gaps and feed.gaps[0].start_ms == start else start
            for feed in self._coverage.report(start, end)
            if feed.uptime_share > 0.0 or feed.connected
        ]
        since = min(began, default=start)
        return since if since > start else None

    def ingest_health(self) -> IngestHealth:
        """Return the ingest, database and backfill counters, the write backlog and file size."""
        store = self._store
        return IngestHealth(
            ingest=dataclasses.replace(self._windows.counters),
            store=StoreStats() if store is None else dataclasses.replace(store.stats),
            pending=0 if store is None else store.pending(),
            db_bytes=0 if store is None else store.db_bytes(),
            db_path=None if store is None else store.path,
            backfill=dataclasses.replace(self._backfill or BackfillStats()),
        )

    def average_prices(self, asset: str, now_ms: int | None = None) -> tuple[float | None, ...]:
        """Return an asset's USD-weighted average liquidation price in every configured window
        (None where it has no event), on the windows' second bounds."""
        end_sec = max(self._end_ms(now_ms), self._windows.clock_ms) // 1000
        starts = [(end_sec - w + 1) * 1000 for w in self._windows.windows_s]
        sums = self._windows.price_sums(asset, starts, (end_sec + 1) * 1000)
        return tuple(weighted / usd if usd > 0 else None for weighted, usd in sums)

    def _window_seconds(
        self, window_s: int, now_ms: int | None, limit: int | None = None
    ) -> tuple[int, int]:
        """Return [first, end) seconds of the window ending now (the windows' clamp)."""
        longest = self._windows.retention_s if limit is None else limit
        if not 0 < window_s <= longest:
            raise ValueError(f"a window must be 1s to {longest}s, not {window_s}s")
        end = max(self._end_ms(now_ms), self._windows.clock_ms) // 1000 + 1
        return end - window_s, end

    async def _by_name(self, first_sec: int, end_sec: int) -> tuple[FloatArray, IntArray]:
        usd, count = await self._ranges.key_sums(first_sec, end_sec)
        return self._windows.by_name(usd), self._windows.by_name(count)

    async def _series(self, first: int, end: int, bucket_s: int, asset: str | None) -> Series:
        usd, count = await self._ranges.series(first, end, bucket_s, asset)
        return series_of(self._windows.exchange_names, usd, count, (first, end, bucket_s), asset)

    def _window_position(self, window_s: int) -> int:
        if window_s not in self._windows.windows_s:
            raise ValueError(f"{window_s}s is not a configured window ({self._windows.windows_s})")
        return self._windows.windows_s.index(window_s)

    def _window_totals(self, asset: int | None, now_ms: int | None) -> tuple[WindowTotals, ...]:
        end = self._end_ms(now_ms)
        view = self._windows.totals_view(end)
        if asset is None:
            by_exchange_usd, by_exchange_count = view.exchange_usd, view.exchange_count
            usd, count = view.market_usd.tolist(), view.market_count.tolist()
        else:
            by_exchange_usd, by_exchange_count = view.of_asset(asset)
            usd, count = view.asset_usd[:, asset].tolist(), view.asset_count[:, asset].tolist()
        return tuple(
            WindowTotals(
                window_s=window,
                end_ms=end,
                totals=side_totals(usd[w], count[w]),
                exchanges=self._exchanges(by_exchange_usd[w], by_exchange_count[w]),
            )
            for w, window in enumerate(self._windows.windows_s)
        )

    def _ranked_board(
        self, window_s: int, end_ms: int, usd: FloatArray, count: IntArray, n: int
    ) -> Leaderboard:
        """Rank assets from (assets, 2) totals."""
        return Leaderboard(
            window_s=window_s,
            end_ms=end_ms,
            longs=self._ranked(usd[:, 0], count[:, 0], n),
            shorts=self._ranked(usd[:, 1], count[:, 1], n),
        )

    def _exchanges(self, usd: FloatArray, count: IntArray) -> tuple[ExchangeTotals, ...]:
        return exchanges_of(self._windows.exchange_names, usd, count)

    def _ranked(self, usd: FloatArray, count: IntArray, n: int) -> tuple[RankedAsset, ...]:
        return ranked(self._windows.asset_names, usd, count, n)
