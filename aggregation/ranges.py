"""Answer questions about any span: memory for the retained day, the rollups for older history.

Within memory a span is exact to the second: a span edge inside a minute whose per-second sums
memory no longer keeps reads them from that minute's rows first. Older than memory, history is
read from the minute and hourly rollups, exact to the minute at its older edge; series that
reach into history use whole-hour buckets ending at the end of the current hour.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from aggregation.buckets import SecondSums
from aggregation.database import Database
from aggregation.history import asset_hours, events_between, span_sums, stored_largest
from aggregation.keys import SIDES, FloatArray, Instrument, IntArray
from aggregation.schema import Rows
from aggregation.snapshot import read_seconds, read_tops
from aggregation.spans import MissingDetail
from aggregation.store import LiquidationStore
from aggregation.windows import MINUTE_S, WindowStore
from collectors.record import Liquidation, Side

T = TypeVar("T")
HOUR_S = 3600


class Ranges:
    """Sums, series, largest and raw events over any span (async: may read the database)."""

    def __init__(self, windows: WindowStore, store: LiquidationStore | None) -> None:
        self._windows = windows
        self._store = store

    @property
    def memory_from_sec(self) -> int:
        """Return the first second memory holds whole minutes for."""
        windows = self._windows
        windows.advance(windows.clock_ms)
        floor = windows.floor_minute
        assert floor is not None  # set by the first advance
        return floor * MINUTE_S

    async def key_sums(self, first_sec: int, end_sec: int) -> tuple[FloatArray, IntArray]:
        """Return per-key (usd, count) over [first_sec, end_sec) (older than memory: the whole
        minutes containing it)."""
        windows = self._windows
        memory_from = self.memory_from_sec
        usd, count = await self._in_memory(
            lambda extra: windows.span(max(first_sec, memory_from), end_sec, extra)
        )
        store = self._store
        if first_sec < memory_from and store is not None:
            end_minute = min(memory_from // MINUTE_S, -(-end_sec // MINUTE_S))
            rows = await store.history(span_sums, first_sec // MINUTE_S, end_minute)
            keys = windows.keys_of_rows(rows["inst"], rows["side"], store.database.catalog)
            capacity = max(len(usd), int(keys.max()) + 1 if len(keys) else 0)
            usd = _pad(usd, capacity) + np.bincount(keys, rows["usd"], minlength=capacity)
            count = _pad(count, capacity) + np.bincount(
                keys, rows["count"], minlength=capacity
            ).astype(np.int64)
        return usd, count

    async def series(
        self, first_sec: int, end_sec: int, bucket_s: int, asset: str | None
    ) -> tuple[FloatArray, IntArray]:
        """Return (usd, count) per bucket and (exchange * 2 + side) of one asset (None: the
        market): buckets end at end_sec. Reaching into history needs whole hours: end_sec and
        bucket_s multiples of an hour."""
        windows = self._windows
        index = None if asset is None else windows.asset_index(asset)
        groups = 2 * len(windows.exchange_names)
        n = max(0, -(-(end_sec - first_sec) // bucket_s))
        if asset is not None and index is None:
            return np.zeros((n, groups)), np.zeros((n, groups), dtype=np.int64)
        memory_from = self.memory_from_sec
        if first_sec >= memory_from or self._store is None:
            return await self._in_memory(
                lambda extra: windows.series(first_sec, end_sec, bucket_s, index, extra)
            )
        if end_sec % HOUR_S or bucket_s % HOUR_S:
            raise ValueError("a series reaching into history needs whole hours")
        split = -(-memory_from // HOUR_S) * HOUR_S
        usd = np.zeros((n, groups))
        count = np.zeros((n, groups), dtype=np.int64)
        if split < end_sec:
            mem_usd, mem_count = await self._in_memory(
                lambda extra: windows.series(split, end_sec, bucket_s, index, extra)
            )
            usd[n - len(mem_usd) :] += mem_usd[:, :groups]
            count[n - len(mem_count) :] += mem_count[:, :groups]
        await self._history_series(
            first_sec, min(split, end_sec), end_sec, bucket_s, asset, usd, count
        )
        return usd, count

    async def _history_series(
        self, first_sec: int, split: int, end_sec: int, bucket_s: int, asset: str | None,
        usd: FloatArray, count: IntArray,
    ) -> None:  # fmt: skip
        store = self._store
        assert store is not None
        rows = await store.history(
            asset_hours, store.database.catalog, asset, first_sec // HOUR_S, split // HOUR_S
        )
        origin = end_sec - len(usd) * bucket_s
        for hour, row in rows.items():
            bucket = max(0, (hour * HOUR_S - origin) // bucket_s)
            for exchange, cells in row.items():
                e = self._windows.names.exchange_index(exchange)
                if e is None or 2 * e + 1 >= usd.shape[1]:
                    continue
                usd[bucket, 2 * e] += cells[0]
                usd[bucket, 2 * e + 1] += cells[1]
                count[bucket, 2 * e] += int(cells[2])
                count[bucket, 2 * e + 1] += int(cells[3])

    async def largest(self, start_ms: int, end_ms: int, k: int) -> list[Liquidation]:
        """Return the k largest events of [start_ms, end_ms) (older than memory: of the whole
        minutes containing it; an edge minute whose seconds memory lacks since a restart is
        read first)."""
        windows = self._windows
        memory_from_ms = self.memory_from_sec * 1000
        store = self._store
        first_ms = max(start_ms, memory_from_ms)
        if store is not None:
            for minute in windows.incomplete_tops(first_ms, end_ms):
                stored = await store.read(functools.partial(_tops_of, minute))
                windows.complete_tops(minute, stored, store.database.catalog)
        found = windows.largest(first_ms, end_ms, k)
        if start_ms < memory_from_ms and store is not None:
            end_minute = min(memory_from_ms // 60_000, -(-end_ms // 60_000))
            tops = await store.history(stored_largest, start_ms // 60_000, end_minute, k)
            catalog = store.database.catalog
            found.extend(
                _record(catalog[int(t["inst"])], int(t["ts"]), int(t["side"]), float(t["qty"]),
                        float(t["price"]), float(t["usd"]), int(t["recv"]))
                for t in tops
            )  # fmt: skip
            found.sort(key=lambda r: (-r.notional_usd, r.ts_ms))
        return found[:k]

    async def events_between(
        self,
        start_ms: int,
        end_ms: int,
        min_usd: float,
        limit: int,
        *,
        assets: frozenset[str] = frozenset(),
        side: Side | None = None,
        exchanges: frozenset[str] = frozenset(),
    ) -> list[Liquidation]:
        """Return the stored events of [start_ms, end_ms) of at least min_usd, oldest first;
        only of `assets`, `side` and `exchanges` if given, chosen before the limit applies."""
        store = self._store
        if store is None:
            return []
        side_index = None if side is None else SIDES.index(side)
        rows = await store.read(
            lambda db: events_between(
                db.conn, start_ms, end_ms, min_usd, limit,
                assets=assets, exchanges=exchanges, side=side_index,
            )
        )  # fmt: skip
        catalog = store.database.catalog
        return [
            _record(catalog[ident], ts, side_at, qty, price, usd, recv)
            for ts, ident, side_at, qty, price, usd, recv in rows.tolist()
        ]

    async def _in_memory(self, work: Callable[[dict[int, SecondSums] | None], T]) -> T:
        try:
            return work(None)
        except MissingDetail as missing:
            store = self._store
            if store is None:
                raise
            minutes = missing.minutes
            stored = await store.read(lambda db: [read_seconds(db.conn, m) for m in minutes])
            catalog = store.database.catalog
            extra = {sums.minute: self._windows.seconds_of(sums, catalog) for sums in stored}
            return work(extra)


def _record(
    i: Instrument, ts: int, side: int, qty: float, price: float, usd: float, recv: int
) -> Liquidation:
    return Liquidation(
        i.exchange, i.market, i.symbol, i.base, SIDES[side], price, qty, usd, ts, recv
    )


def _pad(values: np.ndarray, size: int) -> np.ndarray:
    if len(values) >= size:
        return values
    return np.concatenate((values, np.zeros(size - len(values), dtype=values.dtype)))


def _tops_of(minute: int, db: Database) -> Rows:
    return read_tops(db.conn, minute)
