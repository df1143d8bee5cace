"""Turn the typed query results into the API's JSON shapes (shared by the API and the stream)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aggregation.query import LiquidationQueries, Series
from bot.web import schema
from bot.web.health import FeedHealth
from bot.web.stream import TapeFilter
from collectors.record import Liquidation, Side

DAY_S = 86_400
TOP_DEFAULT = 10
LARGEST = 10
LARGEST_REQUERY_MS = 60_000


class Largest:
    """The largest liquidations of the last 24 h, kept up from the live events.

    A full query scans a day of events (about 18 ms); once a second for the snapshot that
    adds up. The top k of the day is the previous top k plus the new events, until one of
    them leaves the day: then, and every minute (backfilled history does not pass by the
    listener), it is queried again.
    """

    def __init__(self, queries: LiquidationQueries, k: int = LARGEST) -> None:
        self._queries = queries
        self._k = k
        self._top: list[Liquidation] | None = None
        self._queried_ms = 0
        self._new: list[Liquidation] = []

    def offer(self, record: Liquidation) -> None:
        """Note a new event (the ingest listener calls this)."""
        top = self._top
        if top is not None and (len(top) < self._k or record.notional_usd > top[-1].notional_usd):
            self._new.append(record)

    def get(self, now_ms: int) -> list[Liquidation]:
        """Return the k largest of the day ending now, largest first."""
        end_sec = now_ms // 1000
        start, end = (end_sec - DAY_S + 1) * 1000, (end_sec + 1) * 1000
        top = self._top
        if (
            top is None
            or now_ms - self._queried_ms >= LARGEST_REQUERY_MS
            or any(r.ts_ms < start for r in top)
        ):
            top = list(self._queries.largest(DAY_S, self._k, now_ms))
            self._queried_ms = now_ms
        else:
            fresh = [r for r in self._new if start <= r.ts_ms < end]
            top = sorted(top + fresh, key=lambda r: -r.notional_usd)[: self._k]
        self._top, self._new = top, []
        return top


def window_name(seconds: int) -> str:
    """Return the short name of a window: 180 -> 3m, 3600 -> 1h, 86400 -> 24h, 90 -> 90s."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


