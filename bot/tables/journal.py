"""The alert journal (a mark before and after each send, so a crash neither repeats nor loses
an alert) and whether the last run stopped cleanly."""

from __future__ import annotations

from collections.abc import Sequence

from bot.tables.db import Database
from collectors.clock import now_ms
from collectors.record import Liquidation
from collectors.sqlite import execute, executemany

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


class JournalTables(Database):
    """Journal marks per (chat, event), and the clean-stop flag."""

    async def mark_on_wire(self, marks: Sequence[tuple[int, str]]) -> None:
        """Record, durably and before the send, that these alerts (chat, event key) are going
        out: one transaction, whatever the number of chats."""
        async with self._transaction() as db:
            now = now_ms()
            await executemany(
                db,
                "INSERT OR REPLACE INTO bot_alert_log (chat_id, event_key, state, updated_ms) "
                "VALUES (?, ?, ?, ?)",
                [(chat_id, key, ON_THE_WIRE, now) for chat_id, key in marks],
            )

    async def mark_done(self, done: list[tuple[int, str]]) -> None:
        """Record that alerts were settled (sent, refused or reported as uncertain)."""
        if not done:
            return
        async with self._transaction() as db:
            now = now_ms()
            await executemany(
                db,
                "UPDATE bot_alert_log SET state = ?, updated_ms = ? "
                "WHERE chat_id = ? AND event_key = ?",
                [(DONE, now, chat_id, key) for chat_id, key in done],
            )

    async def forget_alerts(self, entries: list[tuple[int, str]]) -> None:
        """Drop journal entries of alerts known not to have arrived (they will be resent)."""
        if not entries:
            return
        async with self._transaction() as db:
            await executemany(
                db, "DELETE FROM bot_alert_log WHERE chat_id = ? AND event_key = ?", entries
            )

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
        async with self._transaction() as db:
            await execute(db, "DELETE FROM bot_alert_log WHERE updated_ms < ?", (before_ms,))

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
