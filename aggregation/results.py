"""The typed results of the read API (`aggregation.query`): totals, rankings, series, health."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aggregation.backfill import BackfillStats
from aggregation.coverage import FeedCoverage
from aggregation.windows import IngestCounters
from aggregation.writes import StoreStats
from collectors.record import Liquidation


@dataclass(frozen=True, slots=True)
class SideTotals:
    """Liquidated USD and event counts, long and short."""

    long_usd: float
    short_usd: float
    long_count: int
    short_count: int

    @property
    def total_usd(self) -> float:
        """Return long plus short USD."""
        return self.long_usd + self.short_usd

    @property
    def count(self) -> int:
        """Return long plus short events."""
        return self.long_count + self.short_count


EMPTY = SideTotals(0.0, 0.0, 0, 0)


@dataclass(frozen=True, slots=True)
class ExchangeTotals:
    """One exchange's totals."""

    exchange: str
    totals: SideTotals


@dataclass(frozen=True, slots=True)
class WindowTotals:
    """Totals of one rolling window ending at `end_ms`, overall and per exchange."""

    window_s: int
    end_ms: int
    totals: SideTotals
    exchanges: tuple[ExchangeTotals, ...]  # exchanges with events, largest first


@dataclass(frozen=True, slots=True)
class RankedAsset:
    """An asset on a leaderboard."""

    asset: str
    usd: float
    count: int


@dataclass(frozen=True, slots=True)
class Leaderboard:
    """The most-liquidated assets of a window, on each side."""

    window_s: int
    end_ms: int
    longs: tuple[RankedAsset, ...]
    shorts: tuple[RankedAsset, ...]


@dataclass(frozen=True, slots=True)
class AssetTotals:
    """One asset's totals in a window."""

    asset: str
    totals: SideTotals


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    """Everything a scheduled summary reports for [start_ms, end_ms)."""

    start_ms: int
    end_ms: int
    totals: SideTotals
    exchanges: tuple[ExchangeTotals, ...]
    longs: tuple[RankedAsset, ...]
    shorts: tuple[RankedAsset, ...]
    largest: Liquidation | None
    coverage: tuple[FeedCoverage, ...]


# Bucket lengths a chart may use: round steps that divide a minute, an hour or a day.
BUCKET_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600,
                  7200, 10800, 21600, 43200)  # fmt: skip
DEFAULT_BUCKETS = 60
HOUR_S = 3600


def bucket_seconds(span_s: int, buckets: int = DEFAULT_BUCKETS) -> int:
    """Return the shortest step of BUCKET_STEPS_S that cuts span_s into at most `buckets`."""
    if span_s <= 0 or buckets <= 0:
        raise ValueError("the span and the number of buckets must be positive")
    for step in BUCKET_STEPS_S:
        if -(-span_s // step) <= buckets:
            return step
    return -(-span_s // buckets)


def history_bucket_seconds(span_s: int, buckets: int = DEFAULT_BUCKETS) -> int:
    """Return the shortest whole-hour step of BUCKET_STEPS_S that cuts span_s into at most
    `buckets` (past the longest, span_s / buckets rounded up to whole hours)."""
    if span_s <= 0 or buckets <= 0:
        raise ValueError("the span and the number of buckets must be positive")
    for step in BUCKET_STEPS_S:
        if step % HOUR_S == 0 and -(-span_s // step) <= buckets:
            return step
    per_bucket = -(-span_s // buckets)
    return -(-per_bucket // HOUR_S) * HOUR_S


@dataclass(frozen=True, slots=True)
class Series:
    """Liquidated USD per time bucket, exchange and side over [start_ms, end_ms).

    Buckets end at `end_ms` and are `bucket_s` long; only the oldest can be shorter (when
    `bucket_s` does not divide the span): `edges_ms` gives the exact bounds.
    `long_usd[e][b]` is exchange `exchanges[e]`'s long-liquidated USD in bucket b.
    """

    start_ms: int
    end_ms: int
    bucket_s: int
    asset: str | None  # None: every asset
    exchanges: tuple[str, ...]  # exchanges with events in the span, by name
    long_usd: tuple[tuple[float, ...], ...]
    short_usd: tuple[tuple[float, ...], ...]
    totals: SideTotals

    @property
    def buckets(self) -> int:
        """Return the number of buckets."""
        return -(-(self.end_ms - self.start_ms) // (self.bucket_s * 1000))

    @property
    def span_s(self) -> int:
        """Return the covered seconds (the window length)."""
        return (self.end_ms - self.start_ms) // 1000

    @property
    def edges_ms(self) -> tuple[int, ...]:
        """Return the buckets + 1 bucket bounds, oldest first (the first is start_ms)."""
        n, step = self.buckets, self.bucket_s * 1000
        return (self.start_ms, *(self.end_ms - (n - i) * step for i in range(1, n + 1)))


@dataclass(frozen=True, slots=True)
class IngestHealth:
    """How ingest is doing: the windows', the database writer's and the gap backfills' counters.

    The counters are copies taken when asked.
    """

    ingest: IngestCounters
    store: StoreStats
    pending: int  # items waiting for the next database flush
    db_bytes: int  # the database file and its WAL
    db_path: Path | None  # None: no database behind these queries
    backfill: BackfillStats


BACKTEST_LIMIT = 1_000_000  # events read per backtest at most (a day of a busy market)


@dataclass(frozen=True, slots=True)
class Backtest:
    """How often a filter would have fired over the stored events of a span."""

    count: int
    largest_usd: float  # 0.0 when count is 0
    span_s: int
    has_events: bool  # any event at all was stored in the span (else there is no history)
