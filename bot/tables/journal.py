"""The alert journal (a mark before and after each send, so a crash neither repeats nor loses
an alert) and whether the last run stopped cleanly.

The journal's writes have their own connection and thread: a mark before a send is one round
trip to that thread (its statement and commit in one call), and never waits for the lock of the
chat tables' connection (a subscription, a summary's bookkeeping, the outbox).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self, TypeVar

from bot.tables.db import Database
from collectors.clock import now_ms
from collectors.record import Liquidation
from collectors.sqlite import execute

# Alert journal states: written durably before a send, and after it (batched).
ON_THE_WIRE = 1
DONE = 2


def event_key(record: Liquidation, topic: int | None = None) -> str:
    """Return an event's identity as text (floats in repr: exact), and the forum topic it
    went to, if any (one chat may get the same event in two topics)."""
    key = (
        f"{record.exchange}|{record.market}|{record.symbol}|{record.ts_ms}|"
        f"{record.side.value}|{record.qty_base!r}|{record.price!r}"
    )
    return key if topic is None else f"{key}|topic {topic}"


_T = TypeVar("_T")


class JournalTables(Database):
    """Journal marks per (chat, event), and the clean-stop flag."""

    _marks_thread: ThreadPoolExecutor | None = None
    _marks_db: sqlite3.Connection | None = None  # used in _marks_thread only

    async def open(self) -> Self:
        """Open the tables (see Database.open), then the journal's own connection."""
        await super().open()
        try:
            self._marks_thread = ThreadPoolExecutor(1, thread_name_prefix="bot-journal")
            await self._in_marks_thread(self._connect_marks)
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        """Close the journal's connection and its thread, then the tables' connection."""
        thread = self._marks_thread
        if thread is not None:
            try:
                await self._in_marks_thread(self._close_marks)
            finally:
                self._marks_thread = None
                thread.shutdown(wait=False)  # idle: its last job is done
        await super().close()

    def _connect_marks(self) -> None:
        db = sqlite3.connect(self.path, timeout=10.0)
        # The file is in WAL mode (Database.open); synchronous is per connection, and NORMAL
        # (no fsync per commit) survives a killed process, which is what the marks are for.
        db.execute("PRAGMA synchronous=NORMAL")
        self._marks_db = db

    def _close_marks(self) -> None:
        if self._marks_db is not None:
            self._marks_db.close()
            self._marks_db = None

    async def _in_marks_thread(self, call: Callable[..., _T], *args: Any) -> _T:
        if self._marks_thread is None:
            raise RuntimeError("BotStore is not open")
        return await asyncio.get_running_loop().run_in_executor(self._marks_thread, call, *args)

    async def _write(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Run `sql` for each row as one transaction in the journal's thread (none if no rows)."""
        if rows:
            await self._in_marks_thread(self._write_in_thread, sql, rows)

    def _write_in_thread(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        db = self._marks_db
        if db is None:
            raise RuntimeError("BotStore is not open")
        with db:  # committed, or rolled back on error
            db.executemany(sql, rows)

    async def mark_on_wire(self, marks: Sequence[tuple[int, str]]) -> None:
        """Record, durably and before the send, that these alerts (chat, event key) are going
        out: one transaction, whatever the number of chats."""
        now = now_ms()
        await self._write(
            "INSERT OR REPLACE INTO bot_alert_log (chat_id, event_key, state, updated_ms) "
            "VALUES (?, ?, ?, ?)",
            [(chat_id, key, ON_THE_WIRE, now) for chat_id, key in marks],
        )

    async def mark_done(self, done: list[tuple[int, str]]) -> None:
        """Record that alerts were settled (sent, refused or reported as uncertain)."""
        now = now_ms()
        await self._write(
            "UPDATE bot_alert_log SET state = ?, updated_ms = ? "
            "WHERE chat_id = ? AND event_key = ?",
            [(DONE, now, chat_id, key) for chat_id, key in done],
        )

    async def forget_alerts(self, entries: list[tuple[int, str]]) -> None:
        """Drop journal entries of alerts known not to have arrived (they will be resent)."""
        await self._write("DELETE FROM bot_alert_log WHERE chat_id = ? AND event_key = ?", entries)

    async def journal(self) -> dict[int, dict[str, int]]:
        """Return chat -> event key -> state, for crash recovery."""
        result: dict[int, dict[str, int]] = {}
        async with self._conn().execute(
            "SELECT chat_id, event_key, state FROM bot_alert_log"
        ) as cur:
            async for chat_id, key, state in cur:
                result.setdefault(int(chat_id), {})[str(key)] = int(state)
        return result

    async def prune_journal(self, before_ms: int) -> None:
        """Forget journal entries older than recovery could need."""
        await self._write("DELETE FROM bot_alert_log WHERE updated_ms < ?", [(before_ms,)])

    async def settle_journal(self) -> None:
        """Mark every entry done (after recovery has reported or resent what it had to)."""
        async with self._transaction() as db:
            await execute(db, "UPDATE bot_alert_log SET state = ?", (DONE,))

    async def mark_clean_stop(self) -> None:
        """Record that this run stopped cleanly (its pending alerts were stored)."""
        async with self._transaction() as db:
            await execute(
                db, "INSERT OR REPLACE INTO bot_meta VALUES ('clean_stop', ?)", (now_ms(),)
            )

    async def take_clean_stop(self) -> bool:
        """Return True if the previous run stopped cleanly; clear the mark for this run."""
        async with self._transaction() as db:
            async with db.execute("SELECT value FROM bot_meta WHERE name = 'clean_stop'") as cur:
                row = await cur.fetchone()
            await execute(db, "DELETE FROM bot_meta WHERE name = 'clean_stop'")
            return row is not None
