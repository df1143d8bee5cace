"""Tell a re-delivered liquidation from a new one, exactly, for the recent events.

The identity of an event (instrument, event time, side, quantity, price: the database's key) is
kept packed, one set per ten seconds of event time. With a bound (`cap` identities), the
oldest slices are forgotten first (never the newest one); an event older than what is still
known (`floor_ms`) cannot be told here, and the database, which keys its rows by the same
identity, decides.
"""

from __future__ import annotations

import itertools
import struct

import numpy as np
import numpy.typing as npt

SLICE_MS = 10_000
NEVER = -(2**62)

_PACK = struct.Struct("<qiBdd").pack
# The same 29 bytes as `identity`, for many events at once.
IDENTITY_DTYPE = np.dtype(
    [("ts", "<i8"), ("inst", "<i4"), ("side", "u1"), ("qty", "<f8"), ("price", "<f8")]
)


def identity(ts_ms: int, inst: int, side: int, qty: float, price: float) -> bytes:
    """Return an event's identity, packed (29 bytes)."""
    return _PACK(ts_ms, inst, side, qty, price)


def identities(columns: npt.NDArray[np.void]) -> list[bytes]:
    """Return the identities of events given as an `IDENTITY_DTYPE` array, in its order."""
    data = columns.astype(IDENTITY_DTYPE, copy=False).tobytes()
    size = IDENTITY_DTYPE.itemsize
    return [data[at : at + size] for at in range(0, len(data), size)]


class Identities:
    """The identities of recent events, per slice of event time; at most `cap` (None: all)."""

    def __init__(self, cap: int | None = None) -> None:
        self.cap = cap
        self.floor_ms = NEVER  # events older than this are not known here
        self._slices: dict[int, set[bytes]] = {}
        self._size = 0
        self._first = NEVER  # no slice is numbered below this

    def __len__(self) -> int:
        return self._size

    def known(self, ts_ms: int) -> bool:
        """Return True if an event at this time can be told new or seen here."""
        return ts_ms >= self.floor_ms

    def seen(self, ts_ms: int, key: bytes) -> bool:
        """Return True if this identity was added (the event time must be `known`)."""
        slice_ = self._slices.get(ts_ms // SLICE_MS)
        return slice_ is not None and key in slice_

    def add(self, ts_ms: int, key: bytes) -> None:
        """Remember an identity, forgetting the oldest slices beyond the bound."""
        number = ts_ms // SLICE_MS
        slice_ = self._slices.get(number)
        if slice_ is None:
            slice_ = self._slices[number] = set()
            if number < self._first or not self._size:
                self._first = number
        slice_.add(key)
        self._size += 1
        if self.cap is not None and self._size > self.cap:
            self._forget_oldest()

    def add_sorted(self, ts_ms: npt.NDArray[np.int64], keys: list[bytes]) -> None:
        """Remember many identities at once; `ts_ms` (their event times) ascending."""
        if not keys:
            return
        numbers = ts_ms // SLICE_MS
        if int(numbers[0]) < self._first or not self._size:
            self._first = int(numbers[0])
        bounds = np.flatnonzero(np.r_[True, numbers[1:] != numbers[:-1], True]).tolist()
        slices = self._slices
        for start, end in itertools.pairwise(bounds):
            slice_ = slices.setdefault(int(numbers[start]), set())
            before = len(slice_)
            slice_.update(keys[start:end])
            self._size += len(slice_) - before
        if self.cap is not None and self._size > self.cap:
            self._forget_oldest()

    def forget_before(self, ts_ms: int) -> None:
        """Forget the slices wholly before ts_ms (events that old are not asked about)."""
        limit = ts_ms // SLICE_MS
        first = self._first
        if first >= limit:
            return
        slices = self._slices
        # Called every second: walk the few slice numbers passed, not every slice held.
        numbers = range(first, limit) if limit - first <= len(slices) else list(slices)
        for number in numbers:
            if number < limit and number in slices:
                self._size -= len(slices.pop(number))
        self._first = limit

    def set_floor(self, floor_ms: int) -> None:
        """Declare that events older than floor_ms are not known here (after a restart)."""
        self.floor_ms = max(self.floor_ms, floor_ms)

    def _forget_oldest(self) -> None:
        while self.cap is not None and self._size > self.cap and len(self._slices) > 1:
            oldest = min(self._slices)
            self._size -= len(self._slices.pop(oldest))
            self.floor_ms = max(self.floor_ms, (oldest + 1) * SLICE_MS)
