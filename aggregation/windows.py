"""Keep rolling-window totals, leaderboards, largest and newest liquidations in bounded memory.

Events go into time buckets per (asset, exchange, side) key: one dense row per minute of the
retained day (`aggregation.buckets.MinuteRing`) and per-second sums for the minutes a window
edge needs (`aggregation.edges`). Each configured window keeps exact running totals per key
(`aggregation.rolling`): `add` only appends to a batch; `advance(now)` folds the batch in and
moves every window on, in vectorized steps. A query costs O(keys), never O(events).

Window semantics (exact to the second): at time `now_ms`, a window of W seconds holds the
events whose second `ts_ms // 1000` lies in `(now_ms // 1000 - W, now_ms // 1000]`.

Memory is bounded by the number of keys, not by the event rate: the minute rows, the per-second
sums of at most `detail_s` recent seconds and of the window edges, the TOP_K largest events of
each second (`aggregation.tops`), the newest events (`aggregation.recent`) and the identities of
recent events for telling re-deliveries (`aggregation.identity`).
"""

from __future__ import annotations

import enum
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from aggregation.batch import Batch, empty_future
from aggregation.buckets import MinuteRing
from aggregation.edges import DetailLoader, Edges
from aggregation.identity import Identities, identity
from aggregation.keys import FloatArray, Instrument, IntArray, Names
from aggregation.prices import PriceSums
from aggregation.recent import Newest
from aggregation.rolling import Rolling
from aggregation.snapshot import MinuteSums
from aggregation.tops import TOP_DTYPE, TOP_K, MinuteTops, best_per_second
from aggregation.window_reads import TotalsView, WindowReads
from collectors.record import Liquidation, Side

DEFAULT_WINDOWS_S = (180, 900, 3600, 14400, 86400)
DAY_S = 86400
# Memory keeps at least a day, whatever the windows: daily summaries read it.
MIN_RETENTION_S = 86400
MINUTE_S = 60
MINUTE_MS = 60_000
# The batch is folded in at least this often (seconds of clock) and at this size, even
# without a query, so it stays small.
FOLD_EVERY_S = 30
FOLD_AT = 32_768
# With a database: seconds of per-second sums kept from live events (the 3 and 15 minute
# windows' edges, and sub-minute chart buckets, without a read), and event identities kept.
DETAIL_S = 16 * 60
IDENTITIES = 300_000


class Outcome(enum.Enum):
    """What `WindowStore.add` did with an event."""

    COUNTED = "counted"
    DUPLICATE = "duplicate"
    STALE = "stale"  # older than every window: stored on disk only
    PENDING = "pending"  # older than what memory can tell new: the database decides


@dataclass(slots=True)
class IngestCounters:
    """Running totals of ingest outcomes."""

    counted: int = 0
    duplicates: int = 0
    stale: int = 0
    clamped: int = 0  # event time too far in the future: set to the receive time
    pending: int = 0  # waiting for the database to tell new from re-delivered
    edge_waits: int = 0  # times a window edge waited for a minute's per-second sums


