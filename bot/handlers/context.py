"""The handlers' context: the services they use, the chat's locale, and replying."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from telegram import Bot, InlineKeyboardMarkup, Update
from telegram.ext import CallbackContext, ContextTypes, ExtBot

from aggregation.query import LiquidationQueries
from bot.delivery.cascades import CascadeNotifier
from bot.delivery.directory import ChatDirectory
from bot.delivery.dispatcher import AlertDispatcher
from bot.delivery.journal import AlertJournal
from bot.delivery.outcome import Outcome
from bot.delivery.router import AlertRouter
from bot.delivery.sender import Sender
from bot.delivery.summaries import SummaryScheduler
from bot.prefs.chats import ChatSettings, supported_language, zone
from bot.render.html import split_message
from bot.rules.matching import RuleIndex
from bot.settings import Settings
from bot.tables.bot_store import BotStore
from bot.texts.catalog import DEFAULT_LANG, Locale

if TYPE_CHECKING:
    from bot.handlers.middleware import AdminCache, CommandLimiter


class Services:
    """Everything the handlers use: the Application's `bot_data`, typed (see BotContext).

    PTB creates it empty when it builds the Application (ContextTypes calls the class without
    arguments); the composition root fills it with `wire` before any update is read.
    """

    settings: Settings
    queries: LiquidationQueries
    store: BotStore
    rules: RuleIndex
    dispatcher: AlertDispatcher
    scheduler: SummaryScheduler
    chats: ChatDirectory
    router: AlertRouter
    journal: AlertJournal
    prefs: ChatSettings
    cascades: CascadeNotifier
    admins: AdminCache
    limiter: CommandLimiter
    status_lines: Callable[[], list[str]]  # the admin status report

    def __init__(self) -> None:
        self.status_lines = list

    def wire(
        self,
        *,
        settings: Settings,
        queries: LiquidationQueries,
        store: BotStore,
        rules: RuleIndex,
        dispatcher: AlertDispatcher,
        scheduler: SummaryScheduler,
        chats: ChatDirectory,
        router: AlertRouter,
        journal: AlertJournal,
        prefs: ChatSettings,
        cascades: CascadeNotifier,
        admins: AdminCache,
        limiter: CommandLimiter,
    ) -> None:
        """Fill in every service (once, before the bot reads updates)."""
        self.settings = settings
        self.queries = queries
        self.store = store
        self.rules = rules
        self.dispatcher = dispatcher
        self.scheduler = scheduler
        self.chats = chats
        self.router = router
        self.journal = journal
        self.prefs = prefs
        self.cascades = cascades
        self.admins = admins
        self.limiter = limiter


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], Services]):
    """What every handler and the error handler get: `bot_data` is the bot's Services."""


# The Application is built with these, so PTB hands each handler a BotContext.
CONTEXT_TYPES = ContextTypes(context=BotContext, bot_data=Services)


def locale_of(update: Update, context: BotContext) -> Locale:
    """Return how to answer this update: the chat's language if set, else the sender's."""
    chat = update.effective_chat
    user = update.effective_user
    prefs = context.bot_data.prefs.get(chat.id if chat is not None else 0)
    user_lang = supported_language(user.language_code) if user is not None else None
    lang = prefs.lang or user_lang or prefs.user_lang or DEFAULT_LANG
    return Locale(lang, zone(prefs.tz))


async def reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Send an HTML answer to the chat the update came from (split if long; buttons last),
    into the forum topic the command was sent in, under the one outcome policy
    (`bot.delivery.outcome`)."""
    chat = update.effective_chat
    assert chat is not None
    sender = Sender.of(update.get_bot())
    chat_id = chat.id
    parts = split_message(text)
    topic = topic_of(update)
    for number, part in enumerate(parts, 1):
        buttons = markup if number == len(parts) else None
        done = await sender.deliver(sender.message(chat_id, part, markup=buttons, topic=topic))
        if done.outcome not in (Outcome.SENT, Outcome.UNCERTAIN):
            return  # gone or refused: the rest would fare no better (the sender logged it)
        chat_id = done.chat_id  # a migrated group's new id


async def reply_photo(update: Update, png: bytes, caption: str) -> None:
    """Send a picture with an HTML caption to the chat the update came from."""
    chat = update.effective_chat
    assert chat is not None
    sender = Sender.of(update.get_bot())
    await sender.deliver(sender.photo(chat.id, png, caption, topic=topic_of(update)))


async def edit(
    bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """Replace a message's text and buttons (an unchanged message counts as edited)."""
    sender = Sender.of(bot)
    await sender.deliver(sender.edit(chat_id, message_id, text, markup=markup))


def topic_of(update: Update) -> int | None:
    """Return the forum topic (message_thread_id) an update came from; None outside topics."""
    message = update.effective_message
    if message is None or not message.is_topic_message:
        return None
    return message.message_thread_id
