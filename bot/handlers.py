"""Telegram handlers: parse a command, ask the services, format the answer, reply."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from telegram import Chat, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from aggregation.query import LiquidationQueries
from bot import messages
from bot.alerts import AlertRouter
from bot.chats import ChatDirectory
from bot.commands import (
    UsageError,
    parse_latest,
    parse_schedule,
    parse_stats,
    parse_subscribe,
    parse_unsubscribe,
    parse_window,
)
from bot.dispatcher import AlertDispatcher
from bot.journal import AlertJournal
from bot.rules import MAX_RULES_PER_CHAT, Rule, RuleIndex, Schedule
from bot.settings import Settings
from bot.storage import BotStore
from bot.summaries import SummaryScheduler

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
ADMIN_TTL_S = 300.0


@dataclass
class AdminCache:
    """Remember for a few minutes whether a user administers a group (one API call per check)."""

    ttl_s: float = ADMIN_TTL_S
    _entries: dict[tuple[int, int], tuple[bool, float]] = field(default_factory=dict)

    async def is_admin(self, context: Context, chat_id: int, user_id: int) -> bool:
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


@dataclass
class Services:
    """Everything the handlers use; stored in `application.bot_data["services"]`."""

    settings: Settings
    queries: LiquidationQueries
    store: BotStore
    rules: RuleIndex
    dispatcher: AlertDispatcher
    scheduler: SummaryScheduler
    chats: ChatDirectory
    router: AlertRouter
    journal: AlertJournal
    status_lines: Callable[[], list[str]] = list  # the admin status report
    admins: AdminCache = field(default_factory=AdminCache)
    limiter: CommandLimiter = field(default_factory=lambda: CommandLimiter(20))


def services_of(context: Context) -> Services:
    """Return the services from the application's bot_data."""
    services = context.bot_data["services"]
    assert isinstance(services, Services)
    return services


async def reply(update: Update, text: str) -> None:
    """Send an HTML answer to the chat the update came from (split if long)."""
    chat = update.effective_chat
    assert chat is not None
    for part in messages.split_message(text):
        await chat.send_message(part)


async def may_configure(update: Update, context: Context) -> bool:
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
    return await services_of(context).admins.is_admin(context, chat.id, user.id)


def _chat(update: Update) -> Chat:
    chat = update.effective_chat
    assert chat is not None
    return chat


def _args(context: Context) -> list[str]:
    return list(context.args or [])


async def _configure_or_refuse(update: Update, context: Context) -> bool:
    if await may_configure(update, context):
        return True
    await reply(update, messages.not_admin())
    return False


async def limit_commands(update: Update, context: Context) -> None:
    """Stop a sender's commands beyond the per-minute limit (runs before every handler)."""
    message = update.effective_message
    if message is None or not (message.text or "").startswith("/"):
        return
    user = update.effective_user
    chat = update.effective_chat
    sender = user.id if user is not None else (chat.id if chat is not None else 0)
    limiter = services_of(context).limiter
    now = time.monotonic()
    allowed, tell = limiter.check(sender, now)
    if allowed:
        return
    if tell:
        await reply(
            update,
            messages.usage(
                f"too many commands: at most {limiter.per_minute} a minute; "
                f"try again in {limiter.retry_in_s(sender, now)} s",
                "/help",
            ),
        )
    raise ApplicationHandlerStop


async def start(update: Update, context: Context) -> None:
    """Register the chat (re-enabling it after a block) and say hello."""
    chat = _chat(update)
    await services_of(context).chats.activate(chat.id, chat.type, chat.title or chat.username or "")
    await reply(update, messages.start_text())


async def help_command(update: Update, context: Context) -> None:
    """Explain every command with examples."""
    await reply(update, messages.help_text())


async def subscribe(update: Update, context: Context) -> None:
    """Add an alert rule for this chat."""
    services = services_of(context)
    chat = _chat(update)
    try:
        request = parse_subscribe(_args(context), services.settings.default_min_usd)
    except UsageError as exc:
        await reply(update, messages.usage(exc.reason, exc.example))
        return
    if not await _configure_or_refuse(update, context):
        return
    if len(services.rules.rules_for(chat.id)) >= MAX_RULES_PER_CHAT:
        await reply(
            update,
            messages.usage(
                f"this chat already has {MAX_RULES_PER_CHAT} rules; remove some first",
                "/unsubscribe #12",
            ),
        )
        return
    await services.chats.activate(chat.id, chat.type, chat.title or chat.username or "")
    rule = await services.store.add_rule(
        chat.id, request.assets, request.min_usd, request.side, request.exchanges
    )
    services.rules.add(rule)
    await reply(update, messages.rule_added(rule))


