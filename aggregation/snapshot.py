"""Read back what a restart needs: buckets and the few rows the edges need, never the whole day.

Runs in the database's thread. The cost is the day's minutes times the keys active in them,
plus a bounded number of rows (the newest, the future and the window edges' minutes): it does
not grow with the number of events.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from aggregation.keys import FloatArray, Instrument, IntArray
from aggregation.schema import (
    EVENT_DTYPE,
    ROLLUP_DTYPE,
    SELECT_SECONDS,
    STORED_TOP_DTYPE,
    SUMS_DTYPE,
    SUMS_FIELDS,
    Rows,
)

MINUTE_MS = 60_000
MINUTE_S = 60


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
class FeedHistory:
    """The feed intervals and backfills kept, and when the previous process last wrote."""

    intervals: list[FeedIntervalRow]
    backfills: list[BackfillRow]
    heartbeat_ms: int | None


@dataclass(frozen=True, slots=True)
class MinuteSums:
    """One minute's stored events summed per (second, instrument, side)."""

    minute: int
    sec: IntArray
    inst: IntArray  # the database's instrument ids
    side: IntArray
    usd: FloatArray
    count: IntArray


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a restart needs (instruments by the database's ids)."""

    instruments: dict[int, Instrument]
    rollups: Rows  # ROLLUP_DTYPE, by minute
    tops: Rows  # STORED_TOP_DTYPE, the per-second largest (database ids), by minute
    newest: Rows  # EVENT_DTYPE, the newest stored rows
    newest_from_ms: int  # every stored row at or after this time is in `newest`
    future: Rows  # EVENT_DTYPE, rows later than the start time
    edges: list[MinuteSums]
    feeds: FeedHistory


def read_snapshot(
    db: sqlite3.Connection,
    instruments: dict[int, Instrument],
    now_ms: int,
    retention_s: int,
    edge_minutes: Iterable[int],
    newest_rows: int,
) -> Snapshot:
    """Read a restart's snapshot as of now_ms."""
    now_sec = now_ms // 1000
    first_minute = (now_sec - retention_s + 1) // MINUTE_S
    since_ms = first_minute * MINUTE_MS
    minutes: list[int] = []
    sums: list[bytes] = []
    tops: list[bytes] = []
    for minute, stored_sums, stored_tops in db.execute(
        "SELECT minute, sums, tops FROM rollups WHERE minute >= ? ORDER BY minute", (first_minute,)
    ):
        minutes.append(minute)
        sums.append(stored_sums)
        tops.append(stored_tops)
    entries = np.frombuffer(b"".join(sums), dtype=SUMS_DTYPE)
    rollups = np.empty(len(entries), dtype=ROLLUP_DTYPE)
    sizes = [len(blob) // SUMS_DTYPE.itemsize for blob in sums]
    rollups["minute"] = np.repeat(np.array(minutes, dtype=np.int64), sizes)
    for name in SUMS_FIELDS:
        rollups[name] = entries[name]
    newest = _rows(
        db,
        "SELECT ts_ms, instrument_id, side, qty_base, price, notional_usd, recv_ms FROM "
        "liquidations WHERE ts_ms >= ? ORDER BY ts_ms DESC LIMIT ?",
        (since_ms, newest_rows),
    )
    newest_from = since_ms if len(newest) < newest_rows else int(newest["ts"].min()) + 1
    future = _rows(
        db,
        "SELECT ts_ms, instrument_id, side, qty_base, price, notional_usd, recv_ms FROM "
        "liquidations WHERE ts_ms >= ?",
        ((now_sec + 1) * 1000,),
    )
    return Snapshot(
        instruments=dict(instruments),
        rollups=rollups,
        tops=np.frombuffer(b"".join(tops), dtype=STORED_TOP_DTYPE),
        newest=newest,
        newest_from_ms=newest_from,
        future=future,
        edges=[read_seconds(db, m) for m in sorted(set(edge_minutes)) if m >= first_minute],
        feeds=read_feeds(db),
    )


def read_seconds(db: sqlite3.Connection, minute: int) -> MinuteSums:
    """Return one minute's stored events summed per (second, instrument, side)."""
    rows = db.execute(SELECT_SECONDS, (minute * MINUTE_MS, (minute + 1) * MINUTE_MS)).fetchall()
    n = len(rows)
    return MinuteSums(
        minute=minute,
        sec=np.fromiter((r[0] for r in rows), dtype=np.int64, count=n),
        inst=np.fromiter((r[1] for r in rows), dtype=np.int64, count=n),
        side=np.fromiter((r[2] for r in rows), dtype=np.int64, count=n),
        usd=np.fromiter((r[3] for r in rows), dtype=np.float64, count=n),
        count=np.fromiter((r[4] for r in rows), dtype=np.int64, count=n),
    )


def read_feeds(db: sqlite3.Connection) -> FeedHistory:
    """Return the feed intervals, backfills and heartbeat."""
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
    return FeedHistory(intervals, backfills, None if heartbeat is None else int(heartbeat[0]))


def _rows(db: sqlite3.Connection, sql: str, parameters: tuple[int, ...]) -> Rows:
    return np.fromiter(db.execute(sql, parameters), dtype=EVENT_DTYPE, count=-1)
