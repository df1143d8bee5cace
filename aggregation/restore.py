"""Rebuild the window store at start from what the database keeps: buckets, not every event.

The minute rows come from the one-minute rollups; the largest events from each minute's TOP_K
largest, and every second's for the edge minutes and the newest; the per-second sums of each
window's edge minute from that minute's rows; the newest events and the identities of recent
ones from the newest rows. The cost depends on the number of keys and minutes, not on how many
events the day had.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from aggregation.buckets import SecondSums
from aggregation.identity import IDENTITY_DTYPE, identities
from aggregation.keys import FloatArray, Instrument, IntArray
from aggregation.recent import NEWEST_KEPT, NEWEST_PER_ASSET
from aggregation.schema import Rows
from aggregation.snapshot import Snapshot, first_minute
from aggregation.tops import Events, MinuteTops, as_kept
from aggregation.windows import MINUTE_MS, MINUTE_S, WindowStore


def restore(windows: WindowStore, snap: Snapshot, now_ms: int) -> int:
    """Load a snapshot into an empty window store; return how many retained events it holds."""
    if windows.rolling.folded is not None:
        raise RuntimeError("restore() must run before any other event")
    inst_of, key_of = _map(windows, snap.instruments)
    recent = snap.recent
    clock_ms = max(now_ms, int(recent.newest["recv"].max()) if len(recent.newest) else now_ms)
    now_sec = clock_ms // 1000
    windows._clock_ms = clock_ms
    windows.rolling.start(now_sec)
    floor = first_minute(clock_ms, windows.retention_s)
    last = floor + windows.ring.rows - 1
    windows._floor_minute = floor
    held = np.searchsorted(snap.rollups["minute"], [floor, last + 1])  # by minute
    rollups = snap.rollups[held[0] : held[1]]
    keys = key_of[rollups["inst"]] + rollups["side"]
    minutes, usd = rollups["minute"], np.ascontiguousarray(rollups["usd"])
    counts = np.ascontiguousarray(rollups["count"])
    windows.ring.add(minutes, keys, usd, counts)
    windows.market.add(minutes, windows.names.keys().exchange_side[keys], usd, counts)
    _restore_tops(windows, snap, inst_of, floor, last)
    for minute_sums in snap.edges:
        minute = minute_sums.minute
        if floor <= minute <= last:
            sums = SecondSums()
            sums.add(
                minute_sums.sec - minute * MINUTE_S,
                key_of[minute_sums.inst] + minute_sums.side,
                minute_sums.usd,
                minute_sums.count,
            )
            windows.edges.restored(minute, sums)
    future = recent.future[
        (recent.future["ts"] // 1000 > now_sec) & (recent.future["ts"] // MINUTE_MS <= last)
    ]
    future_keys = key_of[future["inst"]] + future["side"]
    windows._future = (future["ts"] // 1000, future_keys, future["usd"].astype(np.float64))
    capacity = windows.ring.capacity
    future_usd = np.bincount(future_keys, future["usd"], minlength=capacity)
    future_count = np.bincount(future_keys, minlength=capacity).astype(np.int64)
    for w, window in enumerate(windows.tracked_s):
        cut, usd, count = _since(windows, now_sec - window, last)
        windows.rolling.set_totals(w, cut, usd - future_usd, count - future_count)
    _, _, retained = _since(windows, now_sec - windows.retention_s, last)
    _restore_newest(windows, snap, inst_of, now_sec)
    _restore_last_seen(windows, snap, inst_of)
    windows.edges.from_minute = now_sec // MINUTE_S + 1
    windows._version += 1
    loaded = int(retained.sum())
    windows.counters.counted += loaded
    return loaded


def _map(windows: WindowStore, catalog: Mapping[int, Instrument]) -> tuple[IntArray, IntArray]:
    """Return, indexed by database id: the memory instrument, and its long side's key."""
    size = max(catalog, default=-1) + 1
    inst_of = np.zeros(size, dtype=np.int64)
    key_of = np.zeros(size, dtype=np.int64)
    idents = list(catalog)
    for ident, index in zip(idents, windows.name_instruments(catalog.values()), strict=True):
        inst_of[ident] = index
        key_of[ident] = windows.names.inst_key[index]
    return inst_of, key_of


def _since(windows: WindowStore, cut: int, last: int) -> tuple[int, FloatArray, IntArray]:
    """Return (cut, usd, count) of the held events whose second is after `cut`.

    Without the per-second sums of the cut's minute, the whole minute is taken and the cut
    moves back to its start (counted, like a live edge that waits).
    """
    first_minute = (cut + 1) // MINUTE_S
    ring = windows.ring
    usd, count = ring.span(first_minute + 1, last)
    offset = (cut + 1) % MINUTE_S
    row = ring.row(first_minute)
    if row is None:
        return cut, usd, count
    if offset == 0:
        return cut, usd + row[0], count + row[1]
    sums = windows.edges.detail.get(first_minute)
    if sums is None:
        windows.counters.edge_waits += 1
        return first_minute * MINUTE_S - 1, usd + row[0], count + row[1]
    keys, part_usd, part_count = sums.sums(offset, MINUTE_S - 1)
    usd += np.bincount(keys, part_usd, minlength=ring.capacity)
    count += np.bincount(keys, part_count, minlength=ring.capacity).astype(np.int64)
    return cut, usd, count


