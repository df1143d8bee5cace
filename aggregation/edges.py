"""Keep the per-second sums that make window edges exact: recent minutes, and the edge minutes.

Without a database (`attach` not called) every held minute keeps its per-second sums. With one,
memory keeps them for the last `detail_s` seconds only; for a longer window's edge minute (and
the next one, ahead of time) they are loaded from the database's rows, in the writer's order:
the read sees exactly the events stored before the request, and the events counted for that
minute after the request are kept aside and added when the read arrives. A read whose per-key
counts differ from the minute row (an event the disk never got) is not used: that edge then
waits for the whole minute to leave, counted in `IngestCounters.edge_waits` and logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from aggregation.buckets import SecondSums
from aggregation.keys import FloatArray, IntArray
from aggregation.spans import DetailOf

if TYPE_CHECKING:
    from aggregation.windows import WindowStore

log = logging.getLogger(__name__)

MINUTE_S = 60
NEVER = -(2**62)
RETRY_AFTER_S = 5.0  # a failed read of a minute is asked again after this long

DetailLoader = Callable[[int], None]  # ask for a minute's per-second sums: `install` answers


class _Aside:
    """The events counted for a minute while its per-second sums are being read."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[tuple[IntArray, IntArray, FloatArray]] = []


class Edges:
    """The per-second sums of the minutes that window edges and recent spans need."""

    def __init__(self, windows: WindowStore) -> None:
        self._windows = windows
        self.detail: dict[int, SecondSums] = {}
        self.detail_s: int | None = None  # None: every held minute keeps its sums
        self.from_minute = NEVER  # minutes from here on get their sums from live events
        self._loader: DetailLoader | None = None
        self._loading: dict[int, _Aside] = {}
        self._unusable: set[int] = set()
        self._failed_at: dict[int, float] = {}
        self._waited: set[tuple[int, int]] = set()

    def attach(self, loader: DetailLoader, detail_s: int) -> None:
        """Keep only `detail_s` seconds of sums from live events; load the rest via `loader`."""
        self._loader = loader
        self.detail_s = detail_s

    # --- lookups --------------------------------------------------------------------------

    def sums(self, minute: int) -> SecondSums | None:
        """Return a minute's per-second sums (empty if it had no event), or None if unknown."""
        sums = self.detail.get(minute)
        if sums is None and not self._windows.ring.holds(minute):
            return SecondSums()
        return sums

    def lookup(self, extra: Mapping[int, SecondSums] | None) -> DetailOf:
        """Return a lookup that also sees `extra` (sums read for one query)."""
        if not extra:
            return self.sums

        def sums(minute: int) -> SecondSums | None:
            found = extra.get(minute)
            return found if found is not None else self.sums(minute)

        return sums

    # --- live events ----------------------------------------------------------------------

    def place(
        self,
        minutes: IntArray,
        offsets: IntArray,
        keys: IntArray,
        usd: FloatArray,
        live: np.ndarray,
    ) -> None:
        """Add folded events to the per-second sums of their minutes (or set them aside)."""
        single = len(minutes) and bool((minutes == minutes[0]).all())
        for minute in [int(minutes[0])] if single else np.unique(minutes).tolist():
            if single:
                off, key, part, alive = offsets, keys, usd, live
            else:
                chosen = minutes == minute
                off, key, part, alive = offsets[chosen], keys[chosen], usd[chosen], live[chosen]
            sums = self.detail.get(minute)
            if sums is not None:
                sums.add(off, key, part, np.ones(len(off), dtype=np.int64))
            elif minute in self._loading:
                # Live events came after the request (the batch was folded when it was made):
                # the read does not see them. Verified ones were stored before it: it does.
                self._loading[minute].entries.append((off[alive], key[alive], part[alive]))
            elif self._creates(minute):
                sums = self.detail[minute] = SecondSums()
                sums.add(off, key, part, np.ones(len(off), dtype=np.int64))

    def _creates(self, minute: int) -> bool:
        if self.detail_s is None:
            return True
        windows = self._windows
        now_sec = max(windows.rolling.folded or 0, windows.clock_ms // 1000)
        return minute >= self.from_minute and minute >= (now_sec - self.detail_s) // MINUTE_S

    # --- edges ----------------------------------------------------------------------------

    def waiting(self, window: int, minute: int, ask: bool) -> None:
        """Note that a window's edge waits for a minute's sums (counted once per minute)."""
        if (window, minute) in self._waited:
            return
        self._waited.add((window, minute))
        self._windows.counters.edge_waits += 1
        if minute in self._unusable:
            return
        log.warning(
            "the %ds window's edge waits for the per-second sums of minute %d "
            "(the window is up to a minute wider meanwhile)",
            self._windows.tracked_s[window],
            minute,
        )
        if ask:
            self._request(minute)

    def after_fold(self, now_sec: int, ask: bool) -> None:
        """Drop the sums no longer needed; ask for the edge minutes coming up."""
        windows = self._windows
        floor = windows.floor_minute if windows.floor_minute is not None else NEVER
        if self.detail_s is None:
            for minute in [m for m in self.detail if m < floor]:
                del self.detail[minute]
            return
        recent = (now_sec - self.detail_s) // MINUTE_S
        needed: set[int] = set()
        for cut in windows.rolling.cut:
            needed.update(((cut + 1) // MINUTE_S, (cut + 1) // MINUTE_S + 1))
        for minute in [m for m in self.detail if m < recent and m not in needed]:
            del self.detail[minute]
        for minute in sorted(needed) if ask else ():
            if minute >= floor and minute not in self.detail and windows.ring.holds(minute):
                self._request(minute)
        if len(self._waited) > 64:
            self._waited = {(w, m) for w, m in self._waited if m >= floor}
        self._unusable = {m for m in self._unusable if m >= floor}
        if self._failed_at:  # reads that failed: only those of minutes still held matter
            self._failed_at = {m: t for m, t in self._failed_at.items() if m >= floor}

    def _request(self, minute: int) -> None:
        """Ask for a minute's sums; the batch was just folded, so the events counted so far
        are exactly those stored before the request."""
        if self._loader is None or minute in self._loading or minute in self._unusable:
            return
        failed = self._failed_at.get(minute)
        if failed is not None and time.monotonic() - failed < RETRY_AFTER_S:
            return
        self._loading[minute] = _Aside()
        self._loader(minute)

    def install(
        self, minute: int, offsets: IntArray, keys: IntArray, usd: FloatArray, count: IntArray
    ) -> bool:
        """Take a minute's per-second sums read from the database; return True if used."""
        if minute not in self._loading:
            return False
        # Fold in what is batched: verified events in it were stored before the read (not set
        # aside), live ones were counted after the request (set aside).
        self._windows.advance(self._windows.clock_ms, ask=False)
        aside = self._loading.pop(minute)
        floor = self._windows.floor_minute
        if minute in self.detail or (floor is not None and minute < floor):
            return False  # kept meanwhile, or the minute left memory while it was read
        sums = SecondSums()
        sums.add(offsets, keys, usd, count)
        for off, key, part in aside.entries:
            sums.add(off, key, part, np.ones(len(off), dtype=np.int64))
        return self._accept(minute, sums)

    def _accept(self, minute: int, sums: SecondSums) -> bool:
        """Keep a minute's sums if their per-key counts equal its minute row's."""
        ring = self._windows.ring
        row = ring.row(minute)
        expected = np.zeros(ring.capacity, dtype=np.int64) if row is None else row[1]
        if not np.array_equal(sums.key_counts(ring.capacity), expected):
            self._unusable.add(minute)
            log.warning(
                "the stored events of minute %d differ from those counted in memory "
                "(an event the database did not get?): its window edges are kept to the minute",
                minute,
            )
            return False
        self.detail[minute] = sums
        return True

    def failed(self, minute: int) -> None:
        """Note that reading a minute's sums failed (asked again later)."""
        self._loading.pop(minute, None)
        self._failed_at[minute] = time.monotonic()

    def restored(self, minute: int, sums: SecondSums) -> bool:
        """Take a minute's sums read at start-up (checked like `install`)."""
        return self._accept(minute, sums)

    @property
    def nbytes(self) -> int:
        """Return the bytes the per-second sums take."""
        return sum(sums.nbytes for sums in self.detail.values())
