"""Alert rules, cascade rules and the open cascade messages a restart picks up again."""

from __future__ import annotations

import aiosqlite

from bot.rules.cascade import CascadeRule
from bot.rules.matching import Rule
from bot.tables.db import Database
from collectors.clock import now_ms
from collectors.record import Side
from collectors.sqlite import execute, executemany


def _rule(row: aiosqlite.Row) -> Rule:
    """Decode (rule_id, chat_id, assets, min_usd, side, exchanges, created_ms, thread_id)."""
    side = None if row[4] is None else Side(row[4])
    topic = None if row[7] is None else int(row[7])
    return Rule(
        int(row[0]),
        int(row[1]),
        _split(row[2]),
        float(row[3]),
        side,
        _split(row[5]),
        int(row[6]),
        topic,
    )


def _join(values: frozenset[str]) -> str:
    return ",".join(sorted(values))


def _split(text: str) -> frozenset[str]:
    return frozenset(v for v in text.split(",") if v)


class RuleTables(Database):
    """Each chat's alert rules and cascade rules, and its cascade messages still open."""

    # --- rules ----------------------------------------------------------------------------

    async def add_rule(
        self,
        chat_id: int,
        assets: frozenset[str],
        min_usd: float,
        side: Side | None,
        exchanges: frozenset[str],
        *,
        topic: int | None = None,
    ) -> Rule:
        """Store a rule (set in forum topic `topic`, if any) and return it with its id."""
        async with self._transaction() as db:
            created = now_ms()
            cursor = await execute(
                db,
                "INSERT INTO bot_rules "
                "(chat_id, assets, min_usd, side, exchanges, created_ms, thread_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    chat_id,
                    _join(assets),
                    min_usd,
                    None if side is None else side.value,
                    _join(exchanges),
                    created,
                    topic,
                ),
            )
            assert cursor.lastrowid is not None
            return Rule(cursor.lastrowid, chat_id, assets, min_usd, side, exchanges, created, topic)

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
            "SELECT r.rule_id, r.chat_id, r.assets, r.min_usd, r.side, r.exchanges, r.created_ms, "
            "r.thread_id FROM bot_rules r LEFT JOIN bot_chats c ON c.chat_id = r.chat_id "
            "WHERE COALESCE(c.active, 1) = 1 ORDER BY r.rule_id"
        ) as cur:
            return [_rule(row) async for row in cur]

    async def rules_of(self, chat_id: int) -> list[Rule]:
        """Return one chat's rules (active or not), oldest first."""
        return [r for r in await self._all_rules() if r.chat_id == chat_id]

    async def _all_rules(self) -> list[Rule]:
        async with self._conn().execute(
            "SELECT rule_id, chat_id, assets, min_usd, side, exchanges, created_ms, thread_id "
            "FROM bot_rules ORDER BY rule_id"
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
        topic: int | None = None,
    ) -> CascadeRule:
        """Store a cascade rule (set in forum topic `topic`, if any); return it with its id."""
        async with self._transaction() as db:
            cursor = await execute(
                db,
                "INSERT INTO bot_cascade_rules (chat_id, asset, window_s, min_usd, multiple, "
                "created_ms, thread_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (chat_id, asset, window_s, min_usd, multiple, now_ms(), topic),
            )
            assert cursor.lastrowid is not None
            return CascadeRule(
                chat_id, cursor.lastrowid, asset, window_s * 1000, min_usd, multiple, topic
            )

    async def delete_cascade_rules(self, rule_ids: list[int]) -> None:
        """Delete cascade rules (and forget their open messages)."""
        async with self._transaction() as db:
            ids = [(i,) for i in rule_ids]
            await executemany(db, "DELETE FROM bot_cascade_rules WHERE rule_id = ?", ids)
            await executemany(db, "DELETE FROM bot_cascade_messages WHERE rule_id = ?", ids)

    async def load_cascade_rules(self, *, chat_id: int | None = None) -> list[CascadeRule]:
        """Return the cascade rules of every active chat, or of one chat (active or not)."""
        query = (
            "SELECT r.chat_id, r.rule_id, r.asset, r.window_s, r.min_usd, r.multiple, r.thread_id "
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
                CascadeRule(int(r[0]), int(r[1]), r[2], int(r[3]) * 1000, r[4], r[5], r[6])
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
