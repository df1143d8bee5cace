"""Turn raw frames into records for one feed: parse, drop duplicates, count, log."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Hashable
from typing import Protocol

from collectors.feed import Feed
from collectors.parsing import FrameError, Parsed, Rejection, truncate
from collectors.record import FeedStateChange, Liquidation
from collectors.stats import FeedStats

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Receives what the collectors produce. Must not block: it runs in the receive loop."""

    def on_liquidation(self, record: Liquidation) -> None:
        """Take one normalized liquidation."""

    def on_feed_state(self, change: FeedStateChange) -> None:
        """Take a feed's up/down transition."""


class RecentKeys:
    """Remember the last `capacity` keys: drops events that two connections both delivered."""

    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._keys: set[Hashable] = set()
        self._order: deque[Hashable] = deque()

    def add(self, key: Hashable) -> bool:
        """Add a key; return False if it was already present."""
        if key in self._keys:
            return False
        self._keys.add(key)
        self._order.append(key)
        if len(self._order) > self._capacity:
            self._keys.discard(self._order.popleft())
        return True


class LogThrottle:
    """Allow at most `burst` warnings per `period_s`; report how many were suppressed."""

    def __init__(self, burst: int = 10, period_s: float = 60.0) -> None:
        self._burst = burst
        self._period_s = period_s
        self._window_start = -period_s
        self._count = 0
        self._suppressed = 0

    def allow(self, now: float) -> tuple[bool, int]:
        """Return (may log now, number of messages suppressed since the last one logged)."""
        if now - self._window_start >= self._period_s:
            self._window_start = now
            self._count = 0
        if self._count < self._burst:
            self._count += 1
            suppressed, self._suppressed = self._suppressed, 0
            return True, suppressed
        self._suppressed += 1
        return False, 0


class FrameProcessor:
    """Parse frames of one feed into the sink; the live runner and replay both use it."""

    def __init__(self, feed: Feed, sink: Sink, *, throttle_logs: bool = True) -> None:
        self.feed = feed
        self.stats = FeedStats(feed.feed_id, feed.coverage)
        self.sink = sink
        self._recent = RecentKeys()
        self._throttle = LogThrottle() if throttle_logs else None

    def process(self, frame: str | bytes, recv_ms: int) -> Parsed | None:
        """Parse one frame and emit its records; return the parse (None if the frame was bad).

        Entries rejected for unknown instruments are NOT counted here: the caller may refetch
        metadata and call `process_unknown`, or give up with `skip_unknown`.
        """
        stats = self.stats
        stats.frames += 1
        stats.last_frame_ms = recv_ms
        try:
            parsed = self.feed.parse(frame, recv_ms)
        except FrameError as exc:
            self._bad_frame(frame, str(exc))
            return None
        except Exception as exc:  # a parser bug must not stop the feed
            log.exception("%s: parser failed on %s", self.feed.feed_id, truncate(frame))
            self._bad_frame(frame, f"parser error {exc!r}", logged=True)
            return None
        if parsed.control is not None:
            stats.control_frames += 1
            log.debug("%s: %s", self.feed.feed_id, parsed.control)
        elif not parsed.records and not parsed.rejected:
            # A push without a single event (`"data":[]`) would otherwise be counted nowhere.
            self._bad_frame(frame, "no events")
            return None
        self.emit(parsed.records)
        if parsed.rejected:
            invalid = [r for r in parsed.rejected if not r.unknown_instrument]
            if invalid:
                stats.rejected_events += len(invalid)
                self._bad_frame(frame, "; ".join(_describe(r) for r in invalid))
        return parsed

    def emit(self, records: list[Liquidation]) -> int:
        """Hand new records to the sink, dropping duplicates; return how many were new."""
        stats = self.stats
        new = 0
        for record in records:
            if not self._recent.add(record.identity()):
                stats.duplicates += 1
                continue
            new += 1
            try:
                self.sink.on_liquidation(record)
            except Exception:  # a consumer bug must not stop the feed
                log.exception("%s: sink failed on %r", self.feed.feed_id, record)
        if new:
            stats.events += new
            stats.last_event_ms = records[-1].recv_ms
        return new

    def process_unknown(self, frame: str | bytes, recv_ms: int, instruments: set[str]) -> int:
        """Parse a frame again after a metadata refetch; emit only the given instruments."""
        try:
            parsed = self.feed.parse(frame, recv_ms)
        except Exception:  # the frame parsed once; a failure now (new metadata) is skipped
            log.exception("%s: reparse failed on %s", self.feed.feed_id, truncate(frame))
            parsed = Parsed([], [Rejection("reparse failed", i, True) for i in instruments])
        new = self.emit([r for r in parsed.records if r.symbol in instruments])
        self.skip_unknown([r for r in parsed.rejected or () if r.unknown_instrument])
        return new

    def skip_unknown(self, rejected: list[Rejection]) -> None:
        """Count and report entries skipped because their instrument is unknown."""
        if not rejected:
            return
        self.stats.unknown_instrument_events += len(rejected)
        self._warn(
            "%s: skipped %d event(s) of unknown instrument(s) %s",
            self.feed.feed_id,
            len(rejected),
            truncate(repr(sorted({r.instrument for r in rejected}))),  # names come off the wire
        )

    def _bad_frame(self, frame: str | bytes, reason: str, *, logged: bool = False) -> None:
        # Reasons quote the exchange (an error message, a symbol): keep the line one short line.
        reason = truncate(reason)
        self.stats.bad_frames += 1
        self.stats.last_error = f"bad frame: {reason}"
        if not logged:
            self._warn("%s: bad frame skipped (%s): %s", self.feed.feed_id, reason, truncate(frame))

    def _warn(self, message: str, *args: object) -> None:
        if self._throttle is not None:
            allowed, suppressed = self._throttle.allow(time.monotonic())
            if not allowed:
                return
            if suppressed:
                log.warning("%s: %d similar warnings suppressed", self.feed.feed_id, suppressed)
        log.warning(message, *args)


def _describe(rejection: Rejection) -> str:
    if rejection.instrument:
        return f"{rejection.instrument}: {rejection.reason}"
    return rejection.reason
