"""Keep the liquidation database bounded, a short step at a time, in the database's thread.

Raw events go after RETENTION_HOURS, rollups after HISTORY_DAYS; freed pages go back to the
file system (incremental vacuum, on files created with it). Hourly rollups are rebuilt from the
minute rollups of hours marked dirty (by new rows) once those hours are over. Every step is its
own short transaction, so other connections to the file (the bot's) and the next batch of
events never wait long.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import msgspec
import numpy as np

from aggregation.keys import Instrument
from aggregation.schema import SUMS_DTYPE, group_sums

MINUTE_MS = 60_000
HOUR_MINUTES = 60
HOUR_MS = 3_600_000
VACUUM_PAGES = 2_048  # pages returned to the file system per step (8 MB of 4 KiB pages)

# asset_hours rows: per exchange, [long USD, short USD, long count, short count, long max,
# short max]; the market's row has base "".
HourRow = dict[str, list[float]]
MARKET = ""
_ENCODE = msgspec.msgpack.Encoder()
DECODE_HOUR = msgspec.msgpack.Decoder(dict[str, list[float]])


@dataclass(slots=True)
class PruneStep:
    """What one pruning step removed."""

    rows: int = 0
    done: bool = True  # nothing older than the cutoff is left


def prune_events(db: sqlite3.Connection, cutoff_ms: int, step_ms: int) -> PruneStep:
    """Delete at most step_ms of the oldest events before cutoff_ms, in one transaction."""
    row = db.execute("SELECT MIN(ts_ms) FROM liquidations").fetchone()
    oldest = None if row is None or row[0] is None else int(row[0])
    if oldest is None or oldest >= cutoff_ms:
        return PruneStep()
    until = min(cutoff_ms, oldest + step_ms)
    with _transaction(db):
        rows = db.execute("DELETE FROM liquidations WHERE ts_ms < ?", (until,)).rowcount
    return PruneStep(max(rows, 0), until >= cutoff_ms)


def prune_history(db: sqlite3.Connection, events_cutoff_ms: int, history_cutoff_ms: int) -> None:
    """Delete rollups before the history cutoff and feed history before the events cutoff."""
    minute, hour = history_cutoff_ms // MINUTE_MS, history_cutoff_ms // HOUR_MS
    with _transaction(db):
        db.execute("DELETE FROM rollups WHERE minute < ?", (minute,))
        db.execute("DELETE FROM minute_best WHERE minute < ?", (minute,))
        db.execute("DELETE FROM hours WHERE hour < ?", (hour,))
        db.execute("DELETE FROM asset_hours WHERE hour < ?", (hour,))
        db.execute("DELETE FROM dirty_hours WHERE hour < ?", (hour,))
        db.execute(
            "DELETE FROM feed_intervals WHERE end_ms IS NOT NULL AND end_ms < ?",
            (events_cutoff_ms,),
        )
        db.execute("DELETE FROM backfills WHERE end_ms < ?", (events_cutoff_ms,))


def rebuild_hour(db: sqlite3.Connection, catalog: dict[int, Instrument], before_ms: int) -> bool:
    """Rebuild the oldest dirty hour that ended before before_ms; False if there is none."""
    row = db.execute(
        "SELECT hour FROM dirty_hours WHERE hour < ? ORDER BY hour LIMIT 1",
        (before_ms // HOUR_MS,),
    ).fetchone()
    if row is None:
        return False
    hour = int(row[0])
    first = hour * HOUR_MINUTES
    parts = [
        np.frombuffer(sums, dtype=SUMS_DTYPE)
        for (sums,) in db.execute(
            "SELECT sums FROM rollups WHERE minute >= ? AND minute < ?",
            (first, first + HOUR_MINUTES),
        )
    ]
    entries = np.concatenate(parts) if parts else np.empty(0, SUMS_DTYPE)
    grouped = group_sums(
        entries["inst"].astype(np.int64), entries["side"].astype(np.int64), entries["usd"],
        entries["count"].astype(np.int64), entries["max"],
    )  # fmt: skip
    with _transaction(db):
        db.execute("INSERT OR REPLACE INTO hours VALUES (?, ?)", (hour, grouped.tobytes()))
        db.execute("DELETE FROM asset_hours WHERE hour = ?", (hour,))
        db.executemany(
            "INSERT INTO asset_hours (base, hour, sums) VALUES (?, ?, ?)",
            [(base, hour, _ENCODE.encode(row)) for base, row in by_asset(grouped, catalog).items()],
        )
        db.execute("DELETE FROM dirty_hours WHERE hour = ?", (hour,))
    return True


def by_asset(grouped: np.ndarray, catalog: dict[int, Instrument]) -> dict[str, HourRow]:
    """Return the hour's rows per asset (and the market's), per exchange."""
    rows: dict[str, HourRow] = {}
    for entry in grouped.tolist():
        ident, side, count, usd, most = entry
        instrument = catalog.get(int(ident))
        if instrument is None:
            continue
        for base in (instrument.base, MARKET):
            cells = rows.setdefault(base, {}).setdefault(instrument.exchange, [0.0] * 6)
            cells[side] += usd
            cells[2 + side] += count
            cells[4 + side] = max(cells[4 + side], most)
    return rows


def vacuum_step(db: sqlite3.Connection) -> int:
    """Return up to VACUUM_PAGES free pages to the file system; return how many were free."""
    free = int(db.execute("PRAGMA freelist_count").fetchone()[0])
    if free and int(db.execute("PRAGMA auto_vacuum").fetchone()[0]) == 2:
        db.execute(f"PRAGMA incremental_vacuum({VACUUM_PAGES})")
    return free


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.Error:
                rollback(self._db)
                raise
        rollback(self._db)


def rollback(db: sqlite3.Connection) -> None:
    """End a failed transaction, if SQLite has not already (it may after a full disk or an I/O
    error, and a second ROLLBACK would hide the first error behind its own)."""
    if db.in_transaction:
        db.execute("ROLLBACK")
