"""Read stored raw events: a span's events, the recent ones, and a rule's backtest.

Memory keeps buckets, not events, so raw events always come from the database (async).
"""

from __future__ import annotations

from collections.abc import Callable

from aggregation.ranges import Ranges
from aggregation.results import BACKTEST_LIMIT, Backtest
from aggregation.windows import WindowStore
from collectors.record import Liquidation, Side

EVENTS_LIMIT = 100_000


class EventReads:
    """The raw-event reads of `LiquidationQueries`."""

    _windows: WindowStore
    _ranges: Ranges
    _clock: Callable[[], int]

    def now_ms(self) -> int:
        """Return the time queries are answered at."""
        return max(self._clock(), self._windows.clock_ms)

    def _end_ms(self, now_ms: int | None) -> int:
        return self.now_ms() if now_ms is None else now_ms

    async def events_between(
        self,
        start_ms: int,
        end_ms: int,
        *,
        min_usd: float = 0.0,
        limit: int = EVENTS_LIMIT,
        assets: frozenset[str] = frozenset(),
        side: Side | None = None,
        exchanges: frozenset[str] = frozenset(),
    ) -> tuple[Liquidation, ...]:
        """Return the stored events of [start_ms, end_ms) of at least min_usd, oldest first
        (at most `limit`, the newest kept); only of `assets`, `side` and `exchanges` if given
        (empty: any), chosen before the limit applies."""
        return tuple(
            await self._ranges.events_between(
                start_ms, end_ms, min_usd, limit, assets=assets, side=side, exchanges=exchanges
            )
        )

    async def recent_events(
        self, span_s: int, *, min_usd: float = 0.0, now_ms: int | None = None
    ) -> tuple[Liquidation, ...]:
        """Return the stored events of the last `span_s` of at least min_usd, oldest first."""
        end = self._end_ms(now_ms) + 1
        return await self.events_between(end - span_s * 1000, end, min_usd=min_usd)

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
        events read (in the database) before `match` sees them.
        """
        end = self._end_ms(now_ms) + 1
        start = end - span_s * 1000
        events = await self.events_between(
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
