"""Keep the last good metadata bodies in SQLite so a restart works before REST answers."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import aiosqlite

from collectors.sqlite import execute

_SCHEMA = """
CREATE TABLE IF NOT EXISTS exchange_metadata (
    cache_key  TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    fetched_ms INTEGER NOT NULL
)
"""


class SqliteMetadataCache:
    """A `MetadataCache` in its own table of the bot's database file."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> SqliteMetadataCache:
        """Open the connection and create the table."""
        self._db = db = await aiosqlite.connect(self._path)
        await execute(db, "PRAGMA journal_mode=WAL")
        await execute(db, _SCHEMA)
        await db.commit()
        return self

    async def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def __aenter__(self) -> SqliteMetadataCache:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("SqliteMetadataCache is not open")
        return self._db

    async def load(self, key: str) -> tuple[str, int] | None:
        """Return (body, fetched_ms) for a key, or None."""
        async with self._conn().execute(
            "SELECT body, fetched_ms FROM exchange_metadata WHERE cache_key = ?", (key,)
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    async def save(self, key: str, body: str, fetched_ms: int) -> None:
        """Store a body, replacing the previous one."""
        db = self._conn()
        await execute(
            db,
            "INSERT INTO exchange_metadata (cache_key, body, fetched_ms) VALUES (?, ?, ?) "
            "ON CONFLICT(cache_key) DO UPDATE SET body = excluded.body, "
            "fetched_ms = excluded.fetched_ms",
            (key, body, fetched_ms),
        )
        await db.commit()
