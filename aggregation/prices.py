"""Keep each asset's USD-weighted price sums per minute, and per second for the recent minutes."""

from __future__ import annotations

from collections.abc import Sequence

from collectors.record import Liquidation

MINUTE_MS = 60_000
SECONDS_KEPT_S = 16 * 60  # the 3 m and 15 m windows' edges are exact to the second


class PriceSums:
    """Sums of usd * price and of usd per asset: per minute for the retention, per second for
    the last 16 minutes. Memory grows with assets x minutes, never with the event rate.

    A window's edge minute older than the seconds kept counts from the minute that holds the
    window's first second: an average price, not a total, so a minute's resolution there.
    """

    def __init__(self) -> None:
        self._minutes: dict[int, dict[str, list[float]]] = {}
        self._seconds: dict[int, dict[str, list[float]]] = {}
        self._newest_sec = 0

    def add(self, record: Liquidation) -> None:
        """Count an event's price."""
        sec = record.ts_ms // 1000
        usd = record.notional_usd
        weighted = usd * record.price
        _add(self._minutes.setdefault(sec // 60, {}), record.base, weighted, usd)
        if sec > self._newest_sec:
            self._newest_sec = sec
        if sec > self._newest_sec - SECONDS_KEPT_S:
            _add(self._seconds.setdefault(sec, {}), record.base, weighted, usd)

    def forget_before(self, since_ms: int) -> None:
        """Drop the minutes before since_ms's minute and the seconds no longer kept."""
        for minute in [m for m in self._minutes if m < since_ms // MINUTE_MS]:
            del self._minutes[minute]
        horizon = self._newest_sec - SECONDS_KEPT_S
        for sec in [s for s in self._seconds if s <= horizon]:
            del self._seconds[sec]

    def sums(self, asset: str, starts_ms: Sequence[int], end_ms: int) -> list[tuple[float, float]]:
        """Return (sum of usd * price, sum of usd) of an asset's events in [start, end_ms) for
        each start (whole seconds)."""
        return [self._between(asset, start // 1000, end_ms // 1000) for start in starts_ms]

    def _between(self, asset: str, first: int, end: int) -> tuple[float, float]:
        weighted = usd = 0.0
        exact_from = self._newest_sec - SECONDS_KEPT_S + 1
        seconds_from = first
        if first < exact_from:
            seconds_from = -(-exact_from // 60) * 60  # whole minutes before the seconds kept
            for minute in range(first // 60, seconds_from // 60):
                row = self._minutes.get(minute, {}).get(asset)
                if row is not None:
                    weighted += row[0]
                    usd += row[1]
        for sec in range(seconds_from, end):
            row = self._seconds.get(sec, {}).get(asset)
            if row is not None:
                weighted += row[0]
                usd += row[1]
        return weighted, usd


def _add(row: dict[str, list[float]], asset: str, weighted: float, usd: float) -> None:
    sums = row.get(asset)
    if sums is None:
        row[asset] = [weighted, usd]
    else:
        sums[0] += weighted
        sums[1] += usd
