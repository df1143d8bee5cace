"""BotStore: every table of the bot over one connection, as one object for its callers."""

from __future__ import annotations

from bot.tables.chats import ChatTables
from bot.tables.journal import JournalTables
from bot.tables.outbox import OutboxTables
from bot.tables.rules import RuleTables


class BotStore(ChatTables, RuleTables, OutboxTables, JournalTables):
    """The bot's tables in the shared database file (one small connection; writes are rare)."""
