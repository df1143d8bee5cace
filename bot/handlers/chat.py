"""The chat itself: /start, /help, /summary, /lang, /tz, /quiet, unknown commands, membership."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.handlers.arguments import parse_lang, parse_quiet, parse_tz
from bot.handlers.context import BotContext, locale_of, reply, topic_of
from bot.handlers.middleware import chat_of, read_request, refuse, set_up_chat
from bot.prefs.schedules import Schedule, parse_schedule
from bot.render.chat import (
    failed_text,
    help_text,
    language_set,
    plain_message_hint,
    quiet_set,
    schedule_set,
    start_text,
    zone_set,
)
from bot.texts.catalog import CATALOG
from bot.texts.usage import UsageError
from collectors.clock import now_ms

log = logging.getLogger(__name__)


async def start(update: Update, context: BotContext) -> None:
    """Register the chat (re-enabling it after a block) and say hello."""
    await set_up_chat(update, context)
    await reply(update, start_text(loc=locale_of(update, context)))


async def help_command(update: Update, context: BotContext) -> None:
    """Explain every command with examples."""
    await reply(update, help_text(loc=locale_of(update, context)))


async def summary(update: Update, context: BotContext) -> None:
    """Set or stop this chat's scheduled summaries."""
    services = context.bot_data
    chat = chat_of(update)
    asked = await read_request(
        update,
        context,
        lambda args: parse_schedule(args, services.queries.history_s),
        configure=True,
    )
    if asked is None:
        return
    request, loc = asked
    await set_up_chat(update, context)
    if request.off:
        services.scheduler.remove(chat.id)
        await services.store.delete_schedule(chat.id)
        await reply(update, schedule_set(None, loc=loc))
        return
    # Set in a forum topic, the summaries post there.
    schedule = Schedule(chat.id, request.every_s, request.daily_minute, topic_of(update))
    services.scheduler.set(schedule)
    await services.store.set_schedule(schedule)
    next_day = services.scheduler.next_day(schedule)
    await reply(update, schedule_set(schedule, loc=loc, next_day=next_day))


async def lang(update: Update, context: BotContext) -> None:
    """Choose the chat's language, or `auto` for each user's Telegram language."""
    services = context.bot_data
    chat = chat_of(update)
    asked = await read_request(
        update, context, lambda args: parse_lang(args, sorted(CATALOG)), configure=True
    )
    if asked is None:
        return
    chosen, _ = asked  # the reply is in the language just chosen
    await set_up_chat(update, context)
    await services.prefs.update(chat.id, lang=chosen)
    await reply(update, language_set(chosen, loc=locale_of(update, context)))


async def tz(update: Update, context: BotContext) -> None:
    """Set the chat's time zone: daily summaries, quiet hours and shown times follow it."""
    services = context.bot_data
    chat = chat_of(update)
    asked = await read_request(update, context, parse_tz, configure=True)
    if asked is None:
        return
    name, _ = asked  # the reply shows times in the zone just chosen
    await set_up_chat(update, context)
    await services.prefs.update(chat.id, tz=None if name == "UTC" else name)
    services.scheduler.zone_changed(chat.id)
    services.dispatcher.release(chat.id)  # quiet hours moved with the clock
    await reply(update, zone_set(name, now_ms(), loc=locale_of(update, context)))


async def quiet(update: Update, context: BotContext) -> None:
    """Set quiet hours (alerts wait and come as one digest after) or turn them off."""
    services = context.bot_data
    chat = chat_of(update)
    asked = await read_request(update, context, parse_quiet, configure=True)
    if asked is None:
        return
    hours, loc = asked
    await set_up_chat(update, context)
    prefs = await services.prefs.update(chat.id, quiet=hours)
    services.dispatcher.release(chat.id)
    await reply(update, quiet_set(hours, prefs.tz or "UTC", loc=loc))


async def unknown(update: Update, context: BotContext) -> None:
    """Answer a command the bot does not know (unless it is addressed to another bot)."""
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split(maxsplit=1)[0]
    _, _, addressee = command.partition("@")
    if addressee and addressee.lower() != (context.bot.username or "").lower():
        return  # "/cmd@otherbot" in a group is none of our business
    await refuse(update, locale_of(update, context), UsageError("err_unknown", "/help"))


async def plain_message(update: Update, context: BotContext) -> None:
    """Point a plain message in a private chat to /help (groups talk among themselves)."""
    await reply(update, plain_message_hint(loc=locale_of(update, context)))


async def my_chat_member(update: Update, context: BotContext) -> None:
    """Follow the bot's own membership: kicked or left disables a chat, added enables it."""
    change = update.my_chat_member
    if change is None:
        return
    chats = context.bot_data.chats
    chat = change.chat
    status_now = change.new_chat_member.status
    if status_now in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
        await chats.chat_gone(chat.id, f"bot {status_now}")
    elif status_now in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR):
        await chats.activate(chat.id, chat.type, chat.title or chat.username or "")


async def migrated(update: Update, context: BotContext) -> None:
    """A group became a supergroup: move its rules and schedule to the new id."""
    message = update.effective_message
    if message is None or message.migrate_to_chat_id is None:
        return
    await context.bot_data.chats.chat_migrated(message.chat_id, message.migrate_to_chat_id)


async def on_error(update: object, context: BotContext) -> None:
    """Log an error from a handler or job, and tell the chat it was logged (never a trace).

    The log line names the update, chat and command only: a user's text may be 4,096
    characters of anything, so it stays out of the log.
    """
    if not isinstance(update, Update):
        log.error("job or polling failed", exc_info=context.error)
        return
    message = update.effective_message
    chat = update.effective_chat
    command = (message.text or "").split(maxsplit=1)[0][:40] if message is not None else ""
    log.error(
        "update %d failed (chat %s, %s)",
        update.update_id,
        chat.id if chat is not None else "-",
        command or ("button" if update.callback_query is not None else "no command"),
        exc_info=context.error,
    )
    if chat is None or (message is None and update.callback_query is None):
        return
    try:
        await reply(update, failed_text(loc=locale_of(update, context)))
    except TelegramError:  # the chat may be the very thing that failed
        log.warning("could not tell chat %d about the failure", chat.id)
