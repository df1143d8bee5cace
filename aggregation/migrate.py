"""Bring older databases to schema 3.

Schema 1 to 2: roll up the raw events it kept, minute by minute. Schema 2 to 3: give the newest
minutes their largest alone (`minute_best`), what a restart reads.
"""

from __future__ import annotations

import logging
import sqlite3

import numpy as np

from aggregation.schema import (
    EVENT_DTYPE,
    INSERT_MINUTE_BEST,
    SELECT_EVENTS,
    STORED_TOP_DTYPE,
    TOP_FIELDS,
    group_sums,
    largest_stored,
    write_rollup,
)

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
HOUR_MINUTES = 60
# The minutes given `minute_best` by the migration from schema 2: two days, more than a restart
# reads with the default windows. Older minutes have their largest derived when read.
BEST_FILLED_MINUTES = 2 * 1440


def migrate_from_1(db: sqlite3.Connection) -> None:
    """Write the rollups (and mark their hours dirty) for every minute the raw table holds.

    Runs once, inside the opening transaction; a day of events takes seconds to minutes.
    """
    bounds = db.execute("SELECT MIN(ts_ms), MAX(ts_ms) FROM liquidations").fetchone()
    if bounds is None or bounds[0] is None:
        return
    first, last = int(bounds[0]) // MINUTE_MS, int(bounds[1]) // MINUTE_MS
    log.info("migrating %s minutes of events to one-minute rollups", last - first + 1)
    for minute in range(first, last + 1):
        rows = np.fromiter(
            db.execute(SELECT_EVENTS, (minute * MINUTE_MS, (minute + 1) * MINUTE_MS)),
            dtype=EVENT_DTYPE,
            count=-1,
        )
        if not len(rows):
            continue
        usd = rows["usd"]
        sums = group_sums(rows["inst"].astype(np.int64), rows["side"].astype(np.int64), usd,
                          np.ones(len(rows), dtype=np.int64), usd)  # fmt: skip
        tops = np.empty(len(rows), dtype=STORED_TOP_DTYPE)
        for name in TOP_FIELDS:
            tops[name] = rows[name]
        write_rollup(db, minute, sums, tops)
        db.execute("INSERT OR IGNORE INTO dirty_hours VALUES (?)", (minute // HOUR_MINUTES,))


def fill_minute_best(db: sqlite3.Connection, minutes: int = BEST_FILLED_MINUTES) -> int:
    """Write `minute_best` for the newest `minutes` rolled-up minutes; return how many."""
    newest = db.execute("SELECT MAX(minute) FROM rollups").fetchone()[0]
    if newest is None:
        return 0
    rows = db.execute("SELECT minute, tops FROM rollups WHERE minute > ?", (newest - minutes,))
    best = [
        (minute, largest_stored(np.frombuffer(tops, dtype=STORED_TOP_DTYPE)).tobytes())
        for minute, tops in rows
    ]
    db.executemany(INSERT_MINUTE_BEST, best)
    return len(best)