async def unsubscribe(update: Update, context: Context) -> None:
    """Remove rules (all, by asset, or by id)."""
    services = services_of(context)
    chat = _chat(update)
    try:
        request = parse_unsubscribe(_args(context))
    except UsageError as exc:
        await reply(update, messages.usage(exc.reason, exc.example))
        return
    if not await _configure_or_refuse(update, context):
        return
    removed: list[Rule] = []
    changed: list[tuple[Rule, Rule]] = []  # (old, with fewer assets)
    for rule in services.rules.rules_for(chat.id):
        if request.everything or rule.rule_id in request.rule_ids:
            removed.append(rule)
        elif request.assets and rule.assets & request.assets:
            remaining = rule.assets - request.assets
            if remaining:
                changed.append((rule, dataclasses.replace(rule, assets=remaining)))
            else:
                removed.append(rule)
    for rule in removed:
        services.rules.remove(rule)
    await services.store.delete_rules([r.rule_id for r in removed])
    for old_rule, new_rule in changed:
        services.rules.remove(old_rule)
        services.rules.add(new_rule)
        await services.store.replace_rule(new_rule)
    await reply(update, messages.rules_removed(len(removed) + len(changed)))


async def subs(update: Update, context: Context) -> None:
    """List this chat's rules and schedule."""
    services = services_of(context)
    chat = _chat(update)
    await reply(
        update,
        messages.rules_list(
            services.rules.rules_for(chat.id), services.scheduler.schedule_of(chat.id)
        ),
    )


async def stats(update: Update, context: Context) -> None:
    """Every window, long vs short, per exchange, with coverage notes."""
    services = services_of(context)
    try:
        asset = parse_stats(_args(context))
    except UsageError as exc:
        await reply(update, messages.usage(exc.reason, exc.example))
        return
    queries = services.queries
    windows = queries.market() if asset is None else queries.asset(asset)
    if windows is None:
        await reply(update, messages.usage(f"no liquidations of {asset} in the last 24 h", "/top"))
        return
    coverage = queries.window_coverage(queries.windows_s[-1])
    await reply(update, messages.stats(asset, windows, coverage))


async def top(update: Update, context: Context) -> None:
    """Top assets by long and by short liquidations in a window."""
    services = services_of(context)
    queries = services.queries
    try:
        window = parse_window(_args(context), queries.windows_s, queries.windows_s[-1])
    except UsageError as exc:
        await reply(update, messages.usage(exc.reason, exc.example))
        return
    board = queries.leaderboard(window, 10)
    await reply(update, messages.top(board, queries.window_coverage(window)))


async def latest(update: Update, context: Context) -> None:
    """The newest liquidations, optionally of one asset."""
    services = services_of(context)
    try:
        request = parse_latest(_args(context))
    except UsageError as exc:
        await reply(update, messages.usage(exc.reason, exc.example))
        return
    floor = services.settings.min_event_usd
    records = services.queries.latest(request.count, request.asset, min_usd=floor)
    await reply(update, messages.latest(records, asset=request.asset, min_usd=floor))


async def summary(update: Update, context: Context) -> None:
    """Set or stop this chat's scheduled summaries."""
    services = services_of(context)
    chat = _chat(update)
    try:
        request = parse_schedule(_args(context))
    except UsageError as exc:
        await reply(update, messages.usage(exc.reason, exc.example))
        return
    if not await _configure_or_refuse(update, context):
        return
    await services.chats.activate(chat.id, chat.type, chat.title or chat.username or "")
    if request.off:
        services.scheduler.remove(chat.id)
        await services.store.delete_schedule(chat.id)
        await reply(update, messages.schedule_set(None))
        return
    schedule = Schedule(chat.id, request.every_s, request.daily_minute)
    services.scheduler.set(schedule)
    await services.store.set_schedule(schedule)
    await reply(update, messages.schedule_set(schedule))


async def status(update: Update, context: Context) -> None:
    """Feeds, counters, queue depths and database size, for the bot's administrators."""
    services = services_of(context)
    user = update.effective_user
    if user is None or user.id not in services.settings.admin_user_ids:
        await reply(update, messages.usage("/status is for the bot's administrators", "/stats"))
        return
    await reply(update, messages.status(services.status_lines()))


async def unknown(update: Update, context: Context) -> None:
    """Answer a command the bot does not know (unless it is addressed to another bot)."""
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split(maxsplit=1)[0]
    _, _, addressee = command.partition("@")
    if addressee and addressee.lower() != (context.bot.username or "").lower():
        return  # "/cmd@otherbot" in a group is none of our business
    await reply(update, messages.usage("unknown command", "/help"))


async def my_chat_member(update: Update, context: Context) -> None:
    """Follow the bot's own membership: kicked or left disables a chat, added enables it."""
    change = update.my_chat_member
    if change is None:
        return
    chats = services_of(context).chats
    chat = change.chat
    status_now = change.new_chat_member.status
    if status_now in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
        await chats.chat_gone(chat.id, f"bot {status_now}")
    elif status_now in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR):
        await chats.activate(chat.id, chat.type, chat.title or chat.username or "")


async def migrated(update: Update, context: Context) -> None:
    """A group became a supergroup: move its rules and schedule to the new id."""
    message = update.effective_message
    if message is None or message.migrate_to_chat_id is None:
        return
    await services_of(context).chats.chat_migrated(message.chat_id, message.migrate_to_chat_id)


async def on_error(update: object, context: Context) -> None:
    """Log an error from a handler or job (never shown to users as a trace)."""
    log.error("update %r failed", update, exc_info=context.error)
