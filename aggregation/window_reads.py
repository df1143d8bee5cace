"""Read a window store: newest, largest, price sums, spans, series and names of keys."""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from aggregation.buckets import MinuteRing, SecondSums
from aggregation.edges import Edges
from aggregation.keys import FloatArray, Instrument, IntArray, Names, sum_by
from aggregation.prices import PriceSums
from aggregation.recent import Newest
from aggregation.rolling import Rolling
from aggregation.schema import Rows
from aggregation.snapshot import MinuteSums
from aggregation.spans import View, every_key, span_series, span_totals
from aggregation.tops import TOP_K, MinuteTops, as_kept, largest_first
from collectors.record import Liquidation, Side

MINUTE_S = 60
MINUTE_MS = 60_000


class TotalsView:
    """The configured windows' totals at one moment, summed per asset, per exchange and for
    the market (once per change, shared by every query until the next); per key by name
    (`usd`, `count`) only when asked for."""

    __slots__ = ("_count", "_keys", "_shape", "_usd", "asset_count", "asset_usd",
                 "exchange_count", "exchange_usd", "market_count", "market_usd")  # fmt: skip

    def __init__(self, names: Names, usd: FloatArray, count: IntArray) -> None:
        """`usd`, `count`: per key, shaped (windows, keys)."""
        keys = names.keys()
        windows, assets, exchanges = len(usd), len(names.asset_names), len(names.exchange_names)
        self._keys, self._usd, self._count = keys, usd, count
        self._shape = (windows, assets, exchanges, 2)
        self.asset_usd: FloatArray = sum_by(keys.by_asset_side, usd).reshape(windows, assets, 2)
        self.asset_count: IntArray = sum_by(keys.by_asset_side, count).reshape(windows, assets, 2)
        self.exchange_usd: FloatArray = sum_by(keys.by_exchange_side, usd).reshape(
            windows, exchanges, 2
        )
        self.exchange_count: IntArray = sum_by(keys.by_exchange_side, count).reshape(
            windows, exchanges, 2
        )
        self.market_usd: FloatArray = self.exchange_usd.sum(axis=1)  # (windows, 2)
        self.market_count: IntArray = self.exchange_count.sum(axis=1)

    @property
    def usd(self) -> FloatArray:
        """Return USD shaped (windows, assets, exchanges, 2)."""
        return self._by_name(self._usd)

    @property
    def count(self) -> IntArray:
        """Return counts shaped (windows, assets, exchanges, 2)."""
        return self._by_name(self._count)

    def of_asset(self, asset: int) -> tuple[FloatArray, IntArray]:
        """Return one asset's (usd, count), each shaped (windows, exchanges, 2)."""
        keys = self._keys
        mine = np.flatnonzero(keys.asset == asset)
        shape = (self._shape[0], self._shape[2], 2)
        usd, count = np.zeros(shape), np.zeros(shape, dtype=self._count.dtype)
        usd[:, keys.exchange[mine], keys.side[mine]] = self._usd[:, mine]
        count[:, keys.exchange[mine], keys.side[mine]] = self._count[:, mine]
        return usd, count

    def _by_name(self, per_key: npt.NDArray[Any]) -> npt.NDArray[Any]:
        keys = self._keys
        out = np.zeros(self._shape, dtype=per_key.dtype)
        out[:, keys.asset, keys.exchange, keys.side] = per_key
        return out


