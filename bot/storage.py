"""Persist chats, their rules and summary schedules, and alerts not yet sent at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import msgspec

from aggregation.sql import execute, executemany
from bot.prefs.chats import ChatPrefs, QuietHours
from bot.prefs.schedules import Schedule
from bot.rules.cascade import CascadeRule
from bot.rules.matching import Rule
from collectors.record import Liquidation, Side

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

# Alert journal states: written durably before a send, and after it (batched).
ON_THE_WIRE = 1
DONE = 2


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Photo(msgspec.Struct, frozen=True):
    """A picture to send (a chart), with an HTML caption."""

    png: bytes
    caption: str = ""


class PendingChat(msgspec.Struct):
    """What was still owed to one chat when the bot stopped."""

    chat_id: int
    alerts: list[Liquidation] = []
    messages: list[str | Photo] = []  # HTML messages (summaries, notices) and charts
    dropped: int = 0
    uncertain: int = 0


_PENDING = msgspec.json.Decoder(PendingChat)
_ENCODER = msgspec.json.Encoder()


def event_key(record: Liquidation) -> str:
    """Return an event's identity as text (floats in repr: exact)."""
    return (
        f"{record.exchange}|{record.market}|{record.symbol}|{record.ts_ms}|"
        f"{record.side.value}|{record.qty_base!r}|{record.price!r}"
    )


def _rule(row: aiosqlite.Row) -> Rule:
    """Decode (rule_id, chat_id, assets, min_usd, side, exchanges)."""
    side = None if row[4] is None else Side(row[4])
    return Rule(
        int(row[0]), int(row[1]), _split(row[2]), float(row[3]), side, _split(row[5]), int(row[6])
    )


def _join(values: frozenset[str]) -> str:
    return ",".join(sorted(values))


def _split(text: str) -> frozenset[str]:
    return frozenset(v for v in text.split(",") if v)


