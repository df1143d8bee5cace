"""What a track absorbs while cascades are active, and each cascade's starting point."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.rules.cascade import CascadeRule, CascadeSnapshot
from collectors.record import Liquidation, Side

if TYPE_CHECKING:
    from bot.rules.tracks import Track

NEVER = -(1 << 62)


@dataclass(slots=True)
class Sums:
    """USD and counts, long and short, and USD per exchange."""

    usd: float = 0.0
    count: int = 0
    long_usd: float = 0.0
    long_count: int = 0
    short_usd: float = 0.0
    short_count: int = 0
    exchanges: dict[str, float] = field(default_factory=dict)

    def add(self, record: Liquidation) -> None:
        """Count one event."""
        usd = record.notional_usd
        self.usd += usd
        self.count += 1
        if record.side is Side.LONG:
            self.long_usd += usd
            self.long_count += 1
        else:
            self.short_usd += usd
            self.short_count += 1
        exchanges = self.exchanges
        exchanges[record.exchange] = exchanges.get(record.exchange, 0.0) + usd

    def copy(self) -> Sums:
        """Return an independent copy."""
        return Sums(
            self.usd,
            self.count,
            self.long_usd,
            self.long_count,
            self.short_usd,
            self.short_count,
            dict(self.exchanges),
        )


class Tape:
    """Running totals of what a track absorbed while it had an active cascade.

    A cascade's totals are its window at the start plus the tape's growth since then, so an
    event costs the same for one active cascade or a thousand. The largest record and the peak
    window sum since any position are kept as monotonic stacks: the first entry after a
    position is the maximum from there on.
    """

    __slots__ = ("largest", "largest_seqs", "last_ms", "peak_seqs", "peaks", "seq", "sums")

    def __init__(self) -> None:
        self.seq = 0  # events absorbed
        self.sums = Sums()
        self.last_ms = NEVER
        self.largest: list[Liquidation] = []  # sizes non-increasing, first of equals kept
        self.largest_seqs: list[int] = []
        self.peaks: list[float] = []  # window sums, non-increasing
        self.peak_seqs: list[int] = []

    def absorb(self, record: Liquidation, ts_ms: int, window_usd: float) -> None:
        """Count an event of an active cascade and the window sum it made."""
        self.seq = seq = self.seq + 1
        self.sums.add(record)
        if ts_ms > self.last_ms:
            self.last_ms = ts_ms
        largest, size = self.largest, record.notional_usd
        while largest and largest[-1].notional_usd < size:
            largest.pop()
            self.largest_seqs.pop()
        largest.append(record)
        self.largest_seqs.append(seq)
        peaks = self.peaks
        while peaks and peaks[-1] <= window_usd:
            peaks.pop()
            self.peak_seqs.pop()
        peaks.append(window_usd)
        self.peak_seqs.append(seq)

    def largest_after(self, seq: int) -> Liquidation | None:
        """Return the largest event absorbed after position `seq`, or None."""
        i = bisect.bisect_right(self.largest_seqs, seq)
        return self.largest[i] if i < len(self.largest) else None

    def peak_after(self, seq: int) -> float:
        """Return the highest window sum absorbed after position `seq`."""
        i = bisect.bisect_right(self.peak_seqs, seq)
        return self.peaks[i] if i < len(self.peaks) else -math.inf

    def trim(self, seq: int) -> None:
        """Forget stack entries at or before `seq`: no active cascade asks about them."""
        i = bisect.bisect_right(self.largest_seqs, seq)
        del self.largest[:i], self.largest_seqs[:i]
        i = bisect.bisect_right(self.peak_seqs, seq)
        del self.peaks[:i], self.peak_seqs[:i]


class Origin:
    """A track's window at the event that started one or more cascades, and the tape then."""

    __slots__ = (
        "before",
        "largest",
        "last_ms",
        "peak_usd",
        "seq",
        "started_ms",
        "tape",
        "track",
        "window",
    )

    def __init__(self, track: Track, tape: Tape) -> None:
        window = Sums()
        first_ts, last_ts = None, NEVER
        largest: Liquidation | None = None
        head = track.head
        for ts, record in zip(track.times[head:], track.records[head:], strict=True):
            window.add(record)
            if first_ts is None or ts < first_ts:
                first_ts = ts
            if ts > last_ts:
                last_ts = ts
            if largest is None or record.notional_usd > largest.notional_usd:
                largest = record  # the earliest of equal sizes
        assert largest is not None  # the event that reached the threshold is in the window
        assert first_ts is not None
        self.track = track
        self.tape = tape
        self.seq = tape.seq  # tape events after this position are the cascade's growth
        self.window = window  # the window's totals at the start
        self.before = tape.sums.copy()  # the tape's totals at the start
        self.started_ms = first_ts
        self.last_ms = last_ts
        self.largest = largest
        self.peak_usd = track.usd

    def snapshot(
        self, rule: CascadeRule, asset: str, threshold: float, ended_ms: int | None
    ) -> CascadeSnapshot:
        """Return a cascade's totals: its window at the start plus the tape's growth since."""
        window, before, now = self.window, self.before, self.tape.sums
        exchanges = dict(window.exchanges)
        for name, usd in now.exchanges.items():
            grown = usd - before.exchanges.get(name, 0.0)
            if grown:
                exchanges[name] = exchanges.get(name, 0.0) + grown
        largest = self.largest
        later = self.tape.largest_after(self.seq)
        if later is not None and later.notional_usd > largest.notional_usd:
            largest = later
        return CascadeSnapshot(
            rule=rule,
            asset=asset,
            threshold_usd=threshold,
            started_ms=self.started_ms,
            last_ms=max(self.last_ms, self.tape.last_ms),
            usd=window.usd + (now.usd - before.usd),
            count=window.count + (now.count - before.count),
            long_usd=window.long_usd + (now.long_usd - before.long_usd),
            long_count=window.long_count + (now.long_count - before.long_count),
            short_usd=window.short_usd + (now.short_usd - before.short_usd),
            short_count=window.short_count + (now.short_count - before.short_count),
            exchanges=tuple(sorted(exchanges.items(), key=lambda item: (-item[1], item[0]))),
            largest=largest,
            peak_window_usd=max(self.peak_usd, self.tape.peak_after(self.seq)),
            window_usd=self.track.usd,
            ended_ms=ended_ms,
        )
