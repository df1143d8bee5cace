"""Keep rolling-window totals, leaderboards and latest events of liquidations in memory.

Events are kept by `aggregation.events.EventLog` (column-wise, one chunk per minute of EVENT
time). Window totals per (asset, exchange, side) are maintained incrementally: `add` only
appends, and `advance(now)` folds the seconds that entered and left each window in vectorized
batches. A query therefore costs O(assets), never O(events in window).

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

from aggregation.events import (
    MAX_EXCHANGES,
    MINUTE_MS,
    Chunk,
    EventLog,
    FloatArray,
    Instrument,
    IntArray,
    matching_keys,
)
from collectors.record import Liquidation, Side

DEFAULT_WINDOWS_S = (180, 900, 3600, 14400, 86400)
# Memory keeps at least a day, whatever the windows: daily summaries read it.
MIN_RETENTION_S = 86400


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


@dataclass(slots=True)
class _Pending:
    """Events that arrived for seconds already folded into the window totals."""

    sec: array[int] = field(default_factory=lambda: array("q"))
    key: array[int] = field(default_factory=lambda: array("i"))
    usd: array[float] = field(default_factory=lambda: array("d"))


class WindowStore(EventLog):
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
        super().__init__()  # the events and the names they refer to
        # Names -> indices and totals keys.
        self._inst_index: dict[tuple[str, str, str], int] = {}
        self._inst_key_base: list[int] = []
        # Totals.
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
        minute = ts // MINUTE_MS
        chunk = self._chunks.get(minute)
        if chunk is None:
            chunk = self._chunks[minute] = Chunk()
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
        chunk = self._chunks.get(ts // MINUTE_MS)
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
        minutes = ts // MINUTE_MS
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
            chunk = self._chunks[int(minutes[start])] = Chunk()
            for name, column in columns.items():
                getattr(chunk, name).frombytes(column[start:end].tobytes())
        self._clock_ms = max(self._clock_ms, int(events["recv"].max()))
        self._evicted_max_ts = int(ts.max())  # none of these is in the recent-key set
        self.counters.counted += len(events)
        return len(events)

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

    def _drop_old(self, now_sec: int) -> None:
        horizon_minute = (now_sec - self.retention_s + 1) * 1000 // MINUTE_MS
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
        wanted = self.key_filter(asset, exchange, side)
        if wanted is None:
            return []
        asset_index, exchange_index, side_index = wanted
        # Only events still within retention count, whatever minute chunk still holds them.
        horizon_ms = (
            max(self._folded_sec or 0, self._clock_ms // 1000) - self.retention_s + 1
        ) * 1000
        found: list[tuple[int, int, int]] = []  # (ts, minute, position)
        for minute in sorted(self._chunks, reverse=True):
            if len(found) >= n and found[n - 1][0] >= (minute + 1) * MINUTE_MS:
                break  # every older minute holds only older events
            if (minute + 1) * MINUTE_MS <= horizon_ms:
                break
            chunk = self._chunks[minute]
            ts = np.frombuffer(chunk.ts, dtype=np.int64)
            positions = np.flatnonzero(ts >= horizon_ms)
            if min_usd > 0:
                usd = np.frombuffer(chunk.usd, dtype=np.float64)
                positions = positions[usd[positions] >= min_usd]
                del usd
            if asset_index is not None or exchange_index is not None or side_index is not None:
                positions = matching_keys(
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

    @property
    def clock_ms(self) -> int:
        """Return the newest receive or advance time seen."""
        return self._clock_ms
