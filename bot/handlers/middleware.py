"""What runs before and around every command: the rate limit, permission checks, arguments."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from telegram import Chat, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.handlers.context import BotContext, locale_of, reply
from bot.handlers.keyboards import Press
from bot.render.chat import not_admin, usage_error, usage_key
from bot.render.html import plain_text
from bot.texts.catalog import Locale
from bot.texts.usage import UsageError

log = logging.getLogger(__name__)

T = TypeVar("T")

ADMIN_TTL_S = 300.0


@dataclass
class AdminCache:
    """Remember for a few minutes whether a user administers a group (one API call per check)."""

    ttl_s: float = ADMIN_TTL_S
    _entries: dict[tuple[int, int], tuple[bool, float]] = field(default_factory=dict)

    async def is_admin(self, context: BotContext, chat_id: int, user_id: int) -> bool:
        """Return True for the group's creator and administrators."""
        now = time.monotonic()
        cached = self._entries.get((chat_id, user_id))
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            member = await context.bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning("admin check in chat %d failed: %s", chat_id, exc)
            return False
        allowed = member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
        self._entries[(chat_id, user_id)] = (allowed, now + self.ttl_s)
        return allowed


@dataclass
class CommandLimiter:
    """Allow each sender at most `per_minute` commands in any 60 s; say so once when over."""

    per_minute: int
    _hits: dict[int, deque[float]] = field(default_factory=dict)
    _told: set[int] = field(default_factory=set)

    def check(self, sender: int, now: float) -> tuple[bool, bool]:
        """Return (allowed, tell the sender now)."""
        hits = self._hits.setdefault(sender, deque())
        while hits and hits[0] <= now - 60.0:
            hits.popleft()
        if len(hits) < self.per_minute:
            hits.append(now)
            self._told.discard(sender)
            return True, False
        if sender in self._told:
            return False, False
        self._told.add(sender)
        if len(self._hits) > 10_000:  # forget senders that went quiet
            quiet = [s for s, h in self._hits.items() if not h or h[-1] <= now - 60.0]
            for old in quiet:
                del self._hits[old]
        return False, True

    def retry_in_s(self, sender: int, now: float) -> int:
        """Return the seconds until the sender may send a command again."""
        hits = self._hits.get(sender)
        return 1 if not hits else max(1, int(hits[0] + 60.0 - now) + 1)


async def limit_commands(update: Update, context: BotContext) -> None:
    """Stop a sender's commands and button presses beyond the per-minute limit (runs first)."""
    query = update.callback_query
    message = update.effective_message
    if query is None and (message is None or not (message.text or "").startswith("/")):
        return
    user = update.effective_user
    chat = update.effective_chat
    sender = user.id if user is not None else (chat.id if chat is not None else 0)
    limiter = context.bot_data.limiter
    now = time.monotonic()
    allowed, tell = limiter.check(sender, now)
    if allowed:
        return
    loc = locale_of(update, context)
    refusal = usage_key(
        "err_too_many_commands",
        "/help",
        loc=loc,
        count=limiter.per_minute,
        seconds=limiter.retry_in_s(sender, now),
    )
    if query is not None:
        # A press always gets an answer, or the button keeps spinning.
        await query.answer(plain_text(refusal)[:200], show_alert=tell)
    elif tell:
        await reply(update, refusal)
    raise ApplicationHandlerStop


async def may_configure(update: Update, context: BotContext) -> bool:
    """Return True if the sender may change this chat's rules and schedule."""
    chat = update.effective_chat
    message = update.effective_message
    if chat is None or message is None:
        return False
    if chat.type in (ChatType.PRIVATE, ChatType.CHANNEL):
        return True  # a private chat is its user's; only administrators post in channels
    if message.sender_chat is not None and message.sender_chat.id == chat.id:
        return True  # an anonymous administrator posts as the group itself
    user = update.effective_user
    if user is None:
        return False
    return await context.bot_data.admins.is_admin(context, chat.id, user.id)


async def may_press(update: Update, context: BotContext, press: Press) -> bool:
    """Return True if the presser may use this button (the same rules as the commands)."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or user is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    # In a channel anyone who reads a post can press its buttons, but only administrators
    # can send commands: every button there needs an administrator. In a group, viewing is
    # for everyone and changing is for administrators, as with commands.
    if chat.type == ChatType.CHANNEL or press.changes_settings:
        return await context.bot_data.admins.is_admin(context, chat.id, user.id)
    return True


async def read_request(
    update: Update, context: BotContext, parse: Callable[[list[str]], T], *, configure: bool
) -> tuple[T, Locale] | None:
    """Parse a command's arguments, refusing bad ones with their reason; for a command that
    changes the chat's settings (`configure`), also refuse whoever may not. None if refused."""
    loc = locale_of(update, context)
    try:
        request = parse(_args(context))
    except UsageError as exc:
        await refuse(update, loc, exc)
        return None
    if configure and not await _configure_or_refuse(update, context, loc):
        return None
    return request, loc


async def refuse(update: Update, loc: Locale, exc: UsageError) -> None:
    """Answer a bad command with its reason and a correct example."""
    await reply(update, usage_error(exc, loc=loc))


async def _configure_or_refuse(update: Update, context: BotContext, loc: Locale) -> bool:
    if await may_configure(update, context):
        return True
    await reply(update, not_admin(loc=loc))
    return False


async def set_up_chat(update: Update, context: BotContext) -> None:
    """Record the chat as reachable and remember its user's language for background messages."""
    services = context.bot_data
    chat = chat_of(update)
    await services.chats.activate(chat.id, chat.type, chat.title or chat.username or "")
    user = update.effective_user
    if user is not None and chat.type != ChatType.CHANNEL:
        await services.prefs.remember_user_language(chat.id, user.language_code)


def chat_of(update: Update) -> Chat:
    """Return the chat an update came from."""
    chat = update.effective_chat
    assert chat is not None
    return chat


def _args(context: BotContext) -> list[str]:
    return list(context.args or [])
