"""Read back what a restart needs: buckets and the few rows the edges need, never the whole day.

Each function runs in a database thread; a restart runs them on several connections at once
(`Aggregation.start`). The cost is the day's minutes times the keys active in them, plus a
bounded number of rows (the newest, the future and the window edges' minutes): it does not grow
with the number of events.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from aggregation.history import minute_best
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
END = 2**62  # a minute after every stored one


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
    tops: Rows | None = None  # STORED_TOP_DTYPE, every second's largest, if read too


@dataclass(frozen=True, slots=True)
class Recent:
    """What a restart reads on the writer's connection: each minute's largest, the newest rows
    and minutes, the feed history (instruments by the database's ids)."""

    best: Rows  # STORED_TOP_DTYPE, each minute's TOP_K largest, by minute
    tops: Rows  # STORED_TOP_DTYPE, every second's TOP_K largest of `complete`, by minute
    complete: list[int]  # the minutes (edges, and from the start's on) whose `tops` are read
    newest: Rows  # EVENT_DTYPE, the newest stored rows
    newest_from_ms: int  # every stored row at or after this time is in `newest`
    future: Rows  # EVENT_DTYPE, rows later than the start time
    feeds: FeedHistory


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a restart needs (instruments by the database's ids)."""

    instruments: dict[int, Instrument]
    rollups: Rows  # ROLLUP_DTYPE, by minute
    edges: list[MinuteSums]  # the window edges' minutes, per second
    recent: Recent


def first_minute(now_ms: int, span_s: int) -> int:
    """Return the minute of the first second of the `span_s` seconds ending at now_ms's (with
    the retention: the oldest minute a restart reads; with a window: its edge minute)."""
    return (now_ms // 1000 - span_s + 1) // MINUTE_S


def read_rollups(db: sqlite3.Connection, first: int, end: int) -> Rows:
    """Return the one-minute sums of the minutes [first, end) as ROLLUP_DTYPE, by minute."""
    minutes: list[int] = []
    sums: list[bytes] = []
    for minute, stored_sums in db.execute(
        "SELECT minute, sums FROM rollups WHERE minute >= ? AND minute < ? ORDER BY minute",
        (first, end),
    ):
        minutes.append(minute)
        sums.append(stored_sums)
    entries = np.frombuffer(b"".join(sums), dtype=SUMS_DTYPE)
    rollups = np.empty(len(entries), dtype=ROLLUP_DTYPE)
    sizes = [len(blob) // SUMS_DTYPE.itemsize for blob in sums]
    rollups["minute"] = np.repeat(np.array(minutes, dtype=np.int64), sizes)
    for name in SUMS_FIELDS:
        rollups[name] = entries[name]
    return rollups


def read_edges(db: sqlite3.Connection, minutes: Iterable[int]) -> list[MinuteSums]:
    """Return the per-second sums of each of the minutes (a restart's window edges)."""
    return [read_seconds(db, minute) for minute in minutes]


def read_recent(
    db: sqlite3.Connection, now_ms: int, first: int, edges: Iterable[int], newest_rows: int
) -> Recent:
    """Read what a restart at now_ms needs besides the rollups and the edges' sums.

    Of the per-second largest (about 40 KB a minute at 230 events/s, most of what a day's
    rollups weigh) only the edge minutes' and the newest are read; the other minutes give
    their TOP_K largest (`minute_best`).
    """
    now_sec = now_ms // 1000
    since_ms = first * MINUTE_MS
    best = minute_best(db, first, END)
    complete = {
        minute: np.frombuffer(blob, dtype=STORED_TOP_DTYPE)
        for minute, blob in db.execute(
            "SELECT minute, tops FROM rollups WHERE minute >= ?", (now_sec // MINUTE_S,)
        )
    }
    for minute in edges:
        if minute not in complete:
            complete[minute] = read_tops(db, minute)
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
    ordered = sorted(complete)
    return Recent(
        best=best,
        tops=np.concatenate([complete[m] for m in ordered] or [np.empty(0, STORED_TOP_DTYPE)]),
        complete=ordered,
        newest=newest,
        newest_from_ms=newest_from,
        future=future,
        feeds=read_feeds(db),
    )


def read_seconds(db: sqlite3.Connection, minute: int, *, tops: bool = False) -> MinuteSums:
    """Return one minute's stored events summed per (second, instrument, side), and (if
    `tops`) its seconds' largest."""
    rows = db.execute(SELECT_SECONDS, (minute * MINUTE_MS, (minute + 1) * MINUTE_MS)).fetchall()
    n = len(rows)
    return MinuteSums(
        minute=minute,
        sec=np.fromiter((r[0] for r in rows), dtype=np.int64, count=n),
        inst=np.fromiter((r[1] for r in rows), dtype=np.int64, count=n),
        side=np.fromiter((r[2] for r in rows), dtype=np.int64, count=n),
        usd=np.fromiter((r[3] for r in rows), dtype=np.float64, count=n),
        count=np.fromiter((r[4] for r in rows), dtype=np.int64, count=n),
        tops=read_tops(db, minute) if tops else None,
    )


def read_tops(db: sqlite3.Connection, minute: int) -> Rows:
    """Return a minute's stored TOP_K largest events of each second (empty: no row)."""
    row = db.execute("SELECT tops FROM rollups WHERE minute = ?", (minute,)).fetchone()
    return np.frombuffer(row[0] if row else b"", dtype=STORED_TOP_DTYPE)


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
