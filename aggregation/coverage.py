"""Track when each feed was up, and report for any window how complete its data is."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from collectors.record import Coverage

# Gaps shorter than this (a quick reconnect) are counted in the uptime share but not listed.
MIN_LISTED_GAP_MS = 1_000


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """A feed as coverage needs to know it."""

    feed_id: str
    exchange: str
    coverage: Coverage


@dataclass(frozen=True, slots=True)
class Gap:
    """A span without data from a feed; `backfilled` if the exchange's history filled it."""

    start_ms: int
    end_ms: int
    backfilled: bool


@dataclass(frozen=True, slots=True)
class FeedCoverage:
    """How complete one feed's data is over a window."""

    feed_id: str
    exchange: str
    coverage: Coverage  # throttled (a lower bound), partial or complete when up
    uptime_share: float  # 0..1 of the window the feed was connected
    down_ms: int
    gaps: tuple[Gap, ...]  # gaps of at least the tracker's min_listed_gap_ms, oldest first
    connected: bool  # up at the end of the window

    @property
    def backfilled_ms(self) -> int:
        """Return how much of the down time was filled from the exchange's history."""
        return sum(g.end_ms - g.start_ms for g in self.gaps if g.backfilled)


class CoverageTracker:
    """Keep up intervals and backfill marks per feed; pure, in memory."""

    def __init__(
        self, feeds: Sequence[FeedInfo], *, min_listed_gap_ms: int = MIN_LISTED_GAP_MS
    ) -> None:
        self.feeds = {feed.feed_id: feed for feed in feeds}
        self.min_listed_gap_ms = min_listed_gap_ms
        self._up: dict[str, list[list[int | None]]] = {feed.feed_id: [] for feed in feeds}
        self._backfills: dict[str, list[tuple[int, int]]] = {f.feed_id: [] for f in feeds}

    def feed_state(self, feed_id: str, up: bool, ts_ms: int) -> None:
        """Record a transition: an up opens an interval, a down closes the open one."""
        intervals = self._up.setdefault(feed_id, [])
        is_open = bool(intervals) and intervals[-1][1] is None
        if up and not is_open:
            intervals.append([ts_ms, None])
        elif not up and is_open:
            intervals[-1][1] = max(ts_ms, _start(intervals[-1]))

    def mark_backfilled(self, feed_id: str, start_ms: int, end_ms: int) -> None:
        """Record that the exchange's history filled [start_ms, end_ms) of a feed's gap."""
        self._backfills.setdefault(feed_id, []).append((start_ms, end_ms))

    def load(
        self,
        intervals: Iterable[tuple[str, bool, int, int | None]],
        backfills: Iterable[tuple[str, int, int]],
    ) -> None:
        """Install stored history: (feed_id, up, start_ms, end_ms) and (feed_id, start, end)."""
        for feed_id, up, start_ms, end_ms in sorted(intervals, key=lambda i: (i[0], i[2])):
            if up:
                self._up.setdefault(feed_id, []).append([start_ms, end_ms])
        for feed_id, start_ms, end_ms in backfills:
            self.mark_backfilled(feed_id, start_ms, end_ms)

    def last_down_start(self, feed_id: str, before_ms: int) -> int | None:
        """Return when the feed last went down before `before_ms` (end of its last up span)."""
        ends = [
            end for start, end in self._up.get(feed_id, []) if end is not None and end <= before_ms
        ]
        return max(ends) if ends else None

    def report(self, start_ms: int, end_ms: int) -> tuple[FeedCoverage, ...]:
        """Return each configured feed's coverage of [start_ms, end_ms)."""
        span = max(1, end_ms - start_ms)
        result = []
        for feed_id, feed in self.feeds.items():
            covered = []
            for interval in self._up.get(feed_id, []):
                lo = max(start_ms, _start(interval))
                hi = min(end_ms, end_ms if interval[1] is None else interval[1])
                if hi > lo:
                    covered.append((lo, hi))
            covered.sort()
            merged: list[tuple[int, int]] = []
            for lo, hi in covered:
                if merged and lo <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
                else:
                    merged.append((lo, hi))
            uptime = sum(hi - lo for lo, hi in merged)
            holes = []
            cursor = start_ms
            for lo, hi in merged:
                if lo > cursor:
                    holes.append((cursor, lo))
                cursor = hi
            if cursor < end_ms:
                holes.append((cursor, end_ms))
            fills = self._backfills.get(feed_id, [])
            gaps = tuple(
                Gap(lo, hi, any(f_lo <= lo and hi <= f_hi for f_lo, f_hi in fills))
                for lo, hi in holes
                if hi - lo >= self.min_listed_gap_ms
            )
            intervals = self._up.get(feed_id, [])
            connected = bool(intervals) and intervals[-1][1] is None
            result.append(
                FeedCoverage(
                    feed_id=feed_id,
                    exchange=feed.exchange,
                    coverage=feed.coverage,
                    uptime_share=uptime / span,
                    down_ms=span - uptime,
                    gaps=gaps,
                    connected=connected,
                )
            )
        return tuple(result)


def _start(interval: list[int | None]) -> int:
    start = interval[0]
    assert start is not None
    return start
