"""Sum the buckets over any span of whole seconds, in one piece or cut into series buckets.

Whole minutes come from minute rows; a span edge inside a minute needs that minute's
per-second sums. Which minutes those are is known up front (`needed_minutes`), so a caller
without them in memory can fetch them first; `MissingDetail` names any still missing.

A `View` says what to sum into: every key (the default), one asset's keys, or the market per
(exchange, side), which has its own small ring so a market chart never reads every key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aggregation.buckets import MinuteRing, SecondSums
from aggregation.keys import FloatArray, IntArray

MINUTE_S = 60

DetailOf = Callable[[int], SecondSums | None]


class MissingDetail(LookupError):
    """The per-second sums of these minutes are needed and not in memory."""

    def __init__(self, minutes: list[int]) -> None:
        super().__init__(f"per-second sums needed for {len(minutes)} minute(s)")
        self.minutes = minutes


@dataclass(frozen=True, slots=True)
class View:
    """Sum `ring`'s `columns` into groups `column_groups` (None: ring column i is group i);
    per-second entries of key k go to group `group_of_key[k]` (-1: left out; None: k)."""

    ring: MinuteRing
    columns: IntArray | None
    column_groups: IntArray | None
    group_of_key: IntArray | None
    groups: int

    def rows(self, lo: int, hi: int) -> tuple[FloatArray, IntArray]:
        """Return rows lo:hi of the ring, reduced to the groups."""
        usd, count = self.ring.usd[lo:hi], self.ring.count[lo:hi]
        if self.columns is None:
            return usd[:, : self.groups], count[:, : self.groups].astype(np.int64)
        out_usd = np.zeros((hi - lo, self.groups))
        out_count = np.zeros((hi - lo, self.groups), dtype=np.int64)
        out_usd[:, self.column_groups] = usd[:, self.columns]
        out_count[:, self.column_groups] = count[:, self.columns]
        return out_usd, out_count

    def entries(
        self, keys: IntArray, usd: FloatArray, count: IntArray
    ) -> tuple[FloatArray, IntArray]:
        """Return per-second entries summed into groups."""
        if self.group_of_key is not None:
            groups = self.group_of_key[keys]
            kept = groups >= 0
            keys, usd, count = groups[kept], usd[kept], count[kept]
        summed = np.bincount(keys, usd, minlength=self.groups)[: self.groups].astype(np.float64)
        counted = np.bincount(keys, count, minlength=self.groups)[: self.groups]
        return summed, counted.astype(np.int64)


def every_key(ring: MinuteRing) -> View:
    """Return the view that keeps every key."""
    return View(ring, None, None, None, ring.capacity)


def bucket_count(first_sec: int, end_sec: int, bucket_s: int) -> int:
    """Return how many buckets of bucket_s, aligned to end_sec, cover [first_sec, end_sec)."""
    return max(0, -(-(end_sec - first_sec) // bucket_s))


def needed_minutes(first_sec: int, end_sec: int, bucket_s: int) -> list[int]:
    """Return the minutes whose per-second sums a series of [first_sec, end_sec) needs."""
    if end_sec <= first_sec:
        return []
    if bucket_s < MINUTE_S:
        return list(range(first_sec // MINUTE_S, (end_sec - 1) // MINUTE_S + 1))
    n = bucket_count(first_sec, end_sec, bucket_s)
    edges = [end_sec - (n - i) * bucket_s for i in range(1, n)]
    return sorted({e // MINUTE_S for e in [first_sec, *edges, end_sec] if e % MINUTE_S})


def missing(ring: MinuteRing, detail: DetailOf, minutes: list[int]) -> list[int]:
    """Return the minutes with events whose per-second sums are not at hand."""
    return [m for m in minutes if _sums(ring, detail, m) is None]


def span_series(
    view: View, detail: DetailOf, first_sec: int, end_sec: int, bucket_s: int
) -> tuple[FloatArray, IntArray]:
    """Return per-bucket, per-group (usd, count), shaped (buckets, groups), over [first, end).

    Buckets end at end_sec and are bucket_s long; the oldest is cut at first_sec.
    """
    n = bucket_count(first_sec, end_sec, bucket_s)
    absent = missing(view.ring, detail, needed_minutes(first_sec, end_sec, bucket_s))
    if absent:
        raise MissingDetail(absent)
    if bucket_s < MINUTE_S:
        return _by_seconds(view, detail, first_sec, end_sec, bucket_s, n)
    return _by_minutes(view, detail, first_sec, end_sec, bucket_s, n)


def span_totals(
    view: View, detail: DetailOf, first_sec: int, end_sec: int
) -> tuple[FloatArray, IntArray]:
    """Return per-group (usd, count) over the seconds [first_sec, end_sec)."""
    if end_sec <= first_sec:
        return np.zeros(view.groups), np.zeros(view.groups, dtype=np.int64)
    usd, count = span_series(view, detail, first_sec, end_sec, end_sec - first_sec)
    return usd[0], count[0]


def _sums(ring: MinuteRing, detail: DetailOf, minute: int) -> SecondSums | None:
    """Return a minute's per-second sums; empty when the minute had no event."""
    sums = detail(minute)
    if sums is None and not ring.holds(minute):
        return SecondSums()
    return sums


