"""Lay out the liquidation database: its tables, its statements and the packed bucket rows.

Raw events (`liquidations`) are kept RETENTION_HOURS; one-minute rollups (`rollups`: USD, count
and largest per instrument and side, plus the TOP_K largest events of each second; `minute_best`:
the minute's TOP_K largest alone, what a restart reads) and the hourly rollups derived from them
(`hours` for every instrument, `asset_hours` per asset and exchange for charts) are kept
HISTORY_DAYS.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import numpy.typing as npt

from aggregation.tops import TOP_K

SCHEMA_VERSION = 3

# A new file reclaims the pages that pruning frees (PRAGMA incremental_vacuum), a step at a time.
NEW_FILE_PRAGMAS = "PRAGMA auto_vacuum = INCREMENTAL;"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS instruments (
    id       INTEGER PRIMARY KEY,
    exchange TEXT NOT NULL,
    market   TEXT NOT NULL,
    symbol   TEXT NOT NULL,
    base     TEXT NOT NULL,
    UNIQUE (exchange, market, symbol)
);
CREATE TABLE IF NOT EXISTS liquidations (
    ts_ms         INTEGER NOT NULL,
    instrument_id INTEGER NOT NULL REFERENCES instruments (id),
    side          INTEGER NOT NULL CHECK (side IN (0, 1)),
    qty_base      REAL NOT NULL,
    price         REAL NOT NULL,
    notional_usd  REAL NOT NULL,
    recv_ms       INTEGER NOT NULL,
    PRIMARY KEY (ts_ms, instrument_id, side, qty_base, price)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollups (
    minute INTEGER PRIMARY KEY,
    sums   BLOB NOT NULL,
    tops   BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS minute_best (
    minute INTEGER PRIMARY KEY,
    best   BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS hours (
    hour INTEGER PRIMARY KEY,
    sums BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS asset_hours (
    base TEXT NOT NULL,
    hour INTEGER NOT NULL,
    sums BLOB NOT NULL,
    PRIMARY KEY (base, hour)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dirty_hours (
    hour INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS feed_intervals (
    feed_id  TEXT NOT NULL,
    up       INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms   INTEGER,
    reason   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (feed_id, start_ms)
);
CREATE TABLE IF NOT EXISTS backfills (
    feed_id  TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms   INTEGER NOT NULL,
    events   INTEGER NOT NULL,
    done_ms  INTEGER NOT NULL,
    PRIMARY KEY (feed_id, start_ms, end_ms)
);
"""

# Schema 1 kept packed copies of every minute's rows for restarts; rollups replace them.
MIGRATE_FROM_1 = """
DROP TABLE IF EXISTS segments;
DELETE FROM meta WHERE name = 'seal_frontier';
"""