def _restore_tops(
    windows: WindowStore, snap: Snapshot, inst_of: IntArray, floor: int, last: int
) -> None:
    """Keep each minute's largest: every second's for the minutes read whole, else the
    minute's TOP_K (completed when the minute becomes a window's edge)."""
    complete = set(snap.recent.complete)
    for stored, whole in ((snap.recent.best, False), (snap.recent.tops, True)):
        for minute, events in _by_minute(stored, inst_of, floor, last):
            if whole or minute not in complete:
                windows.tops[minute] = MinuteTops(events, complete=whole)


def _by_minute(
    stored: Rows, inst_of: IntArray, floor: int, last: int
) -> Iterator[tuple[int, Events]]:
    """Yield (minute, its events as memory keeps them) of stored largest events, by minute."""
    minutes = stored["ts"] // MINUTE_MS
    held = (minutes >= floor) & (minutes <= last)
    stored, minutes = stored[held], minutes[held]
    if not len(stored):
        return
    events = as_kept(stored, inst_of[stored["inst"]])
    bounds = np.flatnonzero(np.r_[True, minutes[1:] != minutes[:-1], True])
    for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        yield int(minutes[start]), events[start:end]


def _restore_newest(windows: WindowStore, snap: Snapshot, inst_of: IntArray, now_sec: int) -> None:
    """Remember the identities of the newest rows, and keep the newest events.

    Only the rows that can be among the newest kept (overall, or of their asset) become
    records; the others only give their identities.
    """
    rows = snap.recent.newest
    rows = rows[np.lexsort((rows["recv"], rows["ts"]))]  # oldest first: arrival numbers rise
    inst = inst_of[rows["inst"]]
    columns = np.empty(len(rows), dtype=IDENTITY_DTYPE)
    columns["ts"] = rows["ts"]
    columns["inst"] = inst
    columns["side"] = rows["side"]
    columns["qty"] = rows["qty"]
    columns["price"] = rows["price"]
    windows._ids.add_sorted(rows["ts"], identities(columns))
    windows._ids.set_floor(snap.recent.newest_from_ms)
    live = np.flatnonzero(rows["ts"] // 1000 > now_sec - windows.retention_s)
    kept = _newest_candidates(windows, inst[live])
    names = windows.names
    seq = windows._seq
    for at in live[kept].tolist():
        ts, _, side, qty, price, usd, recv = rows[at].tolist()
        seq += 1
        record = names.record(int(inst[at]), ts, side, qty, price, usd, recv)
        windows._newest.add(record, seq)
    windows._seq = seq


def _newest_candidates(windows: WindowStore, inst: IntArray) -> IntArray:
    """Return the positions (ascending) of the rows, oldest first, that are among the newest
    `NEWEST_KEPT` overall or the newest `NEWEST_PER_ASSET` of their asset."""
    n = len(inst)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    keys = windows.names.keys()
    key_of_inst = np.asarray(windows.names.inst_key, dtype=np.int64)
    asset = keys.asset[key_of_inst[inst]]
    # Rank from the newest within each asset: a stable sort by asset keeps the time order.
    order = np.argsort(asset, kind="stable")
    grouped = asset[order]
    ends = np.r_[np.flatnonzero(grouped[1:] != grouped[:-1]), n - 1]
    group_end = ends[np.searchsorted(ends, np.arange(n))]
    from_newest = np.empty(n, dtype=np.int64)
    from_newest[order] = group_end - np.arange(n)
    chosen = (from_newest < NEWEST_PER_ASSET) | (np.arange(n) >= n - NEWEST_KEPT)
    return np.flatnonzero(chosen)


def _restore_last_seen(windows: WindowStore, snap: Snapshot, inst_of: IntArray) -> None:
    """Set each instrument's last event time: the end of its newest minute, or an exact time."""
    rollups = snap.rollups
    ends = np.full(len(inst_of), -1, dtype=np.int64)
    np.maximum.at(ends, rollups["inst"], (rollups["minute"] + 1) * MINUTE_MS - 1)
    newest = snap.recent.newest
    exact = np.full(len(inst_of), -1, dtype=np.int64)
    np.maximum.at(exact, newest["inst"], newest["ts"])
    last_seen = windows._inst_last_ms
    for ident in np.flatnonzero(ends >= 0).tolist():
        inst = int(inst_of[ident])
        seen = (
            int(exact[ident]) if exact[ident] >= ends[ident] - MINUTE_MS + 1 else int(ends[ident])
        )
        last_seen[inst] = max(last_seen[inst], seen)
