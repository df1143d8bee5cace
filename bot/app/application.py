"""Build the PTB Application: token, base URL, rate limiter, defaults and the handlers."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    Defaults,
    ExtBot,
    JobQueue,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.app.http import AiohttpRequest
from bot.handlers import buttons, chat, middleware
from bot.handlers.context import CONTEXT_TYPES, BotContext, Services
from bot.handlers.registry import COMMANDS
from bot.settings import Settings

# The Application as built here: handlers and jobs get a BotContext whose bot_data is the
# Services.
BotApplication = Application[
    ExtBot[int],  # int: AIORateLimiter's per-call argument (max_retries)
    BotContext,
    dict[Any, Any],
    dict[Any, Any],
    Services,
    JobQueue[BotContext],
]

ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.CHANNEL_POST,
    Update.MY_CHAT_MEMBER,
    Update.CALLBACK_QUERY,
]


@dataclass(frozen=True, slots=True)
class TelegramTuning:
    """Rates and timeouts of the Telegram side (Telegram's published limits by default)."""

    overall_per_s: float = 30.0
    group_per_minute: float = 20.0
    limiter_retries: int = 3
    private_interval_s: float = 1.0
    group_interval_s: float = 3.0
    dispatch_workers: int = 8
    # Short enough that a stop (docker stop, systemctl stop) ends well within 5 s.
    drain_timeout_s: float = 2.5
    poll_timeout_s: int = 10
    init_retry_s: float = 5.0
    cascade_private_edit_s: float = 3.0  # between two versions of one cascade message
    cascade_group_edit_s: float = 6.0
    cascade_tick_s: float = 1.0


def file_base_url(base_url: str) -> str:
    """Return the file download base for a Bot API base: .../bot -> .../file/bot."""
    return base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else base_url


def _long_poll_request() -> AiohttpRequest:
    return AiohttpRequest(connection_pool_size=1)


@dataclass(frozen=True, slots=True)
class BotRequests:
    """The Bot API clients: one for every method, one for the long poll (as PTB keeps them)."""

    # aiohttp under PTB: less of the event loop's time per request than httpx (http.py).
    calls: AiohttpRequest = field(default_factory=AiohttpRequest)
    updates: AiohttpRequest = field(default_factory=_long_poll_request)

    async def shutdown(self) -> None:
        """Close both. PTB's `Application.shutdown` does nothing until getMe has succeeded once,
        while its first attempt already opened them."""
        await asyncio.gather(self.calls.shutdown(), self.updates.shutdown())


def build_application(
    settings: Settings, tuning: TelegramTuning, requests: BotRequests | None = None
) -> BotApplication:
    """Build the PTB Application: token, base URL, clients, rate limiter, defaults, handlers.

    Whoever passes `requests` closes them (`BotRequests.shutdown`) after the Application's own
    shutdown."""
    assert settings.telegram_bot_token is not None
    requests = requests or BotRequests()
    jobs: JobQueue[BotContext] = JobQueue()  # what PTB makes by default, typed for BotContext
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .base_file_url(file_base_url(settings.telegram_base_url))
        .request(requests.calls)
        .get_updates_request(requests.updates)
        .rate_limiter(
            AIORateLimiter(
                overall_max_rate=tuning.overall_per_s,
                overall_time_period=1,
                group_max_rate=tuning.group_per_minute,
                group_time_period=60,
                max_retries=tuning.limiter_retries,
            )
        )
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                tzinfo=dt.UTC,
            )
        )
        .context_types(CONTEXT_TYPES)
        .job_queue(jobs)
        .build()
    )
    # Commands come as messages (private chats, groups) or as channel posts; an edited
    # command is not run again.
    where = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
    # Group -1 runs first: a sender over the command limit stops there.
    application.add_handler(TypeHandler(Update, middleware.limit_commands), group=-1)
    for command in COMMANDS.values():
        application.add_handler(CommandHandler(command.name, command.callback, filters=where))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, chat.migrated))
    application.add_handler(
        ChatMemberHandler(chat.my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_handler(CallbackQueryHandler(buttons.button))
    # Last in the same group: it runs only when no command above matched.
    application.add_handler(MessageHandler(filters.COMMAND & where, chat.unknown))
    plain = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    application.add_handler(MessageHandler(plain, chat.plain_message))
    application.add_error_handler(chat.on_error)
    return application