class WindowStore(WindowReads):
    """Rolling windows, leaderboards, largest and newest liquidations, in bounded memory."""

    def __init__(
        self,
        windows_s: Sequence[int] = DEFAULT_WINDOWS_S,
        *,
        future_tolerance_ms: int = 5_000,
        recent_keys: int | None = None,
        min_retention_s: int = MIN_RETENTION_S,
    ) -> None:
        if not windows_s or any(w <= 0 for w in windows_s):
            raise ValueError("windows must be positive numbers of seconds")
        self.windows_s = tuple(sorted(set(windows_s)))
        self.retention_s = max(*self.windows_s, min_retention_s)
        self.counters = IngestCounters()
        self.names = Names()
        self._future_tolerance_ms = future_tolerance_ms
        self._identity_cap = recent_keys
        # Rows for every minute from the retention floor to the newest clamped event time, with
        # the clock at most FOLD_EVERY_S ahead of the fold.
        rows = (self.retention_s + FOLD_EVERY_S + future_tolerance_ms // 1000) // MINUTE_S + 3
        self.ring = MinuteRing(rows)
        self.market = MinuteRing(rows)  # per (exchange, side): market charts read only this
        # The day is always kept too: relative cascade thresholds read it at once.
        self.tracked_s = tuple(sorted({*self.windows_s, DAY_S}))
        self._configured = [self.tracked_s.index(w) for w in self.windows_s]
        self.rolling = Rolling(self.tracked_s, self.ring.capacity)
        self.edges = Edges(self)
        self.tops: dict[int, MinuteTops] = {}
        self._ids = Identities()
        self._newest = Newest()
        self._prices = PriceSums(rows)
        self._batch = Batch()
        self._future: tuple[IntArray, IntArray, FloatArray] = empty_future()
        self._clock_ms = 0  # the newest receive or advance time seen
        self._seq = 0
        self._inst_last_ms = array("q")
        self._floor_minute: int | None = None
        self._view: tuple[int, TotalsView] | None = None
        self._version = 0

    # --- names ----------------------------------------------------------------------------

    def instrument(self, exchange: str, market: str, symbol: str, base: str) -> int:
        """Return an instrument's index, numbering it (and growing the key columns) if new."""
        index = self.names.lookup(exchange, market, symbol)
        if index is None:
            index = self._number(exchange, market, symbol, base)
            self._grow()
        return index

    def name_instruments(self, instruments: Iterable[Instrument]) -> list[int]:
        """Return the indices of many instruments, growing the key columns once (a restart)."""
        indices = []
        for i in instruments:
            index = self.names.lookup(i.exchange, i.market, i.symbol)
            if index is None:
                index = self._number(i.exchange, i.market, i.symbol, i.base)
            indices.append(index)
        self._grow()
        return indices

    def _number(self, exchange: str, market: str, symbol: str, base: str) -> int:
        self._inst_last_ms.append(-1)
        self._version += 1  # a new asset or exchange changes the shape of every total
        return self.names.instrument(exchange, market, symbol, base)

    def _grow(self) -> None:
        names = self.names
        if self.ring.reserve(names.n_keys):
            self.rolling.reserve(self.ring.capacity)
        self.market.reserve(2 * len(names.exchange_names))
        self._prices.reserve(len(names.asset_names))

    # --- ingest ---------------------------------------------------------------------------

    def add(self, record: Liquidation) -> Outcome:
        """Count one event (unless re-delivered, older than every window, or not decidable
        here); never raises."""
        counters = self.counters
        recv = record.recv_ms
        if recv > self._clock_ms:
            self._clock_ms = recv
        ts = record.ts_ms
        if ts > recv + self._future_tolerance_ms:
            ts = recv
            record = msgspec.structs.replace(record, ts_ms=ts)
            counters.clamped += 1
        stale = ts // 1000 <= self._clock_ms // 1000 - self.retention_s
        inst = self.instrument(record.exchange, record.market, record.symbol, record.base)
        side = 0 if record.side is Side.LONG else 1
        ids = self._ids
        if not ids.known(ts):
            counters.pending += 1
            return Outcome.PENDING
        key = identity(ts, inst, side, record.qty_base, record.price)
        if ids.seen(ts, key):
            if stale:
                counters.stale += 1
                return Outcome.STALE
            counters.duplicates += 1
            return Outcome.DUPLICATE
        ids.add(ts, key)
        self._take(record, inst, side, live=True, stale=stale)
        if stale:
            counters.stale += 1
            return Outcome.STALE
        counters.counted += 1
        return Outcome.COUNTED

    def add_verified(self, record: Liquidation, new: bool) -> Outcome:
        """Count a PENDING event now that the database has told whether it was new."""
        counters = self.counters
        counters.pending -= 1
        if not new:
            counters.duplicates += 1
            return Outcome.DUPLICATE
        stale = record.ts_ms // 1000 <= self._clock_ms // 1000 - self.retention_s
        inst = self.instrument(record.exchange, record.market, record.symbol, record.base)
        self._take(record, inst, 0 if record.side is Side.LONG else 1, live=False, stale=stale)
        if stale:
            counters.stale += 1
            return Outcome.STALE
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
            elif outcome is Outcome.PENDING:
                result.pending += 1
            else:
                result.stale += 1
        result.clamped = self.counters.clamped - before
        return result

    def _take(self, record: Liquidation, inst: int, side: int, *, live: bool, stale: bool) -> None:
        """Batch an event for the next fold (a stale one only if its minute is still held)."""
        ts = record.ts_ms
        floor = self._floor_minute
        if stale and floor is not None and ts // MINUTE_MS < floor:
            return  # its minute left memory: the database has it
        self._seq += 1
        batch = self._batch
        batch.ts.append(ts)
        batch.key.append(self.names.inst_key[inst] + side)
        batch.usd.append(record.notional_usd)
        batch.inst.append(inst)
        batch.side.append(side)
        batch.qty.append(record.qty_base)
        batch.price.append(record.price)
        batch.recv.append(record.recv_ms)
        batch.seq.append(self._seq)
        batch.live.append(live)
        if not stale:
            self._newest.add(record, self._seq)
            if ts > self._inst_last_ms[inst]:
                self._inst_last_ms[inst] = ts
        folded = self.rolling.folded
        if len(batch) >= FOLD_AT or (
            folded is not None and self._clock_ms // 1000 - folded > FOLD_EVERY_S
        ):
            self.advance(self._clock_ms, ask=False)

    # --- time -----------------------------------------------------------------------------

    def advance(self, now_ms: int, *, ask: bool = True) -> int:
        """Fold in the batch and bring every window up to `now_ms` (never backwards); return
        the folded second. `ask`: request the edge minutes' sums that memory lacks (not from
        inside `add`, whose event reaches the database only after it returns)."""
        rolling = self.rolling
        now_sec = max(now_ms, self._clock_ms) // 1000
        if rolling.folded is None:
            rolling.start(now_sec)
            self._floor_minute = (now_sec - self.retention_s + 1) // MINUTE_S
        now_sec = max(now_sec, rolling.folded or now_sec)
        moved = now_sec != rolling.folded
        if not moved and not len(self._batch) and not len(self._future[0]):
            return now_sec
        sec, keys, usd = self._fold_batch()
        due_sec, due_keys, due_usd = self._due(sec, keys, usd, now_sec)
        rolling.enter(due_sec, due_keys, due_usd, now_sec)
        for w, window in enumerate(self.tracked_s):
            waiting = rolling.leave(w, now_sec - window, self.ring, self.edges.sums)
            if waiting is not None:
                self.edges.waiting(w, waiting, ask)
        rolling.folded = now_sec
        rolling.settle()
        if moved:
            self._move_floor(now_sec)
        self.edges.after_fold(now_sec, ask)
        self._version += 1
        return now_sec

    def _fold_batch(self) -> tuple[IntArray, IntArray, FloatArray]:
        """Put the batch into the minute rows, per-second sums and largest; return its
        (second, key, usd) columns. Events of minutes memory does not hold are left out."""
        batch = self._batch
        if not len(batch):
            return empty_future()
        self._batch = Batch()
        events = np.empty(len(batch), dtype=TOP_DTYPE)
        for name in ("ts", "seq", "recv"):
            events[name] = np.frombuffer(getattr(batch, name), dtype=np.int64)
        for name in ("usd", "qty", "price"):
            events[name] = np.frombuffer(getattr(batch, name), dtype=np.float64)
        events["inst"] = np.frombuffer(batch.inst, dtype=np.int32)
        events["side"] = np.frombuffer(batch.side, dtype=np.int8)
        keys = np.frombuffer(batch.key, dtype=np.int64)
        live = np.frombuffer(batch.live, dtype=np.int8).astype(bool)
        minutes = events["ts"] // MINUTE_MS
        floor = self._floor_minute
        assert floor is not None  # set by the first advance, before any fold
        held = (minutes >= floor) & (minutes < floor + self.ring.rows)
        if not held.all():
            events, keys, live, minutes = events[held], keys[held], live[held], minutes[held]
        sec = events["ts"] // 1000
        usd = events["usd"].copy()
        ones = np.ones(len(events), dtype=np.int64)
        self.ring.add(minutes, keys, usd, ones)
        self.market.add(minutes, self.names.keys().exchange_side[keys], usd, ones)
        self.edges.place(minutes, sec % MINUTE_S, keys, usd, live)
        self._prices.add(sec, self.names.keys().asset[keys], usd, events["price"])
        best = best_per_second(events, TOP_K)
        best_minutes = best["ts"] // MINUTE_MS
        for minute in np.unique(best_minutes).tolist():
            tops = self.tops.get(minute)
            if tops is None:
                tops = self.tops[minute] = MinuteTops()
            tops.merge(best[best_minutes == minute])
        return sec, keys.copy(), usd

    def _due(
        self, sec: IntArray, keys: IntArray, usd: FloatArray, now_sec: int
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """Return the events whose second has come; keep the later ones for later folds."""
        f_sec, f_keys, f_usd = self._future
        if len(f_sec):
            sec = np.concatenate((f_sec, sec))
            keys = np.concatenate((f_keys, keys))
            usd = np.concatenate((f_usd, usd))
        later = sec > now_sec
        if not later.any():
            self._future = empty_future()
            return sec, keys, usd
        self._future = (sec[later], keys[later], usd[later])
        now = ~later
        return sec[now], keys[now], usd[now]

    def _move_floor(self, now_sec: int) -> None:
        """Release the minutes that left the retention."""
        floor = (now_sec - self.retention_s + 1) // MINUTE_S
        previous = self._floor_minute if self._floor_minute is not None else floor
        for minute in range(max(previous, floor - self.ring.rows), floor):
            self.ring.release(minute)
            self.market.release(minute)
            self.tops.pop(minute, None)
        self._floor_minute = floor
        horizon_ms = (now_sec - self.retention_s + 1) * 1000
        self._ids.forget_before(horizon_ms)
        if now_sec % MINUTE_S == 0:
            self._newest.forget_before(horizon_ms)

    # --- the database behind memory ------------------------------------------------------

    def use_database(
        self, loader: DetailLoader, *, detail_s: int = DETAIL_S, identities: int = IDENTITIES
    ) -> None:
        """Keep `detail_s` seconds of per-second sums and `identities` event identities; the
        database (`loader`, and verdicts on PENDING events) covers the rest."""
        self.edges.attach(loader, detail_s)
        self._ids.cap = self._identity_cap or identities

    @property
    def identity_cap(self) -> int | None:
        """Return how many event identities memory keeps (None: every one retained)."""
        return self._ids.cap

    def install_seconds(
        self, minute: int, sums: MinuteSums | None, catalog: Mapping[int, Instrument]
    ) -> bool:
        """Take a minute's per-second sums read from the database (None: the read failed)."""
        if sums is None:
            self.edges.failed(minute)
            return False
        keys = self._keys_of(sums, catalog)
        used = self.edges.install(minute, sums.sec - minute * MINUTE_S, keys, sums.usd, sums.count)
        if sums.tops is not None:
            self.complete_tops(minute, sums.tops, catalog)
        return used

    # --- reads ----------------------------------------------------------------------------

    @property
    def clock_ms(self) -> int:
        """Return the newest receive or advance time seen."""
        return self._clock_ms

    @property
    def nbytes(self) -> int:
        """Return the bytes of the arrays behind every figure: the buckets, the windows'
        running totals, the per-second sums and the largest events kept."""
        rolling = self.rolling.usd.nbytes + self.rolling.count.nbytes
        tops = sum(t.nbytes for t in self.tops.values())
        arrays = self.ring.nbytes + self.market.nbytes + rolling + self._prices.nbytes
        return arrays + self.edges.nbytes + tops

    @property
    def floor_minute(self) -> int | None:
        """Return the oldest minute memory holds (None before the first fold)."""
        return self._floor_minute