INSERT_EVENT = (
    "INSERT OR IGNORE INTO liquidations "
    "(ts_ms, instrument_id, side, qty_base, price, notional_usd, recv_ms) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
SELECT_EVENTS = (
    "SELECT ts_ms, instrument_id, side, qty_base, price, notional_usd, recv_ms "
    "FROM liquidations WHERE ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms"
)
SELECT_SECONDS = (
    "SELECT ts_ms / 1000, instrument_id, side, SUM(notional_usd), COUNT(*) "
    "FROM liquidations WHERE ts_ms >= ? AND ts_ms < ? GROUP BY 1, 2, 3"
)
INSERT_MINUTE_BEST = "INSERT OR REPLACE INTO minute_best (minute, best) VALUES (?, ?)"
# Each rolled-up minute's TOP_K largest: its `minute_best` row, or (a minute rolled up before
# schema 3) its per-second `tops`, which COALESCE reads only then, and a flag saying so.
SELECT_MINUTE_BEST = (
    "SELECT COALESCE(b.best, r.tops), b.best IS NULL FROM rollups AS r "
    "LEFT JOIN minute_best AS b ON b.minute = r.minute "
    "WHERE r.minute >= ? AND r.minute < ? ORDER BY r.minute"
)

# One row per event (the database's columns).
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

# One entry per (instrument, side) with events in a minute or an hour.
SUMS_DTYPE = np.dtype(
    [("inst", "<i4"), ("side", "<i1"), ("count", "<i4"), ("usd", "<f8"), ("max", "<f8")]
)

# The stored form of a kept largest event (instrument: the database's id).
STORED_TOP_DTYPE = np.dtype(
    [
        ("ts", "<i8"),
        ("usd", "<f8"),
        ("qty", "<f8"),
        ("price", "<f8"),
        ("recv", "<i8"),
        ("inst", "<i4"),
        ("side", "<i1"),
    ]
)

TOP_FIELDS: tuple[str, ...] = STORED_TOP_DTYPE.names or ()
SUMS_FIELDS: tuple[str, ...] = SUMS_DTYPE.names or ()

# Rollups with their minute, as read back together.
ROLLUP_DTYPE = np.dtype([("minute", "<i8"), *SUMS_DTYPE.descr])

Rows = npt.NDArray[np.void]


def group_sums(inst: npt.NDArray[np.int64], side: npt.NDArray[np.int64],
               usd: npt.NDArray[np.float64], count: npt.NDArray[np.int64],
               largest: npt.NDArray[np.float64]) -> Rows:  # fmt: skip
    """Return SUMS_DTYPE entries, one per (instrument, side), summing the given ones."""
    codes = inst.astype(np.int64) * 2 + side
    unique, inverse = np.unique(codes, return_inverse=True)
    out = np.empty(len(unique), dtype=SUMS_DTYPE)
    out["inst"] = unique // 2
    out["side"] = unique % 2
    out["usd"] = np.bincount(inverse, weights=usd, minlength=len(unique))
    out["count"] = np.bincount(inverse, weights=count, minlength=len(unique))
    most = np.full(len(unique), -np.inf)
    np.maximum.at(most, inverse, largest)
    out["max"] = most
    return out


def merge_sums(stored: bytes | None, new: Rows) -> Rows:
    """Return stored SUMS_DTYPE entries plus new ones, grouped again."""
    if not stored:
        return new
    both = np.concatenate((np.frombuffer(stored, dtype=SUMS_DTYPE), new))
    return group_sums(
        both["inst"].astype(np.int64), both["side"].astype(np.int64), both["usd"],
        both["count"].astype(np.int64), both["max"],
    )  # fmt: skip


def largest_stored(tops: Rows, k: int = TOP_K) -> Rows:
    """Return the k largest stored events, largest first (ties: earlier, then first in)."""
    order = np.lexsort((tops["recv"], tops["ts"], -tops["usd"]))
    kept: Rows = tops[order[:k]]
    return kept


def write_rollup(db: sqlite3.Connection, minute: int, sums: Rows, tops: Rows) -> None:
    """Write a minute's rollup: its sums, the TOP_K largest of each second among `tops`, and
    the minute's TOP_K largest apart (`minute_best`)."""
    best = stored_best(tops)
    db.execute(
        "INSERT OR REPLACE INTO rollups (minute, sums, tops) VALUES (?, ?, ?)",
        (minute, sums.tobytes(), best.tobytes()),
    )
    db.execute(INSERT_MINUTE_BEST, (minute, largest_stored(best).tobytes()))


def stored_best(tops: Rows) -> Rows:
    """Return the TOP_K largest stored events of each second (ties: earlier, then first in)."""
    if len(tops) == 0:
        return tops
    seconds = tops["ts"] // 1000
    order = np.lexsort((tops["recv"], tops["ts"], -tops["usd"], seconds))
    ordered, seconds = tops[order], seconds[order]
    new_group = np.r_[True, seconds[1:] != seconds[:-1]]
    starts = np.flatnonzero(new_group)
    rank = np.arange(len(ordered)) - starts[np.cumsum(new_group) - 1]
    kept: Rows = ordered[rank < TOP_K]
    return kept