class Views:
    """Answer each API question from the queries and the feeds' health."""

    def __init__(
        self,
        queries: LiquidationQueries,
        health: Callable[[], Sequence[FeedHealth]],
        clock: Callable[[], int],
        started_ms: int,
    ) -> None:
        self.queries = queries
        self._health = health
        self._clock = clock
        self.started_ms = started_ms
        self.names = {window_name(w): w for w in queries.windows_s}
        self.largest = Largest(queries)

    def window_s(self, name: str | None, default: int | None = None) -> int:
        """Return the seconds of a configured window name; raise ValueError naming the choices."""
        if name is None or not name.strip():
            if default is not None:
                return default
            raise ValueError(f"give a window: {', '.join(self.names)}")
        seconds = self.names.get(name.strip().lower())
        if seconds is None:
            raise ValueError(f"unknown window {name[:20]!r}; choose from {', '.join(self.names)}")
        return seconds

    def windows(self, symbol: str | None) -> schema.Windows:
        """Return every window's totals (of one asset if given)."""
        now = self.queries.now_ms()
        rows = self.queries.market(now) if symbol is None else self.queries.asset(symbol, now)
        prices: tuple[float | None, ...] = ()
        if symbol is not None:
            prices = self.queries.average_prices(symbol, now)
        windows = []
        for index, window_s in enumerate(self.queries.windows_s):
            totals = rows[index].totals if rows else None
            exchanges = rows[index].exchanges if rows else ()
            windows.append(
                schema.Window(
                    window=window_name(window_s),
                    window_s=window_s,
                    long_usd=totals.long_usd if totals else 0.0,
                    short_usd=totals.short_usd if totals else 0.0,
                    long_count=totals.long_count if totals else 0,
                    short_count=totals.short_count if totals else 0,
                    by_exchange={
                        e.exchange: schema.Sides(
                            e.totals.long_usd,
                            e.totals.short_usd,
                            e.totals.long_count,
                            e.totals.short_count,
                        )
                        for e in sorted(exchanges, key=lambda e: e.exchange)
                    },
                    uptime={
                        c.feed_id: round(c.uptime_share, 4)
                        for c in self.queries.window_coverage(window_s, now)
                    },
                    avg_price=prices[index] if prices else None,
                )
            )
        return schema.Windows(as_of_ms=now, symbol=symbol, windows=windows)

    def top(self, window_s: int, limit: int = TOP_DEFAULT) -> schema.Top:
        """Return the most liquidated assets of a configured window."""
        board = self.queries.leaderboard(window_s, limit)
        return schema.Top(
            window=window_name(window_s),
            as_of_ms=board.end_ms,
            long=[schema.Ranked(a.asset, a.usd, a.count) for a in board.longs],
            short=[schema.Ranked(a.asset, a.usd, a.count) for a in board.shorts],
        )

    def latest(self, limit: int, wanted: TapeFilter) -> schema.Latest:
        """Return the newest events that pass a filter, newest first."""
        records = self.queries.latest(
            limit,
            wanted.symbol,
            wanted.min_usd,
            side=None if wanted.side is None else Side(wanted.side),
            exchange=wanted.exchange,
        )
        return schema.Latest([schema.event_of(r) for r in records])

    def health(self) -> schema.Health:
        """Return each feed's health."""
        now = self._clock()
        return schema.Health(now, [self._feed(f, now) for f in self._health()])

    def _feed(self, feed: FeedHealth, now: int) -> schema.Feed:
        return schema.Feed(
            feed=feed.feed_id,
            exchange=feed.exchange,
            coverage=feed.coverage,
            connected=feed.connected,
            healthy=feed.healthy(now, self.started_ms),
            last_event_ms=feed.last_event_ms,
            last_frame_ms=feed.last_frame_ms,
            silence_timeout_s=feed.silence_timeout_s,
            events=feed.events,
            bad_frames=feed.bad_frames,
            reconnects=feed.reconnects,
        )

    def problems(self) -> list[str]:
        """Return why the process is unhealthy: one reason per silent feed (empty: healthy)."""
        now = self._clock()
        return [
            f"{f.feed_id}: nothing received for {f.silent_ms(now, self.started_ms) // 1000}s "
            f"(limit {f.silence_timeout_s:.0f}s)"
            for f in self._health()
            if not f.healthy(now, self.started_ms)
        ]

    async def history(
        self, symbol: str | None, since_ms: int, until_ms: int, interval_s: int
    ) -> schema.Series:
        """Return liquidated USD per interval over [since_ms, until_ms) from the rollups."""
        series = await self.queries.history(symbol, since_ms, until_ms, interval_s)
        return self._series(window_name((until_ms - since_ms) // 1000), symbol, series)

    async def series(self, window_s: int, symbol: str | None) -> schema.Series:
        """Return liquidated USD per bucket of a window, per exchange and side, with gaps."""
        series = await self.queries.series(window_s, symbol)
        return self._series(window_name(window_s), symbol, series)

    def _series(self, window: str, symbol: str | None, series: Series) -> schema.Series:
        gaps = [
            schema.Gap(c.feed_id, c.exchange, g.start_ms, g.end_ms, g.backfilled)
            for c in self.queries.coverage(series.start_ms, series.end_ms)
            for g in c.gaps
        ]
        return schema.Series(
            window=window,
            symbol=symbol,
            start_ms=series.start_ms,
            end_ms=series.end_ms,
            bucket_s=series.bucket_s,
            edges_ms=list(series.edges_ms),
            exchanges=list(series.exchanges),
            long_usd=[list(row) for row in series.long_usd],
            short_usd=[list(row) for row in series.short_usd],
            gaps=gaps,
        )

    def snapshot(self) -> schema.Snapshot:
        """Return what every page gets once a second."""
        market = self.windows(None)
        return schema.Snapshot(
            as_of_ms=market.as_of_ms,
            windows=market.windows,
            top={window_name(w): self.top(w) for w in self.queries.windows_s},
            largest=[schema.event_of(r) for r in self.largest.get(market.as_of_ms)],
            health=self.health().feeds,
        )
