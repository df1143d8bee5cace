"""What delivery needs from the rest of the bot: chat events, chat preferences, a journal."""

from __future__ import annotations

from typing import Protocol

from bot.texts.catalog import DEFAULT_LOCALE, Locale


class ChatEvents(Protocol):
    """What the dispatcher tells the rest of the bot about chats."""

    async def chat_gone(self, chat_id: int, reason: str) -> None:
        """The bot may no longer write to this chat (blocked, kicked, deleted)."""

    async def chat_migrated(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup with a new id."""

    async def topic_gone(self, chat_id: int, topic: int, reason: str) -> None:
        """A forum topic of the chat was deleted: what was set in it posts nowhere."""


class ChatPrefsView(Protocol):
    """How each chat reads its messages, and when it wants no alerts."""

    def locale(self, chat_id: int) -> Locale:
        """Return the chat's language and time zone."""

    def quiet_until_ms(self, chat_id: int, now_ms: int) -> int | None:
        """Return when the chat's current quiet hours end (wall ms), or None if not quiet."""


class _NoPrefs:
    def locale(self, chat_id: int) -> Locale:
        return DEFAULT_LOCALE

    def quiet_until_ms(self, chat_id: int, now_ms: int) -> int | None:
        return None


class Journal(Protocol):
    """Where the dispatcher records deliveries for crash recovery."""

    async def on_wire(self, chat_id: int, keys: list[str]) -> None:
        """Durably mark alerts as being sent (before the send)."""

    def done(self, chat_id: int, keys: list[str]) -> None:
        """Mark alerts as settled."""

    def not_sent(self, chat_id: int, keys: list[str]) -> None:
        """Unmark alerts known not to have arrived."""
