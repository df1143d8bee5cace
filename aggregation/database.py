"""Do the liquidation database's work in its own thread: each call one short transaction.

`Database` owns one sqlite3 connection and is only ever used from one thread (the store's
executor), so a transaction never waits on the event loop: a batch of events, with the rollups
it changes, is one call from BEGIN to COMMIT. Rollups are kept from the rows as they are written
(never by reading every row back), so they always equal what the raw table holds.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aggregation.keys import Instrument
from aggregation.maintenance import rollback
from aggregation.migrate import fill_minute_best, migrate_from_1
from aggregation.schema import (
    EVENT_DTYPE,
    INSERT_EVENT,
    MIGRATE_FROM_1,
    NEW_FILE_PRAGMAS,
    SCHEMA,
    SCHEMA_VERSION,
    STORED_TOP_DTYPE,
    TOP_FIELDS,
    group_sums,
    merge_sums,
    write_rollup,
)
from collectors.record import Liquidation, Side

log = logging.getLogger(__name__)

InstrumentKey = tuple[str, str, str]  # exchange, market, symbol

MINUTE_MS = 60_000
HOUR_MINUTES = 60


@dataclass(frozen=True, slots=True)
class StateChange:
    """A feed went up or down."""

    feed_id: str
    up: bool
    ts_ms: int
    reason: str


@dataclass(frozen=True, slots=True)
class Backfill:
    """A feed's gap was backfilled."""

    feed_id: str
    start_ms: int
    end_ms: int
    events: int


@dataclass(slots=True)
class WriteResult:
    """What one batch did."""

    written: int = 0  # new rows
    duplicates: int = 0  # rows the key ignored
    verified: list[bool] = field(default_factory=list)  # per checked row: was it new


