"""The bot's connection to the shared database file: its tables, one transaction at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Self

import aiosqlite

from collectors.sqlite import execute

# Version 1 of the bot's tables: those of the first release, kept as they were. A later change
# is one more entry in _MIGRATIONS (statements taking version N to N + 1), never an edit here:
# a new database and an upgraded one then run the same steps.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS bot_chats (
    chat_id    INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    active     INTEGER NOT NULL DEFAULT 1,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS bot_rules (
    rule_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id    INTEGER NOT NULL,
    assets     TEXT NOT NULL,
    min_usd    REAL NOT NULL,
    side       TEXT,
    exchanges  TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS bot_rules_chat ON bot_rules (chat_id);
CREATE TABLE IF NOT EXISTS bot_schedules (
    chat_id      INTEGER PRIMARY KEY,
    every_s      INTEGER,
    daily_minute INTEGER,
    source       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bot_pending (
    chat_id    INTEGER PRIMARY KEY,
    payload    BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS bot_alert_log (
    chat_id    INTEGER NOT NULL,
    event_key  TEXT NOT NULL,
    state      INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (chat_id, event_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bot_chat_prefs (
    chat_id     INTEGER PRIMARY KEY,
    lang        TEXT,
    user_lang   TEXT,
    tz          TEXT,
    quiet_start INTEGER,
    quiet_end   INTEGER
);
CREATE TABLE IF NOT EXISTS bot_cascade_rules (
    rule_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id    INTEGER NOT NULL,
    asset      TEXT,
    window_s   INTEGER NOT NULL,
    min_usd    REAL,
    multiple   REAL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS bot_cascade_rules_chat ON bot_cascade_rules (chat_id);
CREATE TABLE IF NOT EXISTS bot_cascade_messages (
    chat_id    INTEGER NOT NULL,
    rule_id    INTEGER NOT NULL,
    asset      TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    text       TEXT NOT NULL,
    PRIMARY KEY (chat_id, rule_id, asset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bot_meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

# _MIGRATIONS[n] takes the bot's tables from version n + 1 to n + 2 (an executescript each).
_MIGRATIONS: tuple[str, ...] = (
    # 1 -> 2: the forum topic (message_thread_id) a rule, cascade rule or schedule posts into;
    # NULL: the chat itself (its General topic in a forum).
    """
    ALTER TABLE bot_rules ADD COLUMN thread_id INTEGER;
    ALTER TABLE bot_cascade_rules ADD COLUMN thread_id INTEGER;
    ALTER TABLE bot_schedules ADD COLUMN thread_id INTEGER;
    """,
)
BOT_SCHEMA_VERSION = 1 + len(_MIGRATIONS)
# Where the version is kept (bot_meta: the events' tables keep theirs in `meta`).
_VERSION_ROW = "schema_version"


class NewerSchemaError(RuntimeError):
    """The database was written by a newer release of the bot."""


async def migrate(db: aiosqlite.Connection, path: Path, migrations: tuple[str, ...]) -> int:
    """Create version 1 if missing, run the migrations it lacks, store the version; return it.

    A database without a stored version is version 1 (the first release stored none).
    """
    await db.executescript(_SCHEMA)
    async with db.execute("SELECT value FROM bot_meta WHERE name = ?", (_VERSION_ROW,)) as cur:
        row = await cur.fetchone()
    version = 1 if row is None else int(row[0])
    latest = 1 + len(migrations)
    if version > latest:
        raise NewerSchemaError(
            f"{path} was written by a newer version of the bot (its tables are at schema "
            f"{version}; this version reads up to {latest}): upgrade, or restore a backup"
        )
    for script in migrations[version - 1 :]:
        await db.executescript(script)
    await execute(db, "INSERT OR REPLACE INTO bot_meta VALUES (?, ?)", (_VERSION_ROW, latest))
    await db.commit()
    return latest


class Database:
    """One small connection to the bot's tables; the base of every table mixin of BotStore."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        # One transaction at a time on the shared connection: without it, coroutines'
        # statements interleave in one implicit transaction, and one's failure (a busy
        # database) would leave it open for another's commit.
        self._lock = asyncio.Lock()

    async def open(self) -> Self:
        """Open, create the tables and bring them to `BOT_SCHEMA_VERSION`."""
        db = await aiosqlite.connect(self.path, timeout=10.0)
        await execute(db, "PRAGMA journal_mode=WAL")
        # WAL with NORMAL survives a killed process (what the journal is for) without an
        # fsync per alert; the events' own connection uses the same setting.
        await execute(db, "PRAGMA synchronous=NORMAL")
        try:
            await migrate(db, self.path, _MIGRATIONS)
        except BaseException:
            await db.close()
            raise
        self._db = db
        return self

    async def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            await self._db.close()
            self._db = None

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("BotStore is not open")
        return self._db

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the block's statements as one transaction: committed, or rolled back on error."""
        async with self._lock:
            db = self._conn()
            try:
                yield db
            except BaseException:
                await asyncio.shield(db.rollback())
                raise
            await asyncio.shield(db.commit())
