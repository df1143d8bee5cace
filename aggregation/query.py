"""Answer the bot's questions about liquidations with typed results: the only read API.

Every type the bot reads is re-exported here (`__all__`), so the bot imports nothing else from
aggregation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

import collectors.clock
from aggregation.backfill import BackfillStats
from aggregation.coverage import CoverageTracker, FeedCoverage, Gap
from aggregation.events import MAX_EXCHANGES, FloatArray, IntArray

# Re-exported: the bot reads stored events for its CSV export through this module.
from aggregation.export import EXPORT_COLUMNS, ExportRow, export_rows
from aggregation.results import (
    BACKTEST_LIMIT,
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
)
from aggregation.store import LiquidationStore, StoreStats
from aggregation.windows import IngestCounters, WindowStore
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
]


class LiquidationQueries:
    """Read windows, leaderboards, latest and largest events, coverage and ingest health."""

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

    @property
    def windows_s(self) -> tuple[int, ...]:
        """Return the configured windows, shortest first."""
        return self._windows.windows_s

    def now_ms(self) -> int:
        """Return the time queries are answered at."""
        return max(self._clock(), self._windows.clock_ms)

    def assets(self) -> tuple[str, ...]:
        """Return every asset name seen (in memory), sorted."""
        return tuple(sorted(self._windows.asset_names))

    def market(self, now_ms: int | None = None) -> tuple[WindowTotals, ...]:
        """Return every window's market-wide totals."""
        return self._window_totals(None, now_ms)

    def asset(self, asset: str, now_ms: int | None = None) -> tuple[WindowTotals, ...] | None:
        """Return every window's totals for one asset, or None if the asset is unknown."""
        index = self._windows.asset_index(asset)
        if index is None:
            return None
        return self._window_totals(index, now_ms)

    def leaderboard(self, window_s: int, n: int = 10, now_ms: int | None = None) -> Leaderboard:
        """Return the top n assets by long- and short-liquidated USD in a configured window."""
        w = self._window_position(window_s)
        end = self.now_ms() if now_ms is None else now_ms
        usd, count = self._windows.totals(end)
        per_asset_usd = usd[w].sum(axis=1)  # (assets, 2)
        per_asset_count = count[w].sum(axis=1)
        return Leaderboard(
            window_s=window_s,
            end_ms=end,
            longs=self._ranked(per_asset_usd[:, 0], per_asset_count[:, 0], n),
            shorts=self._ranked(per_asset_usd[:, 1], per_asset_count[:, 1], n),
        )

    def asset_table(self, window_s: int, now_ms: int | None = None) -> tuple[AssetTotals, ...]:
        """Return every asset with events in a configured window, largest total first."""
        w = self._window_position(window_s)
        usd, count = self._windows.totals(self.now_ms() if now_ms is None else now_ms)
        per_asset_usd = usd[w].sum(axis=1)
        per_asset_count = count[w].sum(axis=1)
        active = np.flatnonzero(per_asset_count.sum(axis=1))
        order = active[np.argsort(-per_asset_usd[active].sum(axis=1), kind="stable")]
        names = self._windows.asset_names
        return tuple(
            AssetTotals(names[a], _side_totals(per_asset_usd[a], per_asset_count[a]))
            for a in order.tolist()
        )

    def asset_volumes(self, window_s: int, now_ms: int | None = None) -> dict[str, float]:
        """Return the USD liquidated per asset (assets with events only) in the window ending now.

        Any window up to the retention works: a configured one costs a lookup per asset, any
        other scans its events once for every asset.
        """
        end = self.now_ms() if now_ms is None else now_ms
        if window_s in self._windows.windows_s:
            w = self._window_position(window_s)
            per_asset = self._windows.totals(end)[0][w].sum(axis=(1, 2))
        else:
            if not 0 < window_s <= self._windows.retention_s:
                raise ValueError(f"a window must be 1s to {self._windows.retention_s}s")
            end_sec = max(end, self._windows.clock_ms) // 1000
            start_ms = (end_sec - window_s + 1) * 1000
            per_asset = self._windows.range_totals(start_ms, (end_sec + 1) * 1000)[0].sum(
                axis=(1, 2)
            )
        names = self._windows.asset_names
        return {names[a]: float(per_asset[a]) for a in np.flatnonzero(per_asset).tolist()}

    def largest(
        self, window_s: int, k: int = 5, now_ms: int | None = None
    ) -> tuple[Liquidation, ...]:
        """Return the k largest single liquidations of a window, largest first."""
        end = self.now_ms() if now_ms is None else now_ms
        end_sec = max(end, self._windows.clock_ms) // 1000
        start_ms = (end_sec - window_s + 1) * 1000
        return tuple(self._windows.largest(start_ms, (end_sec + 1) * 1000, k))

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

    def events_between(
        self, start_ms: int, end_ms: int, *, min_usd: float = 0.0
    ) -> tuple[Liquidation, ...]:
        """Return the events of [start_ms, end_ms) of at least min_usd, oldest first."""
        return tuple(self._windows.events_between(start_ms, end_ms, min_usd=min_usd))

    async def backtest(
        self,
        span_s: int,
        match: Callable[[Liquidation], bool],
        *,
        min_usd: float = 0.0,
        assets: frozenset[str] = frozenset(),
        side: Side | None = None,
        exchanges: frozenset[str] = frozenset(),
        now_ms: int | None = None,
    ) -> Backtest:
        """Count the stored events of the last `span_s` that `match` accepts, and the largest.

        `min_usd`, `assets` (empty: any), `side` and `exchanges` (empty: any) narrow the
        events read before `match` sees them. Async: raw events may come from the database.
        """
        end = (self.now_ms() if now_ms is None else now_ms) + 1
        start = end - span_s * 1000
        events = self._windows.events_between(
            start,
            end,
            min_usd=min_usd,
            limit=BACKTEST_LIMIT,
            assets=assets,
            side=side,
            exchanges=exchanges,
        )
        hits = [record.notional_usd for record in events if match(record)]
        newest = self._windows.latest(1)
        has_events = bool(newest) and newest[0].ts_ms >= start
        return Backtest(len(hits), max(hits, default=0.0), span_s, has_events)

    def period(self, start_ms: int, end_ms: int, top_n: int = 5) -> PeriodSummary:
        """Summarize [start_ms, end_ms): totals, exchanges, top assets, largest, coverage."""
        usd, count = self._windows.range_totals(start_ms, end_ms)
        per_asset_usd = usd.sum(axis=1)
        per_asset_count = count.sum(axis=1)
        largest = self._windows.largest(start_ms, end_ms, 1)
        return PeriodSummary(
            start_ms=start_ms,
            end_ms=end_ms,
            totals=_side_totals(usd.sum(axis=(0, 1)), count.sum(axis=(0, 1))),
            exchanges=self._exchanges(usd.sum(axis=0), count.sum(axis=0)),
            longs=self._ranked(per_asset_usd[:, 0], per_asset_count[:, 0], top_n),
            shorts=self._ranked(per_asset_usd[:, 1], per_asset_count[:, 1], top_n),
            largest=largest[0] if largest else None,
            coverage=self._coverage.report(start_ms, end_ms),
        )

    def series(
        self,
        window_s: int,
        asset: str | None = None,
        now_ms: int | None = None,
        buckets: int = DEFAULT_BUCKETS,
    ) -> Series:
        """Return liquidated USD per bucket, exchange and side over the window ending now.

        Any window from 1 s up to the store's retention (at least 24 h) works, configured or
        not; the bucket length is `bucket_seconds(window_s, buckets)`. An asset never seen
        gives an empty series.
        """
        if not 0 < window_s <= self._windows.retention_s:
            raise ValueError(
                f"a chart window must be 1s to {self._windows.retention_s}s, not {window_s}s"
            )
        end = self.now_ms() if now_ms is None else now_ms
        # The same clamp as the window totals: they never go back before the newest event.
        end_sec = max(end, self._windows.clock_ms) // 1000
        start_ms = (end_sec - window_s + 1) * 1000
        return self.period_series(start_ms, (end_sec + 1) * 1000, asset, buckets)

    def period_series(
        self,
        start_ms: int,
        end_ms: int,
        asset: str | None = None,
        buckets: int = DEFAULT_BUCKETS,
    ) -> Series:
        """Return liquidated USD per bucket, exchange and side over [start_ms, end_ms)."""
        if end_ms - start_ms < 1000:
            raise ValueError("a series must span at least one second")
        bucket_s = bucket_seconds(-(-(end_ms - start_ms) // 1000), buckets)
        index = None if asset is None else self._windows.asset_index(asset)
        if asset is not None and index is None:  # never seen: nothing to scan
            n = -(-(end_ms - start_ms) // (bucket_s * 1000))
            usd: FloatArray = np.zeros((n, MAX_EXCHANGES, 2))
            count: IntArray = np.zeros((n, MAX_EXCHANGES, 2), dtype=np.int64)
        else:
            usd, count = self._windows.range_series(start_ms, end_ms, bucket_s * 1000, index)
        names = self._windows.exchange_names
        active = sorted((names[e], e) for e in range(len(names)) if count[:, e].sum() > 0)
        return Series(
            start_ms=start_ms,
            end_ms=end_ms,
            bucket_s=bucket_s,
            asset=asset,
            exchanges=tuple(name for name, _ in active),
            long_usd=tuple(tuple(usd[:, e, 0].tolist()) for _, e in active),
            short_usd=tuple(tuple(usd[:, e, 1].tolist()) for _, e in active),
            totals=_side_totals(usd.sum(axis=(0, 1)), count.sum(axis=(0, 1))),
        )

    def coverage(self, start_ms: int, end_ms: int) -> tuple[FeedCoverage, ...]:
        """Return each feed's coverage of [start_ms, end_ms)."""
        return self._coverage.report(start_ms, end_ms)

    def window_coverage(self, window_s: int, now_ms: int | None = None) -> tuple[FeedCoverage, ...]:
        """Return each feed's coverage of the window ending now."""
        end = self.now_ms() if now_ms is None else now_ms
        return self._coverage.report(end - window_s * 1000, end)

    async def recent_events(
        self, span_s: int, *, min_usd: float = 0.0, now_ms: int | None = None
    ) -> tuple[Liquidation, ...]:
        """Return the stored events of the last `span_s` of at least min_usd, oldest first
        (async: raw events may come from the database)."""
        end = (self.now_ms() if now_ms is None else now_ms) + 1
        return tuple(self._windows.events_between(end - span_s * 1000, end, min_usd=min_usd))

    def collecting_since(self, window_s: int, now_ms: int | None = None) -> int | None:
        """Return when the feeds began collecting if that is inside the window ending now (a
        fresh install: the window is not full yet), else None."""
        end = self.now_ms() if now_ms is None else now_ms
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
        end = self.now_ms() if now_ms is None else now_ms
        end_sec = max(end, self._windows.clock_ms) // 1000
        starts = [(end_sec - w + 1) * 1000 for w in self._windows.windows_s]
        sums = self._windows.price_sums(asset, starts, (end_sec + 1) * 1000)
        return tuple(weighted / usd if usd > 0 else None for weighted, usd in sums)

    # --- helpers --------------------------------------------------------------------------

    def _window_position(self, window_s: int) -> int:
        try:
            return self._windows.windows_s.index(window_s)
        except ValueError:
            raise ValueError(
                f"{window_s}s is not a configured window ({self._windows.windows_s})"
            ) from None

    def _window_totals(self, asset: int | None, now_ms: int | None) -> tuple[WindowTotals, ...]:
        end = self.now_ms() if now_ms is None else now_ms
        usd, count = self._windows.totals(end)
        if asset is None:
            by_exchange_usd = usd.sum(axis=1)  # (windows, exchanges, 2)
            by_exchange_count = count.sum(axis=1)
        else:
            by_exchange_usd = usd[:, asset]
            by_exchange_count = count[:, asset]
        return tuple(
            WindowTotals(
                window_s=window,
                end_ms=end,
                totals=_side_totals(
                    by_exchange_usd[w].sum(axis=0), by_exchange_count[w].sum(axis=0)
                ),
                exchanges=self._exchanges(by_exchange_usd[w], by_exchange_count[w]),
            )
            for w, window in enumerate(self._windows.windows_s)
        )

    def _exchanges(self, usd: FloatArray, count: IntArray) -> tuple[ExchangeTotals, ...]:
        """usd/count shaped (MAX_EXCHANGES, 2) -> exchanges with events, largest first."""
        names = self._windows.exchange_names
        rows = [
            ExchangeTotals(names[e], _side_totals(usd[e], count[e]))
            for e in range(min(len(names), MAX_EXCHANGES))
            if count[e].sum() > 0
        ]
        rows.sort(key=lambda row: -row.totals.total_usd)
        return tuple(rows)

    def _ranked(self, usd: FloatArray, count: IntArray, n: int) -> tuple[RankedAsset, ...]:
        active = np.flatnonzero(count)
        if len(active) == 0 or n <= 0:
            return ()
        top = active[np.argpartition(-usd[active], n - 1)[:n]] if len(active) > n else active
        order = top[np.lexsort((top, -usd[top]))]
        names = self._windows.asset_names
        return tuple(RankedAsset(names[a], float(usd[a]), int(count[a])) for a in order.tolist())


def _side_totals(usd: FloatArray, count: IntArray) -> SideTotals:
    return SideTotals(float(usd[0]), float(usd[1]), int(count[0]), int(count[1]))
