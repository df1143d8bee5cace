"""Keep the retained liquidations column by column per minute of event time; scan time ranges.

A late event lands in its own minute's chunk, at about 48 bytes an event. The scans here read
any time range of the columns (range totals, chart series, largest, between); the rolling
window totals built on top of them live in `aggregation.windows`.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from collectors.record import Liquidation, Side

MAX_EXCHANGES = 16  # key layout: ((asset * MAX_EXCHANGES) + exchange) * 2 + side
MINUTE_MS = 60_000

SIDES = (Side.LONG, Side.SHORT)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# The packed column layout shared with the SQLite segments (one row per event).
EVENT_DTYPE = np.dtype(
    [
        ("ts", "<i8"),
        ("inst", "<i4"),
        ("side", "<i1"),
        ("qty", "<f8"),
        ("price", "<f8"),
        ("usd", "<f8"),
        ("recv", "<i8"),
    ]
)


@dataclass(frozen=True, slots=True)
class Instrument:
    """An instrument as the store knows it."""

    exchange: str
    market: str
    symbol: str
    base: str


class Chunk:
    """The events of one minute, column by column."""

    __slots__ = ("inst", "key", "price", "qty", "recv", "top", "ts", "usd")

    def __init__(self) -> None:
        self.ts = array("q")
        self.key = array("i")
        self.inst = array("i")
        self.usd = array("d")
        self.price = array("d")
        self.qty = array("d")
        self.recv = array("q")
        self.top: IntArray | None = None  # cached positions of the largest events

    def __len__(self) -> int:
        return len(self.ts)


class EventLog:
    """The retained events by minute, the names they refer to, and scans over time ranges."""

    def __init__(self) -> None:
        self.instruments: list[Instrument] = []
        self._assets: dict[str, int] = {}
        self.asset_names: list[str] = []
        self._exchanges: dict[str, int] = {}
        self.exchange_names: list[str] = []
        self._chunks: dict[int, Chunk] = {}

    def asset_index(self, asset: str) -> int | None:
        """Return the index of an asset name, or None if it was never seen."""
        return self._assets.get(asset)

    def key_filter(
        self, asset: str | None, exchange: str | None, side: Side | None
    ) -> tuple[int | None, int | None, int | None] | None:
        """Return the (asset, exchange, side) indexes to match (None: any), or None when
        the asset or exchange was never seen, so nothing can match."""
        asset_index = exchange_index = None
        if asset is not None and (asset_index := self._assets.get(asset)) is None:
            return None
        if exchange is not None and (exchange_index := self._exchanges.get(exchange)) is None:
            return None
        return asset_index, exchange_index, None if side is None else SIDES.index(side)

    def _record(
        self, inst: int, ts: int, side: int, qty: float, price: float, usd: float, recv: int
    ) -> Liquidation:
        instrument = self.instruments[inst]
        return Liquidation(
            exchange=instrument.exchange,
            market=instrument.market,
            symbol=instrument.symbol,
            base=instrument.base,
            side=SIDES[side],
            price=price,
            qty_base=qty,
            notional_usd=usd,
            ts_ms=ts,
            recv_ms=recv,
        )

    def _slice_ms(self, lo_ms: int, hi_ms: int) -> tuple[npt.NDArray[np.int32], FloatArray]:
        """Return (keys, usd) of the events with lo_ms <= ts < hi_ms."""
        if hi_ms <= lo_ms:
            return np.empty(0, dtype=np.int32), np.empty(0)
        keys: list[npt.NDArray[np.int32]] = []
        usds: list[FloatArray] = []
        for minute in self._minutes(lo_ms // MINUTE_MS, (hi_ms - 1) // MINUTE_MS):
            chunk = self._chunks[minute]
            key = np.frombuffer(chunk.key, dtype=np.int32)
            usd = np.frombuffer(chunk.usd, dtype=np.float64)
            if minute * MINUTE_MS >= lo_ms and (minute + 1) * MINUTE_MS <= hi_ms:
                keys.append(key.copy())
                usds.append(usd.copy())
            else:
                ts = np.frombuffer(chunk.ts, dtype=np.int64)
                inside = (ts >= lo_ms) & (ts < hi_ms)
                keys.append(key[inside])
                usds.append(usd[inside])
        if not keys:
            return np.empty(0, dtype=np.int32), np.empty(0)
        return np.concatenate(keys), np.concatenate(usds)

    def _minutes(self, first: int, last: int) -> list[int]:
        """Return the stored minutes in [first, last], ascending."""
        if last - first + 1 <= len(self._chunks):
            return [m for m in range(first, last + 1) if m in self._chunks]
        return sorted(m for m in self._chunks if first <= m <= last)

    # --- scans ----------------------------------------------------------------------------

    def range_totals(self, start_ms: int, end_ms: int) -> tuple[FloatArray, IntArray]:
        """Return (usd, count) shaped (assets, MAX_EXCHANGES, 2) for events in [start, end).

        Scans the events of the range: for occasional reports, not for hot queries.
        """
        keys, usd = self._slice_ms(start_ms, end_ms)
        n_assets = len(self.asset_names)
        n_keys = n_assets * MAX_EXCHANGES * 2
        shape = (n_assets, MAX_EXCHANGES, 2)
        usd_totals: FloatArray = np.bincount(keys, weights=usd, minlength=n_keys).astype(
            np.float64, copy=False
        )
        counts: IntArray = np.bincount(keys, minlength=n_keys).astype(np.int64, copy=False)
        return usd_totals[:n_keys].reshape(shape), counts[:n_keys].reshape(shape)

    def range_series(
        self, start_ms: int, end_ms: int, bucket_ms: int, asset: int | None = None
    ) -> tuple[FloatArray, IntArray]:
        """Return (usd, count) shaped (buckets, MAX_EXCHANGES, 2) for events in [start, end).

        Buckets are aligned to `end_ms`: with n = ceil((end - start) / bucket_ms), bucket i
        holds the events with end - (n - i) * bucket_ms <= ts < end - (n - i - 1) * bucket_ms,
        so only the oldest one can be shorter (it starts at `start_ms`). `asset` is an asset
        index (None: every asset). Scans the events of the range, like `range_totals`.
        """
        if bucket_ms <= 0:
            raise ValueError("a bucket must be longer than zero")
        n_buckets = max(0, -(-(end_ms - start_ms) // bucket_ms))
        per_bucket = MAX_EXCHANGES * 2  # key % per_bucket == exchange * 2 + side
        shape = (n_buckets, MAX_EXCHANGES, 2)
        chunks = [
            self._chunks[m] for m in self._minutes(start_ms // MINUTE_MS, (end_ms - 1) // MINUTE_MS)
        ]
        if not chunks:
            return np.zeros(shape), np.zeros(shape, dtype=np.int64)
        # One concatenation, then whole-array arithmetic: per-minute numpy calls would cost
        # more than the arithmetic itself (a day is 1,440 chunks). It also copies the columns,
        # so no view outlives the call (`add` resizes the arrays under a view).
        ts = np.concatenate([np.frombuffer(c.ts, dtype=np.int64) for c in chunks])
        key = np.concatenate([np.frombuffer(c.key, dtype=np.int32) for c in chunks])
        usd = np.concatenate([np.frombuffer(c.usd, dtype=np.float64) for c in chunks])
        keep = (ts >= start_ms) & (ts < end_ms)
        if asset is not None:
            keep &= key // per_bucket == asset
        if not keep.all():
            ts, key, usd = ts[keep], key[keep], usd[keep]
        origin_ms = end_ms - n_buckets * bucket_ms
        index = (ts - origin_ms) // bucket_ms * per_bucket + key % per_bucket
        n_cells = n_buckets * per_bucket
        usd_totals: FloatArray = np.bincount(index, weights=usd, minlength=n_cells).astype(
            np.float64, copy=False
        )
        counts: IntArray = np.bincount(index, minlength=n_cells).astype(np.int64, copy=False)
        return usd_totals.reshape(shape), counts.reshape(shape)

    def largest(self, start_ms: int, end_ms: int, k: int) -> list[Liquidation]:
        """Return the k largest events (by USD) with start_ms <= ts < end_ms, largest first."""
        if k <= 0:
            return []
        candidates: list[tuple[float, int, int]] = []  # (usd, minute, position)
        for minute in self._minutes(start_ms // MINUTE_MS, (end_ms - 1) // MINUTE_MS):
            chunk = self._chunks[minute]
            usd = np.frombuffer(chunk.usd, dtype=np.float64)
            if minute * MINUTE_MS >= start_ms and (minute + 1) * MINUTE_MS <= end_ms:
                if chunk.top is None or len(chunk.top) < min(k, len(usd)):
                    chunk.top = _top_positions(usd, max(k, 10))
                positions = chunk.top
            else:
                ts = np.frombuffer(chunk.ts, dtype=np.int64)
                inside = np.flatnonzero((ts >= start_ms) & (ts < end_ms))
                positions = inside[_top_positions(usd[inside], k)]
            candidates.extend((float(usd[p]), minute, int(p)) for p in positions[:k].tolist())
            del usd
        candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
        return [self._record_at(minute, position) for _, minute, position in candidates[:k]]

    def events_between(
        self,
        start_ms: int,
        end_ms: int,
        *,
        min_usd: float = 0.0,
        limit: int = 100_000,
        assets: frozenset[str] = frozenset(),
        side: Side | None = None,
        exchanges: frozenset[str] = frozenset(),
    ) -> list[Liquidation]:
        """Return the counted events with start_ms <= ts < end_ms and at least min_usd, oldest
        first (at most `limit`, the newest kept); only of these assets, side and exchanges if
        given (filtered on the columns, before any record is built)."""
        asset_ids = [self._assets[a] for a in assets if a in self._assets]
        exchange_ids = [self._exchanges[e] for e in exchanges if e in self._exchanges]
        if (assets and not asset_ids) or (exchanges and not exchange_ids):
            return []
        side_id = None if side is None else SIDES.index(side)
        found: list[tuple[int, int, int]] = []  # (ts, minute, position)
        for minute in self._minutes(start_ms // MINUTE_MS, (end_ms - 1) // MINUTE_MS):
            chunk = self._chunks[minute]
            ts = np.frombuffer(chunk.ts, dtype=np.int64)
            usd = np.frombuffer(chunk.usd, dtype=np.float64)
            keep = (ts >= start_ms) & (ts < end_ms) & (usd >= min_usd)
            if asset_ids or exchange_ids or side_id is not None:
                keys = np.frombuffer(chunk.key, dtype=np.int32)
                keep &= key_mask(keys, asset_ids, exchange_ids, side_id)
                del keys
            positions = np.flatnonzero(keep)
            found.extend((int(ts[p]), minute, int(p)) for p in positions.tolist())
            del ts, usd
        found.sort()
        return [self._record_at(minute, position) for _, minute, position in found[-limit:]]

    def _record_at(self, minute: int, position: int) -> Liquidation:
        chunk = self._chunks[minute]
        return self._record(
            chunk.inst[position],
            chunk.ts[position],
            chunk.key[position] % 2,
            chunk.qty[position],
            chunk.price[position],
            chunk.usd[position],
            chunk.recv[position],
        )

    def instruments_since(self, exchange: str, since_ms: int) -> list[Instrument]:
        """Return the instruments of an exchange with a counted event at or after since_ms."""
        exchange_index = self._exchanges.get(exchange)
        if exchange_index is None:
            return []
        seen: set[int] = set()
        for minute in self._minutes(since_ms // MINUTE_MS, max(self._chunks, default=0)):
            chunk = self._chunks[minute]
            ts = np.frombuffer(chunk.ts, dtype=np.int64)
            inst = np.frombuffer(chunk.inst, dtype=np.int32)
            seen.update(np.unique(inst[ts >= since_ms]).tolist())
            del ts, inst
        return sorted(
            (self.instruments[i] for i in seen if self.instruments[i].exchange == exchange),
            key=lambda i: (i.market, i.symbol),
        )

    def price_sums(
        self, asset: str, starts_ms: Sequence[int], end_ms: int
    ) -> list[tuple[float, float]]:
        """Return (sum of usd * price, sum of usd) of an asset's events in [start, end_ms) for
        each start: the parts of a USD-weighted average liquidation price. Scans the events."""
        asset_index = self._assets.get(asset)
        if asset_index is None or not starts_ms:
            return [(0.0, 0.0) for _ in starts_ms]
        first = min(starts_ms)
        chunks = [
            self._chunks[m] for m in self._minutes(first // MINUTE_MS, (end_ms - 1) // MINUTE_MS)
        ]
        if not chunks:
            return [(0.0, 0.0) for _ in starts_ms]
        ts = np.concatenate([np.frombuffer(c.ts, dtype=np.int64) for c in chunks])
        key = np.concatenate([np.frombuffer(c.key, dtype=np.int32) for c in chunks])
        usd = np.concatenate([np.frombuffer(c.usd, dtype=np.float64) for c in chunks])
        price = np.concatenate([np.frombuffer(c.price, dtype=np.float64) for c in chunks])
        keep = (key // (MAX_EXCHANGES * 2) == asset_index) & (ts < end_ms)
        ts, usd, price = ts[keep], usd[keep], price[keep]
        result = []
        for start in starts_ms:
            inside = ts >= start
            result.append((float((usd[inside] * price[inside]).sum()), float(usd[inside].sum())))
        return result

    @property
    def events_in_memory(self) -> int:
        """Return how many events the chunks hold."""
        return sum(len(chunk) for chunk in self._chunks.values())


def _top_positions(usd: FloatArray, k: int) -> IntArray:
    """Return the positions of the k largest values, largest first (ties: earliest first)."""
    if len(usd) <= k:
        order = np.argsort(-usd, kind="stable")
    else:
        part = np.argpartition(-usd, k - 1)[:k]
        order = part[np.lexsort((part, -usd[part]))]
    return order.astype(np.int64)


def matching_keys(
    keys: npt.NDArray[np.int32],
    positions: IntArray,
    asset: int | None,
    exchange: int | None,
    side: int | None,
) -> IntArray:
    """Return the positions whose key has this asset, exchange and side (None: any)."""
    wanted_assets = () if asset is None else (asset,)
    wanted_exchanges = () if exchange is None else (exchange,)
    return positions[key_mask(keys[positions], wanted_assets, wanted_exchanges, side)]


def key_mask(
    keys: npt.NDArray[np.int32],
    assets: Sequence[int],
    exchanges: Sequence[int],
    side: int | None,
) -> npt.NDArray[np.bool_]:
    """Return which keys have one of these assets and exchanges (empty: any) and this side
    (None: any): the one place that reads a key's parts."""
    keep = np.ones(len(keys), dtype=bool)
    if assets:
        keep &= np.isin(keys // (MAX_EXCHANGES * 2), assets)
    if exchanges:
        keep &= np.isin(keys // 2 % MAX_EXCHANGES, exchanges)
    if side is not None:
        keep &= keys % 2 == side
    return keep
