"""Lay out the liquidation database: its tables, its statements and the packed minute segments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from aggregation.events import EVENT_DTYPE, MINUTE_MS

SCHEMA_VERSION = 1

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
CREATE TABLE IF NOT EXISTS segments (
    minute INTEGER PRIMARY KEY,
    dirty  INTEGER NOT NULL,
    rows   INTEGER NOT NULL,
    data   BLOB NOT NULL
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

INSERT_EVENT = (
    "INSERT OR IGNORE INTO liquidations "
    "(ts_ms, instrument_id, side, qty_base, price, notional_usd, recv_ms) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
SELECT_EVENTS = (
    "SELECT ts_ms, instrument_id, side, qty_base, price, notional_usd, recv_ms "
    "FROM liquidations WHERE ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms"
)


def pack_minutes(rows: Sequence[Any]) -> list[tuple[int, int, bytes]]:
    """Pack rows (sorted by ts) into one (minute, count, blob) per minute."""
    if not rows:
        return []
    events = np.array(rows, dtype=EVENT_DTYPE)
    minutes = events["ts"] // MINUTE_MS
    bounds = np.flatnonzero(np.diff(minutes)) + 1
    starts = np.concatenate(([0], bounds)).tolist()
    ends = np.concatenate((bounds, [len(events)])).tolist()
    return [
        (int(minutes[start]), end - start, events[start:end].tobytes())
        for start, end in zip(starts, ends, strict=True)
    ]