class WindowReads:
    """The reads of `aggregation.windows.WindowStore`, which holds the state they read."""

    names: Names
    ring: MinuteRing
    market: MinuteRing
    edges: Edges
    rolling: Rolling
    retention_s: int
    tops: dict[int, MinuteTops]
    windows_s: tuple[int, ...]
    tracked_s: tuple[int, ...]
    _configured: list[int]
    _view: tuple[int, TotalsView] | None
    _version: int
    _clock_ms: int
    _newest: Newest
    _prices: PriceSums
    _inst_last_ms: array[int]

    def advance(self, now_ms: int, *, ask: bool = True) -> int:
        """Fold in the batch and bring every window up to `now_ms`."""
        raise NotImplementedError

    def instrument(self, exchange: str, market: str, symbol: str, base: str) -> int:
        """Return the index of an instrument, adding it if new."""
        raise NotImplementedError

    @property
    def asset_names(self) -> list[str]:
        """Return the asset names, in index order."""
        return self.names.asset_names

    @property
    def exchange_names(self) -> list[str]:
        """Return the exchange names, in index order."""
        return self.names.exchange_names

    @property
    def instruments(self) -> list[Instrument]:
        """Return the instruments, in index order."""
        return self.names.instruments

    def asset_index(self, asset: str) -> int | None:
        """Return the index of an asset name, or None if it was never seen."""
        return self.names.asset_index(asset)

    def totals(self, now_ms: int) -> tuple[FloatArray, IntArray]:
        """Return (usd, count), each shaped (windows, assets, exchanges, 2), as of now."""
        view = self.totals_view(now_ms)
        return view.usd, view.count

    def totals_view(self, now_ms: int) -> TotalsView:
        """Return the configured windows' totals as of now, with their per-asset, per-exchange
        and market sums (computed once per change, shared by every query until the next)."""
        self.advance(now_ms)
        view = self._view
        if view is not None and view[0] == self._version:
            return view[1]
        n = self.names.n_keys
        rows = self._configured
        made = TotalsView(self.names, self.rolling.usd[rows, :n], self.rolling.count[rows, :n])
        self._view = (self._version, made)
        return made

    def tracked_totals(self, window_s: int, now_ms: int) -> tuple[FloatArray, IntArray]:
        """Return per-key (usd, count) of a configured window or the day, as of now."""
        self.advance(now_ms)
        w = self.tracked_s.index(window_s)
        n = self.names.n_keys
        return self.rolling.usd[w, :n].copy(), self.rolling.count[w, :n].copy()

    def latest(
        self,
        n: int,
        asset: str | None = None,
        min_usd: float = 0.0,
        *,
        side: Side | None = None,
        exchange: str | None = None,
    ) -> list[Liquidation]:
        """Return the newest n counted events of at least min_usd (by event time, then
        arrival), newest first, among those kept (`aggregation.recent`)."""
        if n <= 0:
            return []
        now_sec = max(self.rolling.folded or 0, self._clock_ms // 1000)
        since_ms = (now_sec - self.retention_s + 1) * 1000
        return self._newest.newest(n, asset, min_usd, since_ms, side=side, exchange=exchange)

    def price_sums(
        self, asset: str, starts_ms: Sequence[int], end_ms: int
    ) -> list[tuple[float, float]]:
        """Return (sum of usd * price, sum of usd) of an asset's events in [start, end_ms) for
        each start: the parts of a USD-weighted average liquidation price."""
        self.advance(self._clock_ms)
        index = self.names.asset_index(asset)
        if index is None:
            return [(0.0, 0.0) for _ in starts_ms]
        return self._prices.sums(index, starts_ms, end_ms)

    def largest(self, start_ms: int, end_ms: int, k: int) -> list[Liquidation]:
        """Return the k (<= TOP_K) largest events with start_ms <= ts < end_ms, largest first."""
        if k <= 0:
            return []
        if k > TOP_K:
            raise ValueError(f"at most the {TOP_K} largest events are kept per second")
        self.advance(self._clock_ms)
        found = []
        for minute in range(start_ms // MINUTE_MS, (end_ms - 1) // MINUTE_MS + 1):
            tops = self.tops.get(minute)
            if tops is None:
                continue
            if start_ms <= minute * MINUTE_MS and (minute + 1) * MINUTE_MS <= end_ms:
                found.append(tops.best(k))
            elif tops.complete:
                found.append(tops.within(start_ms, end_ms))
            else:  # an edge minute waiting for its seconds: taken whole, as its sums are
                found.append(tops.best(k))
        if not found:
            return []
        best = largest_first(np.concatenate(found), k)
        return [
            self.names.record(int(e["inst"]), int(e["ts"]), int(e["side"]), float(e["qty"]),
                              float(e["price"]), float(e["usd"]), int(e["recv"]))
            for e in best
        ]  # fmt: skip

    def incomplete_tops(self, start_ms: int, end_ms: int) -> list[int]:
        """Return the minutes that [start_ms, end_ms) cuts whose largest are the minute's only
        (loaded at start): `complete_tops` makes `largest` exact there."""
        edges = {start_ms // MINUTE_MS, (end_ms - 1) // MINUTE_MS}
        return sorted(
            minute
            for minute in edges
            if (tops := self.tops.get(minute)) is not None
            and not tops.complete
            and not (start_ms <= minute * MINUTE_MS and (minute + 1) * MINUTE_MS <= end_ms)
        )

    def complete_tops(self, minute: int, stored: Rows, catalog: Mapping[int, Instrument]) -> None:
        """Take a minute's per-second largest read from the database, queued behind every
        event counted so far (those counted since are in memory: kept once)."""
        tops = self.tops.get(minute)
        if tops is None or tops.complete:
            return
        self.advance(self._clock_ms, ask=False)  # fold what is batched: all counted is kept
        tops.complete_with(as_kept(stored, self.insts_of_rows(stored["inst"], catalog)))

    def view(self, asset: int | None) -> View:
        """Return the view summing one asset's keys (None: the market) per (exchange, side)."""
        keys = self.names.keys()
        groups = 2 * len(self.names.exchange_names)
        if asset is None:
            return View(self.market, None, None, keys.exchange_side, groups)
        columns = self.names.asset_keys(asset)
        group_of_key = np.full(max(self.names.n_keys, 1), -1, dtype=np.int64)
        group_of_key[columns] = keys.exchange_side[columns]
        return View(self.ring, columns, keys.exchange_side[columns], group_of_key, groups)

    def span(
        self, first_sec: int, end_sec: int, extra: Mapping[int, SecondSums] | None = None
    ) -> tuple[FloatArray, IntArray]:
        """Return per-key (usd, count) over the seconds [first_sec, end_sec) held in memory;
        MissingDetail names the minutes whose per-second sums it needs and lacks."""
        self.advance(self._clock_ms)
        return span_totals(every_key(self.ring), self.edges.lookup(extra), first_sec, end_sec)

    def series(
        self,
        first_sec: int,
        end_sec: int,
        bucket_s: int,
        asset: int | None,
        extra: Mapping[int, SecondSums] | None = None,
    ) -> tuple[FloatArray, IntArray]:
        """Return (usd, count) per bucket and (exchange * 2 + side) of one asset (None: the
        market) over [first_sec, end_sec): buckets end at end_sec (see `aggregation.spans`)."""
        self.advance(self._clock_ms)
        view = self.view(asset)
        return span_series(view, self.edges.lookup(extra), first_sec, end_sec, bucket_s)

    def range_totals(self, start_ms: int, end_ms: int) -> tuple[FloatArray, IntArray]:
        """Return (usd, count) shaped (assets, exchanges, 2) for the seconds that start in
        [start_ms, end_ms) (edges to the second)."""
        usd, count = self.span(-(-start_ms // 1000), -(-end_ms // 1000))
        return self.by_name(usd), self.by_name(count)

    def by_name(self, per_key: FloatArray | IntArray) -> Any:
        """Return per-key values laid out (assets, exchanges, 2)."""
        names = self.names
        keys = names.keys()
        out = np.zeros((len(names.asset_names), len(names.exchange_names), 2), dtype=per_key.dtype)
        out[keys.asset, keys.exchange, keys.side] = per_key[: names.n_keys]
        return out

    def seconds_of(self, sums: MinuteSums, catalog: Mapping[int, Instrument]) -> SecondSums:
        """Return a minute's stored per-second sums with memory's keys."""
        result = SecondSums()
        result.add(
            sums.sec - sums.minute * MINUTE_S, self._keys_of(sums, catalog), sums.usd, sums.count
        )
        return result

    def keys_of_rows(
        self, inst: IntArray, side: IntArray, catalog: Mapping[int, Instrument]
    ) -> IntArray:
        """Return memory's keys for rows named by the database's instrument ids."""
        insts = self.insts_of_rows(inst, catalog)  # first: it may add instruments
        return np.asarray(self.names.inst_key, dtype=np.int64)[insts] + side

    def insts_of_rows(self, inst: IntArray, catalog: Mapping[int, Instrument]) -> IntArray:
        """Return memory's instruments for rows named by the database's instrument ids."""
        ids, position = np.unique(inst, return_inverse=True)
        index = np.array(
            [self.instrument(*_fields(catalog[int(i)])) for i in ids.tolist()], dtype=np.int64
        )
        return index[position] if len(ids) else np.empty(0, dtype=np.int64)

    def _keys_of(self, sums: MinuteSums, catalog: Mapping[int, Instrument]) -> IntArray:
        return self.keys_of_rows(sums.inst, sums.side, catalog)

    def instruments_since(self, exchange: str, since_ms: int) -> list[Instrument]:
        """Return the instruments of an exchange with a counted event at or after since_ms."""
        return sorted(
            (
                instrument
                for instrument, last in zip(self.names.instruments, self._inst_last_ms, strict=True)
                if instrument.exchange == exchange and last >= since_ms
            ),
            key=lambda i: (i.market, i.symbol),
        )


def _fields(instrument: Instrument) -> tuple[str, str, str, str]:
    return instrument.exchange, instrument.market, instrument.symbol, instrument.base
