"""Move the bot's tables out of the events' file into their own, once (databases written before
the bot's tables had their own file).

The bot's tables (rules, schedules, chat settings, the pending queue, the alert journal) share
no lock with the liquidation writer once they live in their own file: an alert's journal mark
never waits for a batch of liquidations. A database written by an earlier release holds them in
DATABASE_PATH; the first start copies them (schemas, rows, AUTOINCREMENT counters) into the bot's
file in one transaction, marks the copy, then drops them from the events' file. A crash between
the two leaves the copy authoritative: the next start sees the mark and only finishes the drop.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

# In the bot file's bot_meta while the events' file may still hold the copied tables.
_MOVING = "moved_from_events_file"


def _bot_tables(db: sqlite3.Connection, schema: str) -> list[tuple[str, str]]:
    """Return (name, CREATE statement) of the bot's tables and indexes in `schema`, tables first."""
    return [
        (str(name), str(sql))
        for name, sql in db.execute(
            f"SELECT name, sql FROM {schema}.sqlite_master "  # noqa: S608 - schema names are ours
            "WHERE name LIKE 'bot\\_%' ESCAPE '\\' AND sql IS NOT NULL "
            "ORDER BY type = 'index', name"
        )
    ]


def _table_names(entries: list[tuple[str, str]]) -> list[str]:
    return [name for name, sql in entries if sql.upper().startswith("CREATE TABLE")]


def adopt_bot_tables(bot_path: Path, events_path: Path) -> int:
    """Move the bot's tables from `events_path` into `bot_path` if they are still there; return
    how many rows were copied (0 when there was nothing to move)."""
    if not events_path.is_file():
        return 0
    db = sqlite3.connect(bot_path, timeout=10.0, isolation_level=None)
    try:
        db.execute("ATTACH DATABASE ? AS events", (str(events_path),))
        db.execute("PRAGMA events.busy_timeout = 10000")
        old = _bot_tables(db, "events")
        if not old:
            return 0
        ours = _bot_tables(db, "main")
        copied = 0
        if not ours:
            copied = _copy(db, old)
        elif not _moving(db):
            # The bot's file is authoritative and was not filled from this file (e.g. an older
            # release ran on the events' file since): leave those tables alone, say so once.
            log.warning(
                "%s still holds bot tables (%s); the bot uses %s and leaves them untouched",
                events_path,
                ", ".join(_table_names(old)),
                bot_path,
            )
            return 0
        _drop(db, old)
        return copied
    finally:
        db.close()


def _copy(db: sqlite3.Connection, old: list[tuple[str, str]]) -> int:
    """Copy schemas, rows and AUTOINCREMENT counters in one transaction; mark the move."""
    tables = _table_names(old)
    rows = 0
    db.execute("BEGIN IMMEDIATE")
    try:
        for _name, sql in old:
            db.execute(sql)  # a CREATE statement runs in `main`, the bot's file
        for table in tables:
            cursor = db.execute(f"INSERT INTO main.{table} SELECT * FROM events.{table}")  # noqa: S608 - names from sqlite_master
            rows += max(cursor.rowcount, 0)
        has_sequence = db.execute(
            "SELECT 1 FROM events.sqlite_master WHERE name = 'sqlite_sequence'"
        ).fetchone()
        if has_sequence is not None:
            # The copied rows set the counters to their largest id: take the old counters,
            # which also count ids of rows deleted since (AUTOINCREMENT never reuses them).
            db.execute("DELETE FROM main.sqlite_sequence WHERE name LIKE 'bot\\_%' ESCAPE '\\'")
            db.execute(
                "INSERT INTO main.sqlite_sequence (name, seq) SELECT name, seq FROM "
                "events.sqlite_sequence WHERE name LIKE 'bot\\_%' ESCAPE '\\'"
            )
        db.execute(
            "CREATE TABLE IF NOT EXISTS main.bot_meta "
            "(name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
        )
        db.execute("INSERT OR REPLACE INTO main.bot_meta VALUES (?, 1)", (_MOVING,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    log.info("moved the bot's tables (%d rows) into their own file", rows)
    return rows


def _moving(db: sqlite3.Connection) -> bool:
    try:
        row = db.execute("SELECT value FROM main.bot_meta WHERE name = ?", (_MOVING,)).fetchone()
    except sqlite3.OperationalError:  # no bot_meta yet
        return False
    return row is not None and int(row[0]) == 1


def _drop(db: sqlite3.Connection, old: list[tuple[str, str]]) -> None:
    """Drop the copied tables from the events' file, then clear the mark."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for table in _table_names(old):
            db.execute(f"DROP TABLE IF EXISTS events.{table}")  # drops its indexes too
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("DELETE FROM main.bot_meta WHERE name = ?", (_MOVING,))