def _by_minutes(
    view: View, detail: DetailOf, first_sec: int, end_sec: int, bucket_s: int, n: int
) -> tuple[FloatArray, IntArray]:
    origin = end_sec - n * bucket_s
    usd = np.zeros((n, view.groups))
    count = np.zeros((n, view.groups), dtype=np.int64)
    first_min, last_min = first_sec // MINUTE_S, (end_sec - 1) // MINUTE_S
    ring = view.ring
    minute = max(first_min, last_min - ring.rows + 1)
    while minute <= last_min:  # one pass per run of ring rows (at most two)
        lo = minute % ring.rows
        hi = min(ring.rows, lo + last_min - minute + 1)
        rows_usd, rows_count = view.rows(lo, hi)
        starts = np.maximum(np.arange(minute, minute + hi - lo) * MINUTE_S, first_sec)
        index = (starts - origin) // bucket_s
        bounds = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        usd[index[bounds]] += np.add.reduceat(rows_usd, bounds, axis=0)
        count[index[bounds]] += np.add.reduceat(rows_count, bounds, axis=0)
        minute += hi - lo

    def move(sec: int, first_off: int, last_off: int, source: int, target: int | None) -> None:
        sums = _sums(ring, detail, sec // MINUTE_S)
        assert sums is not None  # checked by the caller
        part_usd, part_count = view.entries(*sums.sums(first_off, last_off))
        usd[source] -= part_usd
        count[source] -= part_count
        if target is not None:
            usd[target] += part_usd
            count[target] += part_count

    if first_sec % MINUTE_S:  # the seconds of the first minute before the span
        move(first_sec, 0, first_sec % MINUTE_S - 1, 0, None)
    for i in range(1, n):
        edge = origin + i * bucket_s
        if edge % MINUTE_S:  # the rest of the edge's minute is the next bucket's
            move(edge, edge % MINUTE_S, MINUTE_S - 1, i - 1, i)
    if end_sec % MINUTE_S:  # the seconds of the last minute after the span
        move(end_sec, end_sec % MINUTE_S, MINUTE_S - 1, n - 1, None)
    return usd, count


def _by_seconds(
    view: View, detail: DetailOf, first_sec: int, end_sec: int, bucket_s: int, n: int
) -> tuple[FloatArray, IntArray]:
    origin = end_sec - n * bucket_s
    groups = view.groups
    usd = np.zeros(n * groups)
    count = np.zeros(n * groups, dtype=np.int64)
    for minute in range(first_sec // MINUTE_S, (end_sec - 1) // MINUTE_S + 1):
        sums = _sums(view.ring, detail, minute)
        assert sums is not None  # checked by the caller
        offset, keys, part_usd, part_count = sums.per_second()
        sec = minute * MINUTE_S + offset
        inside = (sec >= first_sec) & (sec < end_sec)
        bucket = (sec[inside] - origin) // bucket_s
        keys, part_usd, part_count = keys[inside], part_usd[inside], part_count[inside]
        if view.group_of_key is not None:
            group = view.group_of_key[keys]
            kept = group >= 0
            bucket, keys, part_usd, part_count = (
                bucket[kept],
                group[kept],
                part_usd[kept],
                part_count[kept],
            )
        cell = bucket * groups + keys
        usd += np.bincount(cell, part_usd, minlength=n * groups)
        count += np.bincount(cell, part_count, minlength=n * groups).astype(np.int64)
    return usd.reshape(n, groups), count.reshape(n, groups)
