"""The chats the bot knows, their preferences and summary schedules, and group migration."""

from __future__ import annotations

from bot.prefs.chats import ChatPrefs, QuietHours
from bot.prefs.schedules import Schedule
from bot.tables.db import Database
from collectors.clock import now_ms
from collectors.sqlite import execute


class ChatTables(Database):
    """Chats (reachable or not), per-chat preferences and summary schedules."""

    # --- chats ----------------------------------------------------------------------------

    async def upsert_chat(self, chat_id: int, kind: str, title: str, *, active: bool) -> None:
        """Record a chat (and whether it may receive messages)."""
        async with self._transaction() as db:
            await execute(
                db,
                "INSERT INTO bot_chats (chat_id, kind, title, active, updated_ms) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id) DO UPDATE SET "
                "kind = excluded.kind, title = excluded.title, active = excluded.active, "
                "updated_ms = excluded.updated_ms",
                (chat_id, kind, title[:255], int(active), now_ms()),
            )

    async def set_active(self, chat_id: int, active: bool) -> None:
        """Enable or disable a chat (a blocked or kicked bot disables it until /start)."""
        async with self._transaction() as db:
            await execute(
                db,
                "INSERT INTO bot_chats (chat_id, kind, active, updated_ms) VALUES (?, '', ?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET active = excluded.active, "
                "updated_ms = excluded.updated_ms",
                (chat_id, int(active), now_ms()),
            )

    async def inactive_chats(self) -> set[int]:
        """Return the chats that may not receive messages."""
        async with self._conn().execute("SELECT chat_id FROM bot_chats WHERE active = 0") as cur:
            return {int(chat_id) async for (chat_id,) in cur}

    async def migrate_chat(self, old: int, new: int) -> None:
        """Move everything of a group to its new supergroup id."""
        async with self._transaction() as db:
            for table in ("bot_rules", "bot_pending", "bot_cascade_rules", "bot_cascade_messages"):
                await execute(db, f"UPDATE {table} SET chat_id = ? WHERE chat_id = ?", (new, old))  # noqa: S608 - table names are constants
            await execute(
                db,
                "INSERT OR REPLACE INTO bot_schedules "
                "(chat_id, every_s, daily_minute, source, thread_id) "
                "SELECT ?, every_s, daily_minute, source, thread_id FROM bot_schedules "
                "WHERE chat_id = ?",
                (new, old),
            )
            await execute(db, "DELETE FROM bot_schedules WHERE chat_id = ?", (old,))
            await execute(
                db,
                "INSERT OR REPLACE INTO bot_chat_prefs "
                "SELECT ?, lang, user_lang, tz, quiet_start, quiet_end FROM bot_chat_prefs "
                "WHERE chat_id = ?",
                (new, old),
            )
            await execute(db, "DELETE FROM bot_chat_prefs WHERE chat_id = ?", (old,))
            await execute(
                db,
                "INSERT OR REPLACE INTO bot_chats (chat_id, kind, title, active, updated_ms) "
                "SELECT ?, 'supergroup', title, active, ? FROM bot_chats WHERE chat_id = ?",
                (new, now_ms(), old),
            )
            await execute(db, "DELETE FROM bot_chats WHERE chat_id = ?", (old,))

    # --- preferences ----------------------------------------------------------------------

    async def save_prefs(self, prefs: ChatPrefs) -> None:
        """Store a chat's language, time zone and quiet hours."""
        async with self._transaction() as db:
            quiet = prefs.quiet
            await execute(
                db,
                "INSERT OR REPLACE INTO bot_chat_prefs "
                "(chat_id, lang, user_lang, tz, quiet_start, quiet_end) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    prefs.chat_id,
                    prefs.lang,
                    prefs.user_lang,
                    prefs.tz,
                    None if quiet is None else quiet.start_minute,
                    None if quiet is None else quiet.end_minute,
                ),
            )

    async def load_prefs(self) -> list[ChatPrefs]:
        """Return every chat's stored preferences."""
        async with self._conn().execute(
            "SELECT chat_id, lang, user_lang, tz, quiet_start, quiet_end FROM bot_chat_prefs"
        ) as cur:
            return [
                ChatPrefs(
                    int(row[0]),
                    row[1],
                    row[2],
                    row[3],
                    None if row[4] is None or row[5] is None else QuietHours(row[4], row[5]),
                )
                async for row in cur
            ]

    # --- schedules ------------------------------------------------------------------------

    async def set_schedule(self, schedule: Schedule, *, source: str = "command") -> None:
        """Store a chat's summary schedule (`source`: set by a command or by CHANNEL_IDS)."""
        async with self._transaction() as db:
            await execute(
                db,
                "INSERT OR REPLACE INTO bot_schedules "
                "(chat_id, every_s, daily_minute, source, thread_id) VALUES (?, ?, ?, ?, ?)",
                (schedule.chat_id, schedule.every_s, schedule.daily_minute, source, schedule.topic),
            )

    async def delete_schedule(self, chat_id: int) -> None:
        """Turn a chat's summaries off."""
        async with self._transaction() as db:
            await execute(db, "DELETE FROM bot_schedules WHERE chat_id = ?", (chat_id,))

    async def load_schedules(self) -> list[tuple[Schedule, str]]:
        """Return every active chat's schedule and where it came from."""
        async with self._conn().execute(
            "SELECT s.chat_id, s.every_s, s.daily_minute, s.source, s.thread_id "
            "FROM bot_schedules s "
            "LEFT JOIN bot_chats c ON c.chat_id = s.chat_id WHERE COALESCE(c.active, 1) = 1"
        ) as cur:
            return [(Schedule(int(r[0]), r[1], r[2], r[4]), str(r[3])) async for r in cur]

    async def schedule_of(self, chat_id: int) -> Schedule | None:
        """Return a chat's schedule, if any."""
        async with self._conn().execute(
            "SELECT every_s, daily_minute, thread_id FROM bot_schedules WHERE chat_id = ?",
            (chat_id,),
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else Schedule(chat_id, row[0], row[1], row[2])
