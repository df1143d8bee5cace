"""Keep each window's totals per key exact as time moves: add what enters, subtract what leaves.

At the folded second `f`, window w holds the events whose second lies in `(cut[w], f]`; normally
`cut[w] = f - W`. Entering events are added as they are folded in. Leaving seconds are
subtracted from the buckets: a whole minute from its minute row (every event of a minute that
never had a second outside the window is in the window), a part of a minute from that minute's
per-second sums. Without those sums the cut waits at the minute's start (the window is then up
to 59 s wider, and says so through `waiting`) until they arrive or the whole minute leaves, so
nothing is ever subtracted that was not added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from aggregation.buckets import MinuteRing, SecondSums
from aggregation.keys import FloatArray, IntArray

MINUTE_S = 60


class Rolling:
    """Exact running (usd, count) per key for each window, as of the folded second."""

    def __init__(self, windows_s: Sequence[int], capacity: int) -> None:
        self.windows_s = tuple(windows_s)
        self.usd: FloatArray = np.zeros((len(self.windows_s), capacity))
        self.count: IntArray = np.zeros((len(self.windows_s), capacity), dtype=np.int64)
        self.folded: int | None = None
        self.cut: list[int] = []

    def reserve(self, capacity: int) -> None:
        """Grow the key columns to `capacity`."""
        if capacity <= self.usd.shape[1]:
            return
        usd = np.zeros((len(self.windows_s), capacity))
        count = np.zeros((len(self.windows_s), capacity), dtype=np.int64)
        usd[:, : self.usd.shape[1]] = self.usd
        count[:, : self.count.shape[1]] = self.count
        self.usd, self.count = usd, count

    def start(self, now_sec: int) -> None:
        """Begin at now_sec with empty windows."""
        self.folded = now_sec
        self.cut = [now_sec - window for window in self.windows_s]
        self.usd[:] = 0.0
        self.count[:] = 0

    def enter(self, sec: IntArray, keys: IntArray, usd: FloatArray, now_sec: int) -> None:
        """Add the events whose second lies inside a window as of now_sec."""
        if len(sec) == 0:
            return
        capacity = self.usd.shape[1]
        inside_now = sec <= now_sec
        for w, cut in enumerate(self.cut):
            inside = inside_now & (sec > cut)
            if inside.all():
                chosen_keys, chosen_usd = keys, usd
            else:
                chosen_keys, chosen_usd = keys[inside], usd[inside]
            if len(chosen_keys):
                self.usd[w] += np.bincount(chosen_keys, chosen_usd, minlength=capacity)
                self.count[w] += np.bincount(chosen_keys, minlength=capacity)

    def leave(
        self, w: int, target: int, ring: MinuteRing, detail: Callable[[int], SecondSums | None]
    ) -> int | None:
        """Subtract window w's seconds up to `target`; return a minute it waits on, if any."""
        cut = self.cut[w]
        waiting = None
        while cut < target:
            minute = (cut + 1) // MINUTE_S
            start, end = minute * MINUTE_S, minute * MINUTE_S + MINUTE_S - 1
            if cut + 1 == start and target >= end:
                row = ring.row(minute)
                if row is not None:
                    self.usd[w, : ring.capacity] -= row[0]
                    self.count[w, : ring.capacity] -= row[1]
                cut = end
                continue
            sums = detail(minute)
            if sums is None:
                waiting = minute
                break
            last = min(target, end)
            self._subtract(w, *sums.sums(cut + 1 - start, last - start))
            cut = last
        self.cut[w] = cut
        return waiting

    def _subtract(self, w: int, keys: IntArray, usd: FloatArray, count: IntArray) -> None:
        if len(keys) == 0:
            return
        capacity = self.usd.shape[1]
        self.usd[w] -= np.bincount(keys, usd, minlength=capacity)
        self.count[w] -= np.bincount(keys, count, minlength=capacity).astype(np.int64)

    def settle(self) -> None:
        """Zero the float residue of add-then-subtract where a key has no event left."""
        self.usd[self.count == 0] = 0.0

    def set_totals(self, w: int, cut: int, usd: FloatArray, count: npt.ArrayLike) -> None:
        """Set window w's totals outright (a restart)."""
        self.cut[w] = cut
        self.usd[w] = 0.0
        self.count[w] = 0
        self.usd[w, : len(usd)] = usd
        self.count[w, : len(usd)] = count

    def widened(self) -> list[int]:
        """Return, per window, how many seconds wider than its length it is (0: exact)."""
        folded = self.folded if self.folded is not None else 0
        return [
            max(0, folded - window - cut)
            for window, cut in zip(self.windows_s, self.cut, strict=True)
        ]
