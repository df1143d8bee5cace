"""Keep each asset's USD-weighted price sums per minute, and per second for the recent minutes.

Two rings of dense rows over the assets (numpy arrays, filled from each folded batch at once):
one row per minute of the retention, one per second of the last 16 minutes. Memory depends on
the number of assets, never on the event rate, and no Python object is kept per event or per
minute (nothing for the garbage collector to walk).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aggregation.buckets import capacity_for
from aggregation.keys import FloatArray, IntArray

SECONDS_KEPT_S = 16 * 60  # the 3 m and 15 m windows' edges are exact to the second
NONE = -(2**62)


class _Ring:
    """Per asset (weighted, usd) sums for `rows` consecutive labels (minutes or seconds)."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.capacity = 0
        self.sums: FloatArray = np.zeros((2, rows, 0))  # (weighted, usd) x rows x assets
        self.label: IntArray = np.full(rows, NONE, dtype=np.int64)

    def reserve(self, assets: int) -> None:
        capacity = capacity_for(assets, self.capacity)
        if capacity != self.capacity:
            grown = np.zeros((2, self.rows, capacity))
            grown[:, :, : self.capacity] = self.sums
            self.sums, self.capacity = grown, capacity

    def add(
        self, labels: IntArray, assets: IntArray, weighted: FloatArray, usd: FloatArray
    ) -> None:
        """Add sums at `labels`; a label older than the one its row holds now is dropped."""
        if len(labels) == 0:
            return
        rows = labels % self.rows
        held = self.label[rows]
        newer = labels > held
        if newer.any():  # a label's first events: its row starts again from zero
            for label in np.unique(labels[newer]).tolist():
                row = label % self.rows
                if label > self.label[row]:
                    self.sums[:, row] = 0.0
                    self.label[row] = label
        keep = labels == self.label[rows]
        rows, assets = rows[keep], assets[keep]
        np.add.at(self.sums[0], (rows, assets), weighted[keep])
        np.add.at(self.sums[1], (rows, assets), usd[keep])

    def between(self, asset: int, first: int, end: int) -> tuple[float, float]:
        """Return the (weighted, usd) sums of one asset over the labels [first, end)."""
        if asset >= self.capacity or end <= first:
            return 0.0, 0.0
        inside = (self.label >= first) & (self.label < end)
        column = self.sums[:, inside, asset]
        return float(column[0].sum()), float(column[1].sum())


class PriceSums:
    """Sums of usd * price and of usd per asset: per minute for `minutes` minutes, per second
    for the last 16 minutes.

    A window's edge minute older than the seconds kept counts from the minute that holds the
    window's first second: an average price, not a total, so a minute's resolution there.
    """

    def __init__(self, minutes: int) -> None:
        self._minutes = _Ring(minutes)
        self._seconds = _Ring(SECONDS_KEPT_S + 60)
        self._newest_sec = NONE

    def reserve(self, assets: int) -> None:
        """Make room for `assets` assets (growing with the other key columns, not in a fold)."""
        self._minutes.reserve(assets)
        self._seconds.reserve(assets)

    def add(self, sec: IntArray, assets: IntArray, usd: FloatArray, price: FloatArray) -> None:
        """Count a batch of events' prices (their seconds, asset indices, USD and prices); every
        asset index must have been reserved."""
        if len(sec) == 0:
            return
        weighted = usd * price
        self._minutes.add(sec // 60, assets, weighted, usd)
        self._newest_sec = max(self._newest_sec, int(sec.max()))
        recent = sec > self._newest_sec - SECONDS_KEPT_S
        self._seconds.add(sec[recent], assets[recent], weighted[recent], usd[recent])

    def sums(self, asset: int, starts_ms: Sequence[int], end_ms: int) -> list[tuple[float, float]]:
        """Return (sum of usd * price, sum of usd) of an asset's events in [start, end_ms) for
        each start (whole seconds)."""
        return [self._between(asset, start // 1000, end_ms // 1000) for start in starts_ms]

    def _between(self, asset: int, first: int, end: int) -> tuple[float, float]:
        exact_from = self._newest_sec - SECONDS_KEPT_S + 1
        seconds_from = first
        weighted = usd = 0.0
        if first < exact_from:
            seconds_from = -(-exact_from // 60) * 60  # whole minutes before the seconds kept
            weighted, usd = self._minutes.between(asset, first // 60, seconds_from // 60)
        w, u = self._seconds.between(asset, seconds_from, end)
        return weighted + w, usd + u

    @property
    def nbytes(self) -> int:
        """Return the bytes the rings take."""
        return self._minutes.sums.nbytes + self._seconds.sums.nbytes
