"""Per-chat preferences: language, time zone and quiet hours."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass
from typing import Protocol

from bot.texts.catalog import CATALOG, DEFAULT_LANG, Locale

_DAY_MIN = 1440


def supported_language(code: str | None) -> str | None:
    """Return the catalog for a Telegram language code ("zh-hans" -> "zh"), or None."""
    if not code:
        return None
    lowered = code.lower().replace("_", "-")
    for candidate in (lowered, lowered.split("-")[0]):
        if candidate in CATALOG:
            return candidate
    return None


@functools.cache
def _zone_names() -> dict[str, str]:
    """Return every IANA zone name the system knows, keyed in lower case."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def find_zone(name: str) -> str | None:
    """Return the canonical IANA name for what a user typed (any case), or None."""
    if name.upper() in ("UTC", "GMT", "Z"):
        return "UTC"
    return _zone_names().get(name.strip().lower())


@functools.cache
def zone(name: str | None) -> dt.tzinfo:
    """Return the time zone of a stored name (UTC when unset or no longer known)."""
    if not name or name == "UTC":
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local minutes of the day [start, end) during which single alerts wait; may wrap midnight."""

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not (0 <= self.start_minute < _DAY_MIN and 0 <= self.end_minute < _DAY_MIN):
            raise ValueError("quiet hours are minutes of the day, 0 to 1439")
        if self.start_minute == self.end_minute:
            raise ValueError("quiet hours must not start and end at the same minute")

    def contains(self, minute_of_day: int) -> bool:
        """Return True if a local minute of the day is quiet."""
        if self.start_minute < self.end_minute:
            return self.start_minute <= minute_of_day < self.end_minute
        return minute_of_day >= self.start_minute or minute_of_day < self.end_minute

    def until_ms(self, now_ms: int, tz: dt.tzinfo) -> int | None:
        """Return when the quiet period holding `now_ms` ends (wall ms), or None if not quiet."""
        local = dt.datetime.fromtimestamp(now_ms / 1000, tz=tz)
        if not self.contains(local.hour * 60 + local.minute):
            return None
        end_day = local.date()
        if self.start_minute > self.end_minute and local.hour * 60 + local.minute >= (
            self.start_minute
        ):
            end_day += dt.timedelta(days=1)  # 23:00-07:00 at 23:30 ends tomorrow
        hour, minute = divmod(self.end_minute, 60)
        end = dt.datetime.combine(end_day, dt.time(hour, minute), tzinfo=tz)
        # A wall time skipped by a DST change resolves forward; the result is never in the past.
        return max(now_ms + 1, int(end.timestamp() * 1000))

    def label(self) -> str:
        """Return "23:00-07:00"."""
        return f"{_clock(self.start_minute)}-{_clock(self.end_minute)}"


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class ChatPrefs:
    """One chat's preferences; unset fields fall back to defaults."""

    chat_id: int
    lang: str | None = None  # chosen with /lang
    user_lang: str | None = None  # the Telegram language of the user who set the chat up
    tz: str | None = None  # an IANA name chosen with /tz; None is UTC
    quiet: QuietHours | None = None

    def language(self) -> str:
        """Return the language messages to this chat are written in."""
        return self.lang or self.user_lang or DEFAULT_LANG

    def locale(self) -> Locale:
        """Return the chat's language and time zone."""
        return Locale(self.language(), zone(self.tz))


class PrefsStore(Protocol):
    """Where preferences are kept (BotStore)."""

    async def save_prefs(self, prefs: ChatPrefs) -> None:
        """Store one chat's preferences."""


class ChatSettings:
    """Every chat's preferences in memory, written through to the store."""

    def __init__(self, store: PrefsStore, prefs: list[ChatPrefs] | None = None) -> None:
        self._store = store
        self._prefs = {p.chat_id: p for p in prefs or []}

    def get(self, chat_id: int) -> ChatPrefs:
        """Return a chat's preferences (defaults for a chat never seen)."""
        return self._prefs.get(chat_id) or ChatPrefs(chat_id)

    def locale(self, chat_id: int) -> Locale:
        """Return the language and time zone of background messages to a chat."""
        return self.get(chat_id).locale()

    def quiet_until_ms(self, chat_id: int, now_ms: int) -> int | None:
        """Return when a chat's current quiet hours end, or None if it is not quiet now."""
        prefs = self._prefs.get(chat_id)
        if prefs is None or prefs.quiet is None:
            return None
        return prefs.quiet.until_ms(now_ms, zone(prefs.tz))

    async def update(self, chat_id: int, **changes: object) -> ChatPrefs:
        """Change some fields of a chat's preferences and store them."""
        current = self.get(chat_id)
        updated = dataclasses.replace(current, **changes)  # type: ignore[arg-type]
        if updated != current:
            self._prefs[chat_id] = updated
            await self._store.save_prefs(updated)
        return updated

    async def remember_user_language(self, chat_id: int, code: str | None) -> None:
        """Keep the language of the user setting a chat up, for messages nobody asked for."""
        lang = supported_language(code)
        if lang is not None and self.get(chat_id).user_lang != lang:
            await self.update(chat_id, user_lang=lang)

    def move(self, old_chat_id: int, new_chat_id: int) -> None:
        """Carry a migrated group's preferences to its new id (the store moves its row)."""
        prefs = self._prefs.pop(old_chat_id, None)
        if prefs is not None:
            self._prefs[new_chat_id] = dataclasses.replace(prefs, chat_id=new_chat_id)
