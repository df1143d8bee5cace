"""What was still owed to each chat when the bot stopped: alerts, messages and charts."""

from __future__ import annotations

import msgspec

from bot.tables.db import Database
from collectors.clock import now_ms
from collectors.record import Liquidation
from collectors.sqlite import execute, executemany


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
    # The forum topic of each alert and message, in the same order (empty: none has one;
    # payloads stored before topics existed have neither list).
    alert_topics: list[int | None] = []
    message_topics: list[int | None] = []


_PENDING = msgspec.json.Decoder(PendingChat)
_ENCODER = msgspec.json.Encoder()


class OutboxTables(Database):
    """Alerts and messages owed to chats across a restart."""

    async def save_pending(self, pending: list[PendingChat]) -> None:
        """Store what could not be sent before stopping (replacing what was stored)."""
        async with self._transaction() as db:
            await execute(db, "DELETE FROM bot_pending")
            await executemany(
                db,
                "INSERT INTO bot_pending (chat_id, payload, created_ms) VALUES (?, ?, ?)",
                [(p.chat_id, _ENCODER.encode(p), now_ms()) for p in pending],
            )

    async def take_pending(self) -> list[PendingChat]:
        """Return and delete what a previous run could not send."""
        async with self._transaction() as db:
            async with db.execute("SELECT payload FROM bot_pending ORDER BY chat_id") as cur:
                rows = [_PENDING.decode(payload) async for (payload,) in cur]
            await execute(db, "DELETE FROM bot_pending")
            return rows
