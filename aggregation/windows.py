"""Keep rolling-window totals, leaderboards and latest events of liquidations in memory.

Events are stored column-wise in one chunk per minute of EVENT time (so a late event lands in its
own minute) at about 48 bytes each. Window totals per (asset, exchange, side) are maintained
incrementally: `add` only appends, and `advance(now)` folds the seconds that entered and left
each window in vectorized batches. A query therefore costs O(assets), never O(events in window).

Window semantics (exact to the second): at time `now_ms`, a window of W seconds holds the
events whose second `ts_ms // 1000` lies in `(now_ms // 1000 - W, now_ms // 1000]`.
"""

from __future__ import annotations

import enum
from array import array
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import msgspec
import numpy as np
import numpy.typing as npt

from collectors.record import Liquidation, Side

DEFAULT_WINDOWS_S = (180, 900, 3600, 14400, 86400)
# Memory keeps at least a day, whatever the windows: daily summaries read it.
MIN_RETENTION_S = 86400
MAX_EXCHANGES = 8  # key layout: ((asset * MAX_EXCHANGES) + exchange) * 2 + side
_MINUTE_MS = 60_000

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


class Outcome(enum.Enum):
    """What `WindowStore.add` did with an event."""

    COUNTED = "counted"
    DUPLICATE = "duplicate"
    STALE = "stale"  # older than every window: stored on disk only


@dataclass(slots=True)
class IngestCounters:
    """Running totals of ingest outcomes."""

    counted: int = 0
    duplicates: int = 0
    stale: int = 0
    clamped: int = 0  # event time too far in the future: set to the receive time


@dataclass(frozen=True, slots=True)
class Instrument:
    """An instrument as the store knows it."""

    exchange: str
    market: str
    symbol: str
    base: str


class _Chunk:
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


@dataclass(slots=True)
class _Pending:
    """Events that arrived for seconds already folded into the window totals."""

    sec: array[int] = field(default_factory=lambda: array("q"))
    key: array[int] = field(default_factory=lambda: array("i"))
    usd: array[float] = field(default_factory=lambda: array("d"))


