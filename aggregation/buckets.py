"""Time buckets of liquidated USD and counts per key: one row per minute, seconds where needed.

`MinuteRing` holds every minute of the retained day as one dense row over the keys (a ring of
rows reused as minutes pass): its memory depends on the number of keys, never on the event rate.
`SecondSums` holds one minute's per-second, per-key sums: the window store keeps them for the
recent minutes and for the minute each long window's edge is crossing (loaded from the database),
which is what makes window edges exact to the second.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from aggregation.keys import FloatArray, IntArray

Int32Array = npt.NDArray[np.int32]
_Chunk = tuple[npt.NDArray[np.int8], Int32Array, FloatArray, Int32Array]  # offset, key, usd, count

COLUMN_STEP = 256  # key capacity grows in steps of this many columns (at least 25% at a time)
_KEY_BITS = 32


def capacity_for(keys: int, current: int = 0) -> int:
    """Return the column capacity to hold `keys` keys, growing by at least a quarter."""
    if keys <= current:
        return current
    wanted = max(keys, current + current // 4)
    return -(-wanted // COLUMN_STEP) * COLUMN_STEP


class MinuteRing:
    """USD and counts per key for each minute held, in `rows` dense rows (minute % rows).

    The caller holds minutes [floor, floor + rows) and releases a minute's row (zeroing it) when
    the floor passes it, so a row not holding a minute in that range is all zeros.
    """

    def __init__(self, rows: int, keys: int = 0) -> None:
        self.rows = rows
        self.capacity = capacity_for(max(keys, 1))
        self.usd: FloatArray = np.zeros((rows, self.capacity))
        self.count: npt.NDArray[np.int32] = np.zeros((rows, self.capacity), dtype=np.int32)
        self._minute: IntArray = np.full(rows, -1, dtype=np.int64)

    def reserve(self, keys: int) -> bool:
        """Make room for `keys` keys; return True if the columns grew."""
        capacity = capacity_for(keys, self.capacity)
        if capacity == self.capacity:
            return False
        usd = np.zeros((self.rows, capacity))
        count = np.zeros((self.rows, capacity), dtype=np.int32)
        usd[:, : self.capacity] = self.usd
        count[:, : self.capacity] = self.count
        self.usd, self.count, self.capacity = usd, count, capacity
        return True

    def holds(self, minute: int) -> bool:
        """Return True if the ring has a row for this minute (it has had events)."""
        return bool(self._minute[minute % self.rows] == minute)

    def claim(self, minute: int) -> int:
        """Return the row of `minute`, making it that minute's (zeroed) row if needed."""
        row = minute % self.rows
        if self._minute[row] != minute:
            self.usd[row] = 0.0
            self.count[row] = 0
            self._minute[row] = minute
        return row

    def release(self, minute: int) -> None:
        """Zero the row of a minute that left the held range."""
        row = minute % self.rows
        if self._minute[row] == minute:
            self.usd[row] = 0.0
            self.count[row] = 0
            self._minute[row] = -1

    def add(self, minutes: IntArray, keys: IntArray, usd: FloatArray, count: IntArray) -> None:
        """Add events (or sums) to their minutes' rows."""
        if len(minutes) == 0:
            return
        # `np.add.at` is fast only with contiguous values of the target's type (15x here).
        usd = np.ascontiguousarray(usd, dtype=np.float64)
        count = np.ascontiguousarray(count, dtype=np.int32)
        if len(minutes) == 1 or bool((minutes == minutes[0]).all()):
            row = self.claim(int(minutes[0]))
            np.add.at(self.usd[row], keys, usd)
            np.add.at(self.count[row], keys, count)
            return
        if bool((minutes[1:] >= minutes[:-1]).all()):  # a restart's rollups: by minute
            held = minutes[np.r_[True, minutes[1:] != minutes[:-1]]]
        else:
            held = np.unique(minutes)
        for minute in held.tolist():
            self.claim(minute)
        rows = minutes % self.rows
        if len(minutes) * 16 >= self.usd.size:  # a restart's load: flat, no ring-sized temporary
            flat = rows * self.capacity + keys
            np.add.at(self.usd.reshape(-1), flat, usd)
            np.add.at(self.count.reshape(-1), flat, count)
            return
        np.add.at(self.usd, (rows, keys), usd)
        np.add.at(self.count, (rows, keys), count)

    def row(self, minute: int) -> tuple[FloatArray, npt.NDArray[np.int32]] | None:
        """Return (usd, count) of one minute (views), or None if it has no row."""
        row = minute % self.rows
        if self._minute[row] != minute:
            return None
        return self.usd[row], self.count[row]

    def minutes(self) -> IntArray:
        """Return the minutes that have rows, ascending."""
        held = self._minute[self._minute >= 0]
        return np.sort(held)

    def span(self, first: int, last: int) -> tuple[FloatArray, IntArray]:
        """Return per-key (usd, count) summed over the minutes [first, last] (held ones)."""
        usd = np.zeros(self.capacity)
        count = np.zeros(self.capacity, dtype=np.int64)
        if last < first:
            return usd, count
        for lo, hi in self._slices(first, last):
            usd += self.usd[lo:hi].sum(axis=0)
            count += self.count[lo:hi].sum(axis=0, dtype=np.int64)
        return usd, count

    def stacked(self, first: int, last: int) -> tuple[FloatArray, IntArray]:
        """Return the rows of minutes [first, last] in order, shaped (minutes, capacity)."""
        n = max(0, last - first + 1)
        usd = np.zeros((n, self.capacity))
        count = np.zeros((n, self.capacity), dtype=np.int64)
        if n == 0:
            return usd, count
        at = 0
        for lo, hi in self._slices(first, last):
            usd[at : at + hi - lo] = self.usd[lo:hi]
            count[at : at + hi - lo] = self.count[lo:hi]
            at += hi - lo
        return usd, count

    def _slices(self, first: int, last: int) -> list[tuple[int, int]]:
        """Return the row slices of the minutes [first, last] (at most `rows` of them)."""
        first = max(first, last - self.rows + 1)
        lo, hi = first % self.rows, last % self.rows + 1
        if lo < hi:
            return [(lo, hi)]
        return [(lo, self.rows), (0, hi)]

    @property
    def nbytes(self) -> int:
        """Return the bytes the rows take."""
        return self.usd.nbytes + self.count.nbytes + self._minute.nbytes


