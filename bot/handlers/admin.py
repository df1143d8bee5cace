"""The bot's administrators: /status."""

from __future__ import annotations

from telegram import Update

from bot.handlers.context import BotContext, locale_of, reply
from bot.handlers.middleware import refuse
from bot.render.status import status as status_report
from bot.texts.usage import UsageError


async def status(update: Update, context: BotContext) -> None:
    """Feeds, counters, queue depths and database size, for the bot's administrators."""
    services = context.bot_data
    loc = locale_of(update, context)
    user = update.effective_user
    if user is None or user.id not in services.settings.admin_user_ids:
        await refuse(update, loc, UsageError("err_status_admins", "/stats"))
        return
    await reply(update, status_report(services.status_lines(), loc=loc))