class WindowStore:
    """Rolling windows, leaderboards, largest and latest liquidations, in memory."""

    def __init__(
        self,
        windows_s: Sequence[int] = DEFAULT_WINDOWS_S,
        *,
        future_tolerance_ms: int = 5_000,
        recent_keys: int = 100_000,
        min_retention_s: int = MIN_RETENTION_S,
    ) -> None:
        if not windows_s or any(w <= 0 for w in windows_s):
            raise ValueError("windows must be positive numbers of seconds")
        self.windows_s = tuple(sorted(set(windows_s)))
        self.retention_s = max(*self.windows_s, min_retention_s)
        self.counters = IngestCounters()
        self._future_tolerance_ms = future_tolerance_ms
        # Names <-> indices.
        self._inst_index: dict[tuple[str, str, str], int] = {}
        self.instruments: list[Instrument] = []
        self._inst_key_base: list[int] = []
        self._assets: dict[str, int] = {}
        self.asset_names: list[str] = []
        self._exchanges: dict[str, int] = {}
        self.exchange_names: list[str] = []
        # Events and totals.
        self._chunks: dict[int, _Chunk] = {}
        self._capacity_assets = 64
        n_keys = self._capacity_assets * MAX_EXCHANGES * 2
        self._usd: FloatArray = np.zeros((len(self.windows_s), n_keys))
        self._count: IntArray = np.zeros((len(self.windows_s), n_keys), dtype=np.int64)
        self._folded_sec: int | None = None  # totals are exact as of this second
        self._pending = _Pending()
        self._clock_ms = 0  # the newest receive time (or advance time) seen
        # Duplicate detection. The hashes of the last `recent_keys` identities catch live
        # re-deliveries cheaply; a hash hit is confirmed against the stored columns, and an
        # event no newer than the newest evicted one is always checked against the columns.
        self._recent: set[int] = set()
        self._recent_order: deque[tuple[int, int]] = deque()  # (hash, ts)
        self._recent_capacity = recent_keys
        self._evicted_max_ts = -1

    # --- names ----------------------------------------------------------------------------

    def _instrument(self, exchange: str, market: str, symbol: str, base: str) -> int:
        index = self._inst_index.get((exchange, market, symbol))
        if index is not None:
            return index
        exchange_index = self._exchanges.get(exchange)
        if exchange_index is None:
            if len(self.exchange_names) == MAX_EXCHANGES:
                raise ValueError(f"more than {MAX_EXCHANGES} exchanges")
            exchange_index = self._exchanges[exchange] = len(self.exchange_names)
            self.exchange_names.append(exchange)
        asset_index = self._assets.get(base)
        if asset_index is None:
            asset_index = self._assets[base] = len(self.asset_names)
            self.asset_names.append(base)
            if len(self.asset_names) > self._capacity_assets:
                self._grow()
        index = self._inst_index[(exchange, market, symbol)] = len(self.instruments)
        self.instruments.append(Instrument(exchange, market, symbol, base))
        self._inst_key_base.append((asset_index * MAX_EXCHANGES + exchange_index) * 2)
        return index

    def _grow(self) -> None:
        self._capacity_assets *= 2
        n_keys = self._capacity_assets * MAX_EXCHANGES * 2
        usd = np.zeros((len(self.windows_s), n_keys))
        count = np.zeros((len(self.windows_s), n_keys), dtype=np.int64)
        usd[:, : self._usd.shape[1]] = self._usd
        count[:, : self._count.shape[1]] = self._count
        self._usd, self._count = usd, count

    def asset_index(self, asset: str) -> int | None:
        """Return the index of an asset name, or None if it was never seen."""
        return self._assets.get(asset)

    # --- ingest ---------------------------------------------------------------------------

    def add(self, record: Liquidation) -> Outcome:
        """Count one event (unless duplicate or older than every window); never raises."""
        counters = self.counters
        recv = record.recv_ms
        if recv > self._clock_ms:
            self._clock_ms = recv
        ts = record.ts_ms
        if ts > recv + self._future_tolerance_ms:
            ts = recv
            record = msgspec.structs.replace(record, ts_ms=ts)
            counters.clamped += 1
        if ts // 1000 <= self._clock_ms // 1000 - self.retention_s:
            counters.stale += 1
            return Outcome.STALE
        inst = self._inst_index.get((record.exchange, record.market, record.symbol))
        if inst is None:
            inst = self._instrument(record.exchange, record.market, record.symbol, record.base)
        side = 0 if record.side is Side.LONG else 1
        identity = (inst, ts, side, record.qty_base, record.price)
        digest = hash(identity)
        recent = self._recent
        if (digest in recent or ts <= self._evicted_max_ts) and self._stored(identity):
            counters.duplicates += 1
            return Outcome.DUPLICATE
        recent.add(digest)
        order = self._recent_order
        order.append((digest, ts))
        if len(order) > self._recent_capacity:
            old_digest, old_ts = order.popleft()
            recent.discard(old_digest)  # a colliding newer digest is re-checked exactly
            if old_ts > self._evicted_max_ts:
                self._evicted_max_ts = old_ts
        key = self._inst_key_base[inst] + side
        usd = record.notional_usd
        minute = ts // _MINUTE_MS
        chunk = self._chunks.get(minute)
        if chunk is None:
            chunk = self._chunks[minute] = _Chunk()
        chunk.ts.append(ts)
        chunk.key.append(key)
        chunk.inst.append(inst)
        chunk.usd.append(usd)
        chunk.price.append(record.price)
        chunk.qty.append(record.qty_base)
        chunk.recv.append(recv)
        chunk.top = None
        folded = self._folded_sec
        if folded is not None and ts // 1000 <= folded:
            pending = self._pending
            pending.sec.append(ts // 1000)
            pending.key.append(key)
            pending.usd.append(usd)
        counters.counted += 1
        return Outcome.COUNTED

    def add_many(self, records: Iterable[Liquidation]) -> IngestCounters:
        """Add records in order; return the outcome counts of this call."""
        result = IngestCounters()
        before = self.counters.clamped
        for record in records:
            outcome = self.add(record)
            if outcome is Outcome.COUNTED:
                result.counted += 1
            elif outcome is Outcome.DUPLICATE:
                result.duplicates += 1
            else:
                result.stale += 1
        result.clamped = self.counters.clamped - before
        return result

    def _stored(self, identity: tuple[int, int, int, float, float]) -> bool:
        """Compare against the stored columns of the event's minute (the exact, slower path)."""
        inst, ts, side, qty, price = identity
        chunk = self._chunks.get(ts // _MINUTE_MS)
        if chunk is None:
            return False
        positions = np.flatnonzero(np.frombuffer(chunk.ts, dtype=np.int64) == ts)
        for position in positions.tolist():
            if (
                chunk.inst[position] == inst
                and chunk.key[position] % 2 == side
                and chunk.qty[position] == qty
                and chunk.price[position] == price
            ):
                return True
        return False

    def load(self, events: npt.NDArray[np.void], instruments: Sequence[Instrument]) -> int:
        """Bulk-load stored events (EVENT_DTYPE, `inst` indexing `instruments`), sorted by ts.

        Used at start-up before any live event; returns how many were loaded.
        """
        if self._chunks or self._folded_sec is not None:
            raise RuntimeError("load() must run before any other event")
        if len(events) == 0:
            return 0
        mapping = np.array(
            [self._instrument(i.exchange, i.market, i.symbol, i.base) for i in instruments],
            dtype=np.int64,
        )
        inst = mapping[events["inst"]]
        key = np.asarray(self._inst_key_base, dtype=np.int64)[inst] + events["side"]
        ts = events["ts"]
        minutes = ts // _MINUTE_MS
        bounds = np.flatnonzero(np.diff(minutes)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [len(ts)]))
        columns = {
            "ts": ts.astype(np.int64),
            "key": key.astype(np.int32),
            "inst": inst.astype(np.int32),
            "usd": events["usd"].astype(np.float64),
            "price": events["price"].astype(np.float64),
            "qty": events["qty"].astype(np.float64),
            "recv": events["recv"].astype(np.int64),
        }
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            chunk = self._chunks[int(minutes[start])] = _Chunk()
            for name, column in columns.items():
                getattr(chunk, name).frombytes(column[start:end].tobytes())
        self._clock_ms = max(self._clock_ms, int(events["recv"].max()))
        self._evicted_max_ts = int(ts.max())  # none of these is in the recent-key set
        self.counters.counted += len(events)
        return len(events)

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

    # --- time -----------------------------------------------------------------------------

    def advance(self, now_ms: int) -> int:
        """Bring every window up to `now_ms` (never backwards); return the folded second."""
        now_sec = max(now_ms, self._clock_ms) // 1000
        folded = self._folded_sec
        if folded is not None and now_sec <= folded:
            self._fold_pending(folded)  # events that arrived for already-folded seconds
            return folded
        longest = self.windows_s[-1]
        if folded is None or now_sec - folded >= longest:
            self._rebuild_totals(now_sec)
        else:
            self._fold_pending(folded)
            keys, usd = self._slice(folded + 1, now_sec)
            self._apply(slice(None), keys, usd, 1)
            for index, window in enumerate(self.windows_s):
                keys, usd = self._slice(folded - window + 1, now_sec - window)
                self._apply(index, keys, usd, -1)
            # Float residue of add-then-subtract must not show as a non-zero total.
            self._usd[self._count == 0] = 0.0
        self._folded_sec = now_sec
        self._clock_ms = max(self._clock_ms, now_sec * 1000)
        self._drop_old(now_sec)
        return now_sec

    def _rebuild_totals(self, now_sec: int) -> None:
        self._pending = _Pending()
        self._usd[:] = 0.0
        self._count[:] = 0
        for index, window in enumerate(self.windows_s):
            keys, usd = self._slice(now_sec - window + 1, now_sec)
            self._apply(index, keys, usd, 1)

    def _fold_pending(self, folded: int) -> None:
        pending = self._pending
        if not pending.sec:
            return
        sec = np.frombuffer(pending.sec, dtype=np.int64)
        keys = np.frombuffer(pending.key, dtype=np.int32)
        usd = np.frombuffer(pending.usd, dtype=np.float64)
        for index, window in enumerate(self.windows_s):
            inside = sec > folded - window
            self._apply(index, keys[inside], usd[inside], 1)
        del sec, keys, usd  # release the buffers before the arrays are replaced
        self._pending = _Pending()

    def _apply(
        self, rows: int | slice, keys: npt.NDArray[np.int32], usd: FloatArray, sign: int
    ) -> None:
        if len(keys) == 0:
            return
        n_keys = self._usd.shape[1]
        self._usd[rows] += sign * np.bincount(keys, weights=usd, minlength=n_keys)
        self._count[rows] += sign * np.bincount(keys, minlength=n_keys)

    def _slice(self, first_sec: int, last_sec: int) -> tuple[npt.NDArray[np.int32], FloatArray]:
        """Return (keys, usd) of the events whose second lies in [first_sec, last_sec]."""
        return self._slice_ms(first_sec * 1000, (last_sec + 1) * 1000)

    def _slice_ms(self, lo_ms: int, hi_ms: int) -> tuple[npt.NDArray[np.int32], FloatArray]:
        """Return (keys, usd) of the events with lo_ms <= ts < hi_ms."""
        if hi_ms <= lo_ms:
            return np.empty(0, dtype=np.int32), np.empty(0)
        keys: list[npt.NDArray[np.int32]] = []
        usds: list[FloatArray] = []
        for minute in self._minutes(lo_ms // _MINUTE_MS, (hi_ms - 1) // _MINUTE_MS):
            chunk = self._chunks[minute]
            key = np.frombuffer(chunk.key, dtype=np.int32)
            usd = np.frombuffer(chunk.usd, dtype=np.float64)
            if minute * _MINUTE_MS >= lo_ms and (minute + 1) * _MINUTE_MS <= hi_ms:
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

    def _drop_old(self, now_sec: int) -> None:
        horizon_minute = (now_sec - self.retention_s + 1) * 1000 // _MINUTE_MS
        for minute in [m for m in self._chunks if m < horizon_minute]:
            del self._chunks[minute]

    # --- reads ----------------------------------------------------------------------------

    def totals(self, now_ms: int) -> tuple[FloatArray, IntArray]:
        """Return (usd, count), each shaped (windows, assets, MAX_EXCHANGES, 2), as of now."""
        self.advance(now_ms)
        n_assets = len(self.asset_names)
        shape = (len(self.windows_s), n_assets, MAX_EXCHANGES, 2)
        n_keys = n_assets * MAX_EXCHANGES * 2
        return (
            self._usd[:, :n_keys].reshape(shape),
            self._count[:, :n_keys].reshape(shape),
        )

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
            self._chunks[m]
            for m in self._minutes(start_ms // _MINUTE_MS, (end_ms - 1) // _MINUTE_MS)
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
        for minute in self._minutes(start_ms // _MINUTE_MS, (end_ms - 1) // _MINUTE_MS):
            chunk = self._chunks[minute]
            usd = np.frombuffer(chunk.usd, dtype=np.float64)
            if minute * _MINUTE_MS >= start_ms and (minute + 1) * _MINUTE_MS <= end_ms:
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
        arrival), newest first; only of one asset, side or exchange if given."""
        if n <= 0:
            return []
        asset_index = None
        if asset is not None:
            asset_index = self._assets.get(asset)
            if asset_index is None:
                return []
        exchange_index = None
        if exchange is not None:
            exchange_index = self._exchanges.get(exchange)
            if exchange_index is None:
                return []
        side_index = None if side is None else SIDES.index(side)
        # Only events still within retention count, whatever minute chunk still holds them.
        horizon_ms = (
            max(self._folded_sec or 0, self._clock_ms // 1000) - self.retention_s + 1
        ) * 1000
        found: list[tuple[int, int, int]] = []  # (ts, minute, position)
        for minute in sorted(self._chunks, reverse=True):
            if len(found) >= n and found[n - 1][0] >= (minute + 1) * _MINUTE_MS:
                break  # every older minute holds only older events
            if (minute + 1) * _MINUTE_MS <= horizon_ms:
                break
            chunk = self._chunks[minute]
            ts = np.frombuffer(chunk.ts, dtype=np.int64)
            positions = np.flatnonzero(ts >= horizon_ms)
            if min_usd > 0:
                usd = np.frombuffer(chunk.usd, dtype=np.float64)
                positions = positions[usd[positions] >= min_usd]
                del usd
            if asset_index is not None or exchange_index is not None or side_index is not None:
                positions = _matching(
                    np.frombuffer(chunk.key, dtype=np.int32),
                    positions,
                    asset_index,
                    exchange_index,
                    side_index,
                )
            newest = positions[np.lexsort((-positions, -ts[positions]))][:n]
            found.extend((int(ts[p]), minute, int(p)) for p in newest.tolist())
            del ts
            found.sort(key=lambda item: (-item[0], -item[1], -item[2]))
            del found[n:]
        return [self._record_at(minute, position) for _, minute, position in found]

    def events_between(
        self, start_ms: int, end_ms: int, *, min_usd: float = 0.0, limit: int = 100_000
    ) -> list[Liquidation]:
        """Return the counted events with start_ms <= ts < end_ms and at least min_usd, oldest
        first (at most `limit`, the newest kept)."""
        found: list[tuple[int, int, int]] = []  # (ts, minute, position)
        for minute in self._minutes(start_ms // _MINUTE_MS, (end_ms - 1) // _MINUTE_MS):
            chunk = self._chunks[minute]
            ts = np.frombuffer(chunk.ts, dtype=np.int64)
            usd = np.frombuffer(chunk.usd, dtype=np.float64)
            positions = np.flatnonzero((ts >= start_ms) & (ts < end_ms) & (usd >= min_usd))
            found.extend((int(ts[p]), minute, int(p)) for p in positions.tolist())
            del ts, usd
        found.sort()
        return [self._record_at(minute, position) for _, minute, position in found[-limit:]]

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
            self._chunks[m] for m in self._minutes(first // _MINUTE_MS, (end_ms - 1) // _MINUTE_MS)
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
        for minute in self._minutes(since_ms // _MINUTE_MS, max(self._chunks, default=0)):
            chunk = self._chunks[minute]
            ts = np.frombuffer(chunk.ts, dtype=np.int64)
            inst = np.frombuffer(chunk.inst, dtype=np.int32)
            seen.update(np.unique(inst[ts >= since_ms]).tolist())
            del ts, inst
        return sorted(
            (self.instruments[i] for i in seen if self.instruments[i].exchange == exchange),
            key=lambda i: (i.market, i.symbol),
        )

    @property
    def events_in_memory(self) -> int:
        """Return how many events the chunks hold."""
        return sum(len(chunk) for chunk in self._chunks.values())

    @property
    def clock_ms(self) -> int:
        """Return the newest receive or advance time seen."""
        return self._clock_ms


def _matching(
    keys: npt.NDArray[np.int32],
    positions: IntArray,
    asset: int | None,
    exchange: int | None,
    side: int | None,
) -> IntArray:
    """Return the positions whose key has this asset, exchange and side (None: any)."""
    selected = keys[positions]
    keep = np.ones(len(positions), dtype=bool)
    if asset is not None:
        keep &= selected // (MAX_EXCHANGES * 2) == asset
    if exchange is not None:
        keep &= selected // 2 % MAX_EXCHANGES == exchange
    if side is not None:
        keep &= selected % 2 == side
    return positions[keep]


def _top_positions(usd: FloatArray, k: int) -> IntArray:
    """Return the positions of the k largest values, largest first (ties: earliest first)."""
    if len(usd) <= k:
        order = np.argsort(-usd, kind="stable")
    else:
        part = np.argpartition(-usd, k - 1)[:k]
        order = part[np.lexsort((part, -usd[part]))]
    return order.astype(np.int64)