class Database:
    """The liquidation database's connection and its writes (one thread only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self.instrument_ids: dict[InstrumentKey, int] = {}
        self.catalog: dict[int, Instrument] = {}

    # --- lifecycle ------------------------------------------------------------------------

    def open(self) -> None:
        """Connect, set the file up (a new one reclaims freed pages) and migrate the schema."""
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        try:
            fresh = db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
            if fresh:
                db.executescript(NEW_FILE_PRAGMAS)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            version = _schema_version(db)
            if version is not None and version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} was written by a newer version (schema {version}); "
                    f"this version reads schema {SCHEMA_VERSION}"
                )
            db.executescript(SCHEMA)
            if version is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            elif version < SCHEMA_VERSION:
                if version < 2:
                    db.executescript(MIGRATE_FROM_1)
                    db.execute("BEGIN IMMEDIATE")
                    migrate_from_1(db)
                    db.execute("COMMIT")
                else:
                    db.execute("BEGIN IMMEDIATE")
                    filled = fill_minute_best(db)
                    db.execute("COMMIT")
                    log.info("schema 3: the largest of the last %d minutes stored apart", filled)
                db.execute(
                    "UPDATE meta SET value = ? WHERE name = 'schema_version'", (SCHEMA_VERSION,)
                )
        except BaseException:
            db.close()
            raise
        self._db = db
        for ident, exchange, market, symbol, base in db.execute(
            "SELECT id, exchange, market, symbol, base FROM instruments"
        ):
            self.instrument_ids[(exchange, market, symbol)] = int(ident)
            self.catalog[int(ident)] = Instrument(exchange, market, symbol, base)

    def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def conn(self) -> sqlite3.Connection:
        """Return the open connection."""
        if self._db is None:
            raise RuntimeError("the liquidation database is not open")
        return self._db

    # --- writes ---------------------------------------------------------------------------

    def write(
        self,
        new: Sequence[Liquidation],
        checked: Sequence[Liquidation],
        states: Sequence[StateChange],
        backfills: Sequence[Backfill],
        now_ms: int,
    ) -> WriteResult:
        """Write one batch in one transaction: `new` rows (memory proved them new) in bulk,
        `checked` rows one by one (is each new?), the rollups they change, feed history."""
        db = self.conn
        added: list[InstrumentKey] = []  # instruments this transaction inserted
        db.execute("BEGIN IMMEDIATE")
        try:
            result = self._write_events(new, checked, added)
            self._write_feeds(states, backfills, now_ms)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('heartbeat_ms', ?)", (now_ms,))
            db.execute("COMMIT")
        except BaseException:
            rollback(db)
            self._forget(added)
            raise
        return result

    def _forget(self, added: list[InstrumentKey]) -> None:
        """Drop instruments a rolled-back transaction inserted from the caches (their ids were
        never stored; a retry inserts them again)."""
        for key in added:
            ident = self.instrument_ids.pop(key, None)
            if ident is not None:
                self.catalog.pop(ident, None)
        added.clear()

    def _write_events(
        self,
        new: Sequence[Liquidation],
        checked: Sequence[Liquidation],
        added: list[InstrumentKey],
    ) -> WriteResult:
        db = self.conn
        self._ensure_instruments([*new, *checked], added)
        rows = self._rows(new)
        before = db.total_changes
        db.executemany(INSERT_EVENT, rows)
        written = db.total_changes - before
        if written != len(rows):
            # Memory called a re-delivered event new (it should not): tell row by row instead,
            # so the rollups count each stored row once.
            db.execute("ROLLBACK")
            self._forget(added)  # the rollback took their rows too
            db.execute("BEGIN IMMEDIATE")
            log.warning("a batch held %d re-delivered event(s) counted as new", len(rows) - written)
            result = self._write_events([], [*new, *checked], added)
            result.verified = result.verified[len(new) :]
            return result
        stored = list(rows)
        verified = []
        for row in self._rows(checked):
            fresh = db.execute(INSERT_EVENT, row).rowcount == 1
            verified.append(fresh)
            if fresh:
                stored.append(row)
        self._roll_up(stored)
        new_rows = len(stored)
        return WriteResult(new_rows, len(rows) + len(verified) - new_rows, verified)

    def _rows(
        self, records: Iterable[Liquidation]
    ) -> list[tuple[int, int, int, float, float, float, int]]:
        ids = self.instrument_ids
        return [
            (r.ts_ms, ids[(r.exchange, r.market, r.symbol)], 0 if r.side is Side.LONG else 1,
             r.qty_base, r.price, r.notional_usd, r.recv_ms)
            for r in records
        ]  # fmt: skip

    def _ensure_instruments(
        self, records: Iterable[Liquidation], added: list[InstrumentKey]
    ) -> None:
        ids = self.instrument_ids
        new = {
            (r.exchange, r.market, r.symbol): r.base
            for r in records
            if (r.exchange, r.market, r.symbol) not in ids
        }
        db = self.conn
        for (exchange, market, symbol), base in new.items():
            db.execute(
                "INSERT OR IGNORE INTO instruments (exchange, market, symbol, base) "
                "VALUES (?, ?, ?, ?)",
                (exchange, market, symbol, base),
            )
            (ident,) = db.execute(
                "SELECT id FROM instruments WHERE exchange = ? AND market = ? AND symbol = ?",
                (exchange, market, symbol),
            ).fetchone()
            ids[(exchange, market, symbol)] = int(ident)
            self.catalog[int(ident)] = Instrument(exchange, market, symbol, base)
            added.append((exchange, market, symbol))

    def _roll_up(self, rows: list[tuple[int, int, int, float, float, float, int]]) -> None:
        """Add stored rows to their minutes' rollups (sums, per-second and minute largest)."""
        if not rows:
            return
        events = np.array(rows, dtype=EVENT_DTYPE)
        minutes = events["ts"] // MINUTE_MS
        order = np.argsort(minutes, kind="stable")
        events, minutes = events[order], minutes[order]
        bounds = np.flatnonzero(np.r_[True, minutes[1:] != minutes[:-1], True])
        db = self.conn
        for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            minute = int(minutes[start])
            part = events[start:end]
            usd = part["usd"]
            sums = group_sums(part["inst"].astype(np.int64), part["side"].astype(np.int64), usd,
                              np.ones(len(part), dtype=np.int64), usd)  # fmt: skip
            tops = np.empty(len(part), dtype=STORED_TOP_DTYPE)
            for name in TOP_FIELDS:
                tops[name] = part[name]
            stored = db.execute(
                "SELECT sums, tops FROM rollups WHERE minute = ?", (minute,)
            ).fetchone()
            if stored is not None:
                sums = merge_sums(stored[0], sums)
                tops = np.concatenate((np.frombuffer(stored[1], dtype=STORED_TOP_DTYPE), tops))
            write_rollup(db, minute, sums, tops)
        hours = sorted({int(m) // HOUR_MINUTES for m in minutes[bounds[:-1]].tolist()})
        db.executemany("INSERT OR IGNORE INTO dirty_hours VALUES (?)", [(h,) for h in hours])

    def _write_feeds(
        self, states: Sequence[StateChange], backfills: Sequence[Backfill], now_ms: int
    ) -> None:
        db = self.conn
        for item in states:
            db.execute(
                "UPDATE feed_intervals SET end_ms = ? WHERE feed_id = ? AND end_ms IS NULL",
                (item.ts_ms, item.feed_id),
            )
            db.execute(
                "INSERT OR REPLACE INTO feed_intervals "
                "(feed_id, up, start_ms, end_ms, reason) VALUES (?, ?, ?, NULL, ?)",
                (item.feed_id, int(item.up), item.ts_ms, item.reason[:500]),
            )
        for backfill in backfills:
            db.execute(
                "INSERT OR REPLACE INTO backfills VALUES (?, ?, ?, ?, ?)",
                (backfill.feed_id, backfill.start_ms, backfill.end_ms, backfill.events, now_ms),
            )

    def close_open_intervals(self, at_ms: int) -> int:
        """Close intervals a previous process left open (it stopped at `at_ms`)."""
        cursor = self.conn.execute(
            "UPDATE feed_intervals SET end_ms = MAX(start_ms, ?) WHERE end_ms IS NULL", (at_ms,)
        )
        return max(cursor.rowcount, 0)

    def count_events(self) -> int:
        """Return how many events the database holds."""
        return int(self.conn.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0])


def _schema_version(db: sqlite3.Connection) -> int | None:
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
        return None
    row = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    return None if row is None else int(row[0])