class SecondSums:
    """Per-second, per-key USD and counts of one minute, in chunks sorted by second.

    Each `add` appends one chunk grouped by (second, key); chunks are merged when there are
    many, so a minute costs at most one entry per (second, key) that had events, plus the
    chunks not yet merged.
    """

    __slots__ = ("_chunks",)

    MAX_CHUNKS = 12

    def __init__(self) -> None:
        self._chunks: list[_Chunk] = []

    def add(self, offset: IntArray, keys: IntArray, usd: FloatArray, count: IntArray) -> None:
        """Add sums at seconds `offset` (0-59) of the minute."""
        if len(offset) == 0:
            return
        self._chunks.append(_grouped(offset, keys, usd, count))
        if len(self._chunks) > self.MAX_CHUNKS:
            self.compact()

    def compact(self) -> None:
        """Merge every chunk into one."""
        if len(self._chunks) <= 1:
            return
        offset = np.concatenate([c[0] for c in self._chunks]).astype(np.int64)
        keys = np.concatenate([c[1] for c in self._chunks])
        usd = np.concatenate([c[2] for c in self._chunks])
        count = np.concatenate([c[3] for c in self._chunks])
        self._chunks = [_grouped(offset, keys, usd, count)]

    def sums(self, first: int, last: int) -> tuple[IntArray, FloatArray, IntArray]:
        """Return (keys, usd, count) entries of the seconds [first, last] of the minute."""
        keys: list[Int32Array] = []
        usds: list[FloatArray] = []
        counts: list[Int32Array] = []
        for offset, key, usd, count in self._chunks:
            lo, hi = np.searchsorted(offset, (first, last + 1))
            if hi > lo:
                keys.append(key[lo:hi])
                usds.append(usd[lo:hi])
                counts.append(count[lo:hi])
        if not keys:
            return np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64)
        return (
            np.concatenate(keys).astype(np.int64),
            np.concatenate(usds),
            np.concatenate(counts).astype(np.int64),
        )

    def per_second(self) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
        """Return every (offset, key, usd, count) entry."""
        if not self._chunks:
            empty = np.empty(0, np.int64)
            return empty, empty, np.empty(0), empty
        self.compact()
        offset, keys, usd, count = self._chunks[0]
        return offset.astype(np.int64), keys.astype(np.int64), usd, count.astype(np.int64)

    def key_counts(self, capacity: int) -> IntArray:
        """Return the event count per key over the whole minute."""
        counts = np.zeros(capacity, dtype=np.int64)
        for _, key, _, count in self._chunks:
            counts += np.bincount(key, weights=count, minlength=capacity).astype(np.int64)
        return counts

    @property
    def nbytes(self) -> int:
        """Return the bytes the chunks take."""
        return sum(sum(part.nbytes for part in chunk) for chunk in self._chunks)


def _grouped(offset: IntArray, keys: IntArray, usd: FloatArray, count: IntArray) -> _Chunk:
    """Group entries by (second, key), sorted by second then key."""
    codes = (offset.astype(np.int64) << _KEY_BITS) | keys.astype(np.int64)
    unique, inverse = np.unique(codes, return_inverse=True)
    sums: FloatArray = np.bincount(inverse, weights=usd, minlength=len(unique)).astype(np.float64)
    counts = np.bincount(inverse, weights=count, minlength=len(unique))
    offsets: npt.NDArray[np.int8] = (unique >> _KEY_BITS).astype(np.int8)
    keys32: Int32Array = (unique & ((1 << _KEY_BITS) - 1)).astype(np.int32)
    return offsets, keys32, sums, counts.astype(np.int32)
