"""Count what each feed did and remember when it was up or down."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from collectors.record import Coverage


@dataclass(frozen=True, slots=True)
class FeedInterval:
    """A span during which a feed was connected (`up`) or not; `end_ms` is None while open."""

    up: bool
    start_ms: int
    end_ms: int | None


@dataclass(slots=True)
class FeedStats:
    """Counters and up/down history of one feed."""

    feed_id: str
    coverage: Coverage
    frames: int = 0
    control_frames: int = 0
    events: int = 0
    duplicates: int = 0
    bad_frames: int = 0
    rejected_events: int = 0
    unknown_instrument_events: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    rotations: int = 0
    connected: bool = False
    last_frame_ms: int | None = None
    last_event_ms: int | None = None
    last_error: str = ""
    # Why the feed runs on older metadata than it fetched (a body it could not read); "" if not.
    degraded: str = ""
    intervals: deque[FeedInterval] = field(default_factory=lambda: deque(maxlen=1000))

    def set_degraded(self, reason: str) -> None:
        """Mark the feed degraded for `reason`, or healthy again with ""."""
        self.degraded = reason

    def transition(self, up: bool, ts_ms: int) -> None:
        """Close the open interval and open one of the given kind."""
        if self.intervals and self.intervals[-1].end_ms is None:
            last = self.intervals.pop()
            self.intervals.append(FeedInterval(last.up, last.start_ms, ts_ms))
        self.intervals.append(FeedInterval(up, ts_ms, None))
        self.connected = up

    def uptime_ms(self, start_ms: int, end_ms: int) -> int:
        """Return how long the feed was up within [start_ms, end_ms)."""
        total = 0
        for interval in self.intervals:
            if interval.up:
                stop = end_ms if interval.end_ms is None else min(end_ms, interval.end_ms)
                total += max(0, stop - max(start_ms, interval.start_ms))
        return total