class BotStore:
    """The bot's tables in the shared database file (one small connection; writes are rare)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        # One transaction at a time on the shared connection: without it, coroutines'
        # statements interleave in one implicit transaction, and one's failure (a busy
        # database) would leave it open for another's commit.
        self._lock = asyncio.Lock()

    async def open(self) -> BotStore:
        """Open and create the tables."""
        db = await aiosqlite.connect(self.path, timeout=10.0)
        await execute(db, "PRAGMA journal_mode=WAL")
        # WAL with NORMAL survives a killed process (what the journal is for) without an
        # fsync per alert; the events' own connection uses the same setting.
        await execute(db, "PRAGMA synchronous=NORMAL")
        await db.executescript(_SCHEMA)
        await db.commit()
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
                (chat_id, kind, title[:255], int(active), _now_ms()),
            )

    async def set_active(self, chat_id: int, active: bool) -> None:
        """Enable or disable a chat (a blocked or kicked bot disables it until /start)."""
        async with self._transaction() as db:
            await execute(
                db,
                "INSERT INTO bot_chats (chat_id, kind, active, updated_ms) VALUES (?, '', ?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET active = excluded.active, "
                "updated_ms = excluded.updated_ms",
                (chat_id, int(active), _now_ms()),
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
                "INSERT OR REPLACE INTO bot_schedules (chat_id, every_s, daily_minute, source) "
                "SELECT ?, every_s, daily_minute, source FROM bot_schedules WHERE chat_id = ?",
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
                (new, _now_ms(), old),
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

    # --- rules ----------------------------------------------------------------------------

    async def add_rule(
        self,
        chat_id: int,
        assets: frozenset[str],
        min_usd: float,
        side: Side | None,
        exchanges: frozenset[str],
    ) -> Rule:
        """Store a rule and return it with its id."""
        async with self._transaction() as db:
            created = _now_ms()
            cursor = await execute(
                db,
                "INSERT INTO bot_rules (chat_id, assets, min_usd, side, exchanges, created_ms) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    chat_id,
                    _join(assets),
                    min_usd,
                    None if side is None else side.value,
                    _join(exchanges),
                    created,
                ),
            )
            assert cursor.lastrowid is not None
            return Rule(cursor.lastrowid, chat_id, assets, min_usd, side, exchanges, created)

    async def replace_rule(self, rule: Rule) -> None:
        """Store a rule's new asset set (after some of its assets were unsubscribed)."""
        async with self._transaction() as db:
            await execute(
                db,
                "UPDATE bot_rules SET assets = ? WHERE rule_id = ?",
                (_join(rule.assets), rule.rule_id),
            )

    async def delete_rules(self, rule_ids: list[int]) -> None:
        """Delete rules by id."""
        async with self._transaction() as db:
            await executemany(
                db, "DELETE FROM bot_rules WHERE rule_id = ?", [(i,) for i in rule_ids]
            )

    async def load_rules(self) -> list[Rule]:
        """Return every rule of every active chat."""
        async with self._conn().execute(
            "SELECT r.rule_id, r.chat_id, r.assets, r.min_usd, r.side, r.exchanges, r.created_ms "
            "FROM bot_rules r LEFT JOIN bot_chats c ON c.chat_id = r.chat_id "
            "WHERE COALESCE(c.active, 1) = 1 ORDER BY r.rule_id"
        ) as cur:
            return [_rule(row) async for row in cur]

    async def rules_of(self, chat_id: int) -> list[Rule]:
        """Return one chat's rules (active or not), oldest first."""
        return [r for r in await self._all_rules() if r.chat_id == chat_id]

    async def _all_rules(self) -> list[Rule]:
        async with self._conn().execute(
            "SELECT rule_id, chat_id, assets, min_usd, side, exchanges, created_ms FROM bot_rules "
            "ORDER BY rule_id"
        ) as cur:
            return [_rule(row) async for row in cur]

    # --- cascade rules and their open messages ---------------------------------------------

    async def add_cascade_rule(
        self,
        chat_id: int,
        asset: str | None,
        window_s: int,
        *,
        min_usd: float | None = None,
        multiple: float | None = None,
    ) -> CascadeRule:
        """Store a cascade rule and return it with its id."""
        async with self._transaction() as db:
            cursor = await execute(
                db,
                "INSERT INTO bot_cascade_rules (chat_id, asset, window_s, min_usd, multiple, "
                "created_ms) VALUES (?, ?, ?, ?, ?, ?)",
                (chat_id, asset, window_s, min_usd, multiple, _now_ms()),
            )
            assert cursor.lastrowid is not None
            return CascadeRule(chat_id, cursor.lastrowid, asset, window_s * 1000, min_usd, multiple)

    async def delete_cascade_rules(self, rule_ids: list[int]) -> None:
        """Delete cascade rules (and forget their open messages)."""
        async with self._transaction() as db:
            ids = [(i,) for i in rule_ids]
            await executemany(db, "DELETE FROM bot_cascade_rules WHERE rule_id = ?", ids)
            await executemany(db, "DELETE FROM bot_cascade_messages WHERE rule_id = ?", ids)

    async def load_cascade_rules(self, *, chat_id: int | None = None) -> list[CascadeRule]:
        """Return the cascade rules of every active chat, or of one chat (active or not)."""
        query = (
            "SELECT r.chat_id, r.rule_id, r.asset, r.window_s, r.min_usd, r.multiple "
            "FROM bot_cascade_rules r LEFT JOIN bot_chats c ON c.chat_id = r.chat_id "
        )
        if chat_id is None:
            query += "WHERE COALESCE(c.active, 1) = 1 ORDER BY r.rule_id"
            params: tuple[int, ...] = ()
        else:
            query += "WHERE r.chat_id = ? ORDER BY r.rule_id"
            params = (chat_id,)
        async with self._conn().execute(query, params) as cur:
            return [
                CascadeRule(int(r[0]), int(r[1]), r[2], int(r[3]) * 1000, r[4], r[5])
                async for r in cur
            ]

    async def save_cascade_message(
        self, key: tuple[int, int, str], message_id: int, started_ms: int, text: str
    ) -> None:
        """Remember an open cascade message (and its latest text) for a restart."""
        async with self._transaction() as db:
            await execute(
                db,
                "INSERT OR REPLACE INTO bot_cascade_messages VALUES (?, ?, ?, ?, ?, ?)",
                (*key, message_id, started_ms, text),
            )

    async def delete_cascade_message(self, key: tuple[int, int, str]) -> None:
        """Forget a cascade message once its final line is written."""
        async with self._transaction() as db:
            await execute(
                db,
                "DELETE FROM bot_cascade_messages WHERE chat_id = ? AND rule_id = ? AND asset = ?",
                key,
            )

    async def load_cascade_messages(self) -> list[tuple[tuple[int, int, str], int, int, str]]:
        """Return (key, message_id, started_ms, text) of every open cascade message."""
        async with self._conn().execute(
            "SELECT chat_id, rule_id, asset, message_id, started_ms, text "
            "FROM bot_cascade_messages ORDER BY chat_id, rule_id, asset"
        ) as cur:
            return [
                ((int(r[0]), int(r[1]), str(r[2])), int(r[3]), int(r[4]), str(r[5]))
                async for r in cur
            ]

    # --- schedules ------------------------------------------------------------------------

    async def set_schedule(self, schedule: Schedule, *, source: str = "command") -> None:
        """Store a chat's summary schedule (`source`: set by a command or by CHANNEL_IDS)."""
        async with self._transaction() as db:
            await execute(
                db,
                "INSERT OR REPLACE INTO bot_schedules (chat_id, every_s, daily_minute, source) "
                "VALUES (?, ?, ?, ?)",
                (schedule.chat_id, schedule.every_s, schedule.daily_minute, source),
            )

    async def delete_schedule(self, chat_id: int) -> None:
        """Turn a chat's summaries off."""
        async with self._transaction() as db:
            await execute(db, "DELETE FROM bot_schedules WHERE chat_id = ?", (chat_id,))

    async def load_schedules(self) -> list[tuple[Schedule, str]]:
        """Return every active chat's schedule and where it came from."""
        async with self._conn().execute(
            "SELECT s.chat_id, s.every_s, s.daily_minute, s.source FROM bot_schedules s "
            "LEFT JOIN bot_chats c ON c.chat_id = s.chat_id WHERE COALESCE(c.active, 1) = 1"
        ) as cur:
            return [(Schedule(int(r[0]), r[1], r[2]), str(r[3])) async for r in cur]

    async def schedule_of(self, chat_id: int) -> Schedule | None:
        """Return a chat's schedule, if any."""
        async with self._conn().execute(
            "SELECT every_s, daily_minute FROM bot_schedules WHERE chat_id = ?", (chat_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else Schedule(chat_id, row[0], row[1])

    # --- alerts owed across a restart ------------------------------------------------------

    async def save_pending(self, pending: list[PendingChat]) -> None:
        """Store what could not be sent before stopping (replacing what was stored)."""
        async with self._transaction() as db:
            await execute(db, "DELETE FROM bot_pending")
            await executemany(
                db,
                "INSERT INTO bot_pending (chat_id, payload, created_ms) VALUES (?, ?, ?)",
                [(p.chat_id, _ENCODER.encode(p), _now_ms()) for p in pending],
            )

    async def take_pending(self) -> list[PendingChat]:
        """Return and delete what a previous run could not send."""
        async with self._transaction() as db:
            async with db.execute("SELECT payload FROM bot_pending ORDER BY chat_id") as cur:
                rows = [_PENDING.decode(payload) async for (payload,) in cur]
            await execute(db, "DELETE FROM bot_pending")
            return rows

    # --- the alert journal (crash safety) -------------------------------------------------

    async def mark_on_wire(self, chat_id: int, keys: list[str]) -> None:
        """Record, durably and before the send, that these alerts are going to a chat."""
        async with self._transaction() as db:
            now = _now_ms()
            await executemany(
                db,
                "INSERT OR REPLACE INTO bot_alert_log (chat_id, event_key, state, updated_ms) "
                "VALUES (?, ?, ?, ?)",
                [(chat_id, key, ON_THE_WIRE, now) for key in keys],
            )

    async def mark_done(self, done: list[tuple[int, str]]) -> None:
        """Record that alerts were settled (sent, refused or reported as uncertain)."""
        if not done:
            return
        async with self._transaction() as db:
            now = _now_ms()
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
                db, "INSERT OR REPLACE INTO bot_meta VALUES ('clean_stop', ?)", (_now_ms(),)
            )

    async def take_clean_stop(self) -> bool:
        """Return True if the previous run stopped cleanly; clear the mark for this run."""
        async with self._transaction() as db:
            async with db.execute("SELECT value FROM bot_meta WHERE name = 'clean_stop'") as cur:
                row = await cur.fetchone()
            await execute(db, "DELETE FROM bot_meta WHERE name = 'clean_stop'")
            return row is not None
