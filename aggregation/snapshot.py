"""Read back what a restart needs from the liquidation database: recent events, feed history."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from aggregation.events import EVENT_DTYPE, MINUTE_MS, Instrument
from aggregation.schema import SELECT_EVENTS


@dataclass(frozen=True, slots=True)
class FeedIntervalRow:
    """A stored span during which a feed was up or down (`end_ms` None: still open)."""

    feed_id: str
    up: bool
    start_ms: int
    end_ms: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class BackfillRow:
    """A stored record that a gap of a feed was backfilled."""

    feed_id: str
    start_ms: int
    end_ms: int
    events: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a restart needs: the events since a time, and the feed history."""

    events: npt.NDArray[np.void]  # EVENT_DTYPE, sorted by ts; `inst` indexes `instruments`
    instruments: list[Instrument]
    intervals: list[FeedIntervalRow]
    backfills: list[BackfillRow]
    heartbeat_ms: int | None  # when the previous process last wrote


def read_snapshot(path: Path, since_ms: int) -> Snapshot:
    """Read a snapshot with a private read connection (runs in a worker thread)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    try:
        events, instruments = _read_events(db, since_ms)
        intervals = [
            FeedIntervalRow(r[0], bool(r[1]), int(r[2]), None if r[3] is None else int(r[3]), r[4])
            for r in db.execute(
                "SELECT feed_id, up, start_ms, end_ms, reason FROM feed_intervals "
                "ORDER BY feed_id, start_ms"
            )
        ]
        backfills = [
            BackfillRow(r[0], int(r[1]), int(r[2]), int(r[3]))
            for r in db.execute(
                "SELECT feed_id, start_ms, end_ms, events FROM backfills ORDER BY start_ms"
            )
        ]
        heartbeat = db.execute("SELECT value FROM meta WHERE name = 'heartbeat_ms'").fetchone()
        return Snapshot(
            events=events,
            instruments=instruments,
            intervals=intervals,
            backfills=backfills,
            heartbeat_ms=None if heartbeat is None else int(heartbeat[0]),
        )
    finally:
        db.close()


def _read_events(
    db: sqlite3.Connection, since_ms: int
) -> tuple[npt.NDArray[np.void], list[Instrument]]:
    """Return the events with ts >= since_ms (clean segments, else rows) and the instruments."""
    instruments_rows = db.execute(
        "SELECT id, exchange, market, symbol, base FROM instruments ORDER BY id"
    ).fetchall()
    index_of = {int(row[0]): position for position, row in enumerate(instruments_rows)}
    instruments = [Instrument(r[1], r[2], r[3], r[4]) for r in instruments_rows]
    frontier_row = db.execute("SELECT value FROM meta WHERE name = 'seal_frontier'").fetchone()
    frontier = -1 if frontier_row is None else int(frontier_row[0])
    first_minute = since_ms // MINUTE_MS
    parts: list[npt.NDArray[np.void]] = [
        np.frombuffer(data, dtype=EVENT_DTYPE)
        for (data,) in db.execute(
            "SELECT data FROM segments WHERE minute >= ? AND dirty = 0 ORDER BY minute",
            (first_minute,),
        )
    ]
    # Rows for every minute without a clean segment: dirty ones and the unsealed tail.
    dirty = [
        int(m)
        for (m,) in db.execute(
            "SELECT minute FROM segments WHERE minute >= ? AND dirty = 1", (first_minute,)
        )
    ]
    spans = [(m * MINUTE_MS, (m + 1) * MINUTE_MS) for m in dirty]
    spans.append((max(since_ms, (frontier + 1) * MINUTE_MS), 2**62))
    for lo, hi in spans:
        rows = np.fromiter(db.execute(SELECT_EVENTS, (lo, hi)), dtype=EVENT_DTYPE, count=-1)
        if len(rows):
            parts.append(rows)
    events = np.concatenate(parts) if parts else np.empty(0, dtype=EVENT_DTYPE)
    events = events[events["ts"] >= since_ms]
    events = events[np.argsort(events["ts"], kind="stable")]
    if len(events):
        mapping = np.zeros(max(index_of) + 1, dtype=np.int32)
        for ident, position in index_of.items():
            mapping[ident] = position
        events = events.copy()
        events["inst"] = mapping[events["inst"]]
    return events, instruments
