"""The one command table: each command's handler, its place in the menu, who sees it there."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import Update

from bot.handlers import admin, chat, market, subscriptions
from bot.handlers.context import BotContext
from bot.render.chat import command_description
from bot.texts.catalog import DEFAULT_LANG

Callback = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class Command:
    """A command, its handler, and whether only the bot's admins see it in their menu."""

    name: str
    callback: Callback
    admin_only: bool = False


# In the order of the menu.
COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        Command("start", chat.start),
        Command("help", chat.help_command),
        Command("subscribe", subscriptions.subscribe),
        Command("unsubscribe", subscriptions.unsubscribe),
        Command("subs", subscriptions.subs),
        Command("stats", market.stats),
        Command("top", market.top),
        Command("latest", market.latest),
        Command("chart", market.chart),
        Command("cascade", subscriptions.cascade),
        Command("summary", chat.summary),
        Command("quiet", chat.quiet),
        Command("lang", chat.lang),
        Command("tz", chat.tz),
        # For the bot's admins: their chats' menus only (set per admin, in English).
        Command("status", admin.status, admin_only=True),
    )
}


def commands(lang: str) -> tuple[tuple[str, str], ...]:
    """Return the command menu (name, description) in a language, for setMyCommands."""
    return tuple(
        (command.name, command_description(command.name, lang))
        for command in COMMANDS.values()
        if not command.admin_only
    )


def admin_commands() -> tuple[tuple[str, str], ...]:
    """Return the menu of the bot's admins: every command, in English."""
    return tuple(
        (command.name, command_description(command.name, DEFAULT_LANG))
        for command in COMMANDS.values()
    )
