"""Shape per-key arrays into the typed results the queries return (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aggregation.keys import FloatArray, IntArray
from aggregation.results import ExchangeTotals, RankedAsset, Series, SideTotals


def side_totals(usd: FloatArray | Sequence[float], count: IntArray | Sequence[int]) -> SideTotals:
    """Return the totals of (long, short) pairs (arrays, or lists from `tolist`)."""
    return SideTotals(float(usd[0]), float(usd[1]), int(count[0]), int(count[1]))


def volumes(names: list[str], per_asset: FloatArray) -> dict[str, float]:
    """Return USD per asset name, assets with events only."""
    return {names[a]: float(per_asset[a]) for a in np.flatnonzero(per_asset).tolist()}


def exchanges_of(names: list[str], usd: FloatArray, count: IntArray) -> tuple[ExchangeTotals, ...]:
    """usd/count shaped (exchanges, 2) -> exchanges with events, largest first."""
    n = min(len(names), len(count))
    usd_rows, count_rows = usd[:n].tolist(), count[:n].tolist()
    rows = [
        ExchangeTotals(names[e], side_totals(u, c))
        for e, (u, c) in enumerate(zip(usd_rows, count_rows, strict=True))
        if c[0] or c[1]
    ]
    rows.sort(key=lambda row: -row.totals.total_usd)
    return tuple(rows)


def ranked(names: list[str], usd: FloatArray, count: IntArray, n: int) -> tuple[RankedAsset, ...]:
    """Return the n assets with the most USD (ties by index), largest first."""
    active = np.flatnonzero(count)
    if len(active) == 0 or n <= 0:
        return ()
    top = active[np.argpartition(-usd[active], n - 1)[:n]] if len(active) > n else active
    order = top[np.lexsort((top, -usd[top]))]
    return tuple(RankedAsset(names[a], float(usd[a]), int(count[a])) for a in order.tolist())


def series_of(
    names: list[str],
    usd: FloatArray,
    count: IntArray,
    span: tuple[int, int, int],
    asset: str | None,
) -> Series:
    """Return a Series from (usd, count) per bucket and (exchange * 2 + side); span is
    (first second, end second, bucket seconds)."""
    first, end, bucket_s = span
    per_exchange = count.reshape(len(count), -1, 2)
    active = sorted(
        (names[e], e) for e in range(per_exchange.shape[1]) if per_exchange[:, e].sum() > 0
    )
    grouped_usd = usd.reshape(len(usd), -1, 2)
    return Series(
        start_ms=first * 1000,
        end_ms=end * 1000,
        bucket_s=bucket_s,
        asset=asset,
        exchanges=tuple(name for name, _ in active),
        long_usd=tuple(tuple(grouped_usd[:, e, 0].tolist()) for _, e in active),
        short_usd=tuple(tuple(grouped_usd[:, e, 1].tolist()) for _, e in active),
        totals=side_totals(grouped_usd.sum(axis=(0, 1)), per_exchange.sum(axis=(0, 1))),
    )
