"""Telegram handlers: parse a command, ask the services, format the answer, reply."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from telegram import Chat, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from aggregation.query import LiquidationQueries
from bot.commands import (
    MAX_CASCADE_RULES_PER_CHAT,
    parse_cascade,
    parse_chart,
    parse_lang,
    parse_latest,
    parse_quiet,
    parse_stats,
    parse_subscribe,
    parse_tz,
    parse_unsubscribe,
    parse_window,
)
from bot.controls import Press, parse_press, remove_buttons, window_buttons
from bot.delivery.cascades import CascadeNotifier
from bot.delivery.directory import ChatDirectory
from bot.delivery.dispatcher import AlertDispatcher
from bot.delivery.journal import AlertJournal
from bot.delivery.router import AlertRouter
from bot.delivery.summaries import SummaryScheduler
from bot.prefs.chats import ChatSettings, supported_language, zone
from bot.prefs.schedules import Schedule, parse_schedule
from bot.render import market
from bot.render.cascades import cascade_rule_added, cascades_removed
from bot.render.charts import render_chart_async
from bot.render.chat import (
    help_text,
    language_set,
    not_admin,
    quiet_set,
    rule_added,
    rules_list,
    rules_removed,
    schedule_set,
    start_text,
    usage_error,
    usage_key,
    zone_set,
)
from bot.render.html import plain_text, split_message
from bot.render.status import status as status_report
from bot.rules.cascade import CascadeRule
from bot.rules.matching import MAX_RULES_PER_CHAT, Rule, RuleIndex
from bot.settings import Settings
from bot.tables.bot_store import BotStore
from bot.texts.catalog import CATALOG, DEFAULT_LANG, Locale
from bot.texts.usage import UsageError

log = logging.getLogger(__name__)

T = TypeVar("T")

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
    prefs: ChatSettings
    cascades: CascadeNotifier
    status_lines: Callable[[], list[str]] = list  # the admin status report
    admins: AdminCache = field(default_factory=AdminCache)
    limiter: CommandLimiter = field(default_factory=lambda: CommandLimiter(20))


def services_of(context: Context) -> Services:
    """Return the services from the application's bot_data."""
    services = context.bot_data["services"]
    assert isinstance(services, Services)
    return services


def locale_of(update: Update, context: Context) -> Locale:
    """Return how to answer this update: the chat's language if set, else the sender's."""
    chat = update.effective_chat
    user = update.effective_user
    prefs = services_of(context).prefs.get(chat.id if chat is not None else 0)
    user_lang = supported_language(user.language_code) if user is not None else None
    lang = prefs.lang or user_lang or prefs.user_lang or DEFAULT_LANG
    return Locale(lang, zone(prefs.tz))


async def reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Send an HTML answer to the chat the update came from (split if long; buttons last)."""
    chat = update.effective_chat
    assert chat is not None
    parts = split_message(text)
    for number, part in enumerate(parts, 1):
        await chat.send_message(part, reply_markup=markup if number == len(parts) else None)


async def _refuse(update: Update, loc: Locale, exc: UsageError) -> None:
    await reply(update, usage_error(exc, loc=loc))


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


async def may_press(update: Update, context: Context, press: Press) -> bool:
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
        return await services_of(context).admins.is_admin(context, chat.id, user.id)
    return True


def _chat(update: Update) -> Chat:
    chat = update.effective_chat
    assert chat is not None
    return chat


def _args(context: Context) -> list[str]:
    return list(context.args or [])


async def _configure_or_refuse(update: Update, context: Context, loc: Locale) -> bool:
    if await may_configure(update, context):
        return True
    await reply(update, not_admin(loc=loc))
    return False


async def _request(
    update: Update, context: Context, parse: Callable[[list[str]], T], *, configure: bool
) -> tuple[T, Locale] | None:
    """Parse a command's arguments, refusing bad ones with their reason; for a command that
    changes the chat's settings (`configure`), also refuse whoever may not. None if refused."""
    loc = locale_of(update, context)
    try:
        request = parse(_args(context))
    except UsageError as exc:
        await _refuse(update, loc, exc)
        return None
    if configure and not await _configure_or_refuse(update, context, loc):
        return None
    return request, loc


async def _set_up(update: Update, context: Context) -> None:
    """Record the chat as reachable and remember its user's language for background messages."""
    services = services_of(context)
    chat = _chat(update)
    await services.chats.activate(chat.id, chat.type, chat.title or chat.username or "")
    user = update.effective_user
    if user is not None and chat.type != ChatType.CHANNEL:
        await services.prefs.remember_user_language(chat.id, user.language_code)


async def limit_commands(update: Update, context: Context) -> None:
    """Stop a sender's commands and button presses beyond the per-minute limit (runs first)."""
    query = update.callback_query
    message = update.effective_message
    if query is None and (message is None or not (message.text or "").startswith("/")):
        return
    user = update.effective_user
    chat = update.effective_chat
    sender = user.id if user is not None else (chat.id if chat is not None else 0)
    limiter = services_of(context).limiter
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


async def start(update: Update, context: Context) -> None:
    """Register the chat (re-enabling it after a block) and say hello."""
    await _set_up(update, context)
    await reply(update, start_text(loc=locale_of(update, context)))


async def help_command(update: Update, context: Context) -> None:
    """Explain every command with examples."""
    await reply(update, help_text(loc=locale_of(update, context)))


async def subscribe(update: Update, context: Context) -> None:
    """Add an alert rule for this chat."""
    services = services_of(context)
    chat = _chat(update)
    asked = await _request(
        update,
        context,
        lambda args: parse_subscribe(args, services.settings.default_min_usd),
        configure=True,
    )
    if asked is None:
        return
    request, loc = asked
    if len(services.rules.rules_for(chat.id)) >= MAX_RULES_PER_CHAT:
        await _refuse(
            update, loc, UsageError("err_rule_limit", "/unsubscribe #12", count=MAX_RULES_PER_CHAT)
        )
        return
    await _set_up(update, context)
    rule = await services.store.add_rule(
        chat.id, request.assets, request.min_usd, request.side, request.exchanges
    )
    services.rules.add(rule)
    await reply(update, rule_added(rule, loc=loc))


async def _remove_rules(services: Services, chat_id: int, rules: list[Rule]) -> None:
    for rule in rules:
        services.rules.remove(rule)
    await services.store.delete_rules([r.rule_id for r in rules])


async def unsubscribe(update: Update, context: Context) -> None:
    """Remove rules (all, by asset, or by id)."""
    services = services_of(context)
    chat = _chat(update)
    asked = await _request(update, context, parse_unsubscribe, configure=True)
    if asked is None:
        return
    request, loc = asked
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
    await _remove_rules(services, chat.id, removed)
    for old_rule, new_rule in changed:
        services.rules.remove(old_rule)
        services.rules.add(new_rule)
        await services.store.replace_rule(new_rule)
    cascades = [
        rule.rule_id
        for rule in _cascade_rules(services, chat.id)
        if request.everything or rule.rule_id in request.cascade_ids
    ]
    await _remove_cascades(services, chat.id, cascades)
    answers = []
    if request.everything or request.rule_ids or request.assets:
        answers.append(rules_removed(len(removed) + len(changed), loc=loc))
    if request.cascade_ids or (request.everything and cascades):
        answers.append(cascades_removed(len(cascades), loc=loc))
    await reply(update, "\n".join(answers))


def _cascade_rules(services: Services, chat_id: int) -> list[CascadeRule]:
    return [rule for rule in services.cascades.detector.rules() if rule.chat_id == chat_id]


async def _remove_cascades(services: Services, chat_id: int, rule_ids: list[int]) -> None:
    if rule_ids:
        services.cascades.remove_rules(chat_id, rule_ids)
        await services.store.delete_cascade_rules(rule_ids)


def _subs_view(
    services: Services, chat_id: int, loc: Locale
) -> tuple[str, InlineKeyboardMarkup | None]:
    rules = services.rules.rules_for(chat_id)
    cascades = _cascade_rules(services, chat_id)
    text = rules_list(
        rules,
        services.scheduler.schedule_of(chat_id),
        cascades=cascades,
        prefs=services.prefs.get(chat_id),
        loc=loc,
    )
    return text, remove_buttons([r.rule_id for r in rules], [r.rule_id for r in cascades])


async def subs(update: Update, context: Context) -> None:
    """List this chat's rules, schedule and preferences, with a remove button per rule."""
    text, markup = _subs_view(services_of(context), _chat(update).id, locale_of(update, context))
    await reply(update, text, markup)


def _stats_view(
    services: Services, asset: str | None, detail_s: int | None, loc: Locale
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    queries = services.queries
    windows = queries.market() if asset is None else queries.asset(asset)
    if windows is None:
        return None
    longest = queries.windows_s[-1]
    coverage = queries.window_coverage(longest)
    text = market.stats(asset, windows, coverage, detail_s=detail_s, loc=loc)
    markup = window_buttons(queries.windows_s, detail_s or longest, asset=asset, stats=True)
    return text, markup


async def stats(update: Update, context: Context) -> None:
    """Every window, long vs short, per exchange, with coverage notes and window buttons."""
    services = services_of(context)
    asked = await _request(update, context, parse_stats, configure=False)
    if asked is None:
        return
    asset, loc = asked
    view = _stats_view(services, asset, None, loc)
    if view is None:
        await _refuse(update, loc, UsageError("err_no_asset_data", "/top", asset=asset or ""))
        return
    await reply(update, *view)


def _top_view(services: Services, window: int, loc: Locale) -> tuple[str, InlineKeyboardMarkup]:
    queries = services.queries
    board = queries.leaderboard(window, 10)
    text = market.top(board, queries.window_coverage(window), loc=loc)
    return text, window_buttons(queries.windows_s, window)


async def top(update: Update, context: Context) -> None:
    """Top assets by long and by short liquidations in a window, with window buttons."""
    services = services_of(context)
    queries = services.queries
    asked = await _request(
        update,
        context,
        lambda args: parse_window(args, queries.windows_s, queries.windows_s[-1]),
        configure=False,
    )
    if asked is None:
        return
    window, loc = asked
    await reply(update, *_top_view(services, window, loc))


async def latest(update: Update, context: Context) -> None:
    """The newest liquidations, optionally of one asset."""
    services = services_of(context)
    asked = await _request(update, context, parse_latest, configure=False)
    if asked is None:
        return
    request, loc = asked
    floor = services.settings.min_event_usd
    records = services.queries.latest(request.count, request.asset, min_usd=floor)
    await reply(update, market.latest(records, asset=request.asset, min_usd=floor, loc=loc))


async def chart(update: Update, context: Context) -> None:
    """Send a chart of liquidated USD per interval: the market or one asset, 1m to 24h."""
    services = services_of(context)
    asked = await _request(update, context, parse_chart, configure=False)
    if asked is None:
        return
    (asset, window_s), loc = asked
    queries = services.queries
    if asset is not None and queries.asset(asset) is None:
        await _refuse(update, loc, UsageError("err_no_asset_data", "/chart", asset=asset))
        return
    series = queries.series(window_s, asset)
    caption = market.chart_caption(series, queries.window_coverage(window_s), loc=loc)
    try:
        png = await render_chart_async(series, lang=loc.lang, tz=loc.tz)
    except Exception:  # a drawing bug must not cost the user an answer
        log.exception("chart of %s over %ds failed", asset or "the market", window_s)
        await reply(update, market.chart_failed(loc=loc))
        return
    await _chat(update).send_photo(png, caption=caption)


async def cascade(update: Update, context: Context) -> None:
    """Add a cascade rule (one message per cascade, edited as it grows), or remove them all."""
    services = services_of(context)
    chat = _chat(update)
    asked = await _request(update, context, parse_cascade, configure=True)
    if asked is None:
        return
    request, loc = asked
    existing = _cascade_rules(services, chat.id)
    if request is None:
        await _remove_cascades(services, chat.id, [rule.rule_id for rule in existing])
        await reply(update, cascades_removed(len(existing), loc=loc))
        return
    if len(existing) >= MAX_CASCADE_RULES_PER_CHAT:
        limit = UsageError("err_cascade_limit", "/cascade off", count=MAX_CASCADE_RULES_PER_CHAT)
        await _refuse(update, loc, limit)
        return
    await _set_up(update, context)
    rule = await services.store.add_cascade_rule(
        chat.id,
        request.asset,
        request.window_s,
        min_usd=request.min_usd,
        multiple=request.multiple,
    )
    services.cascades.add_rules([rule])
    await reply(update, cascade_rule_added(rule, loc=loc))


async def summary(update: Update, context: Context) -> None:
    """Set or stop this chat's scheduled summaries."""
    services = services_of(context)
    chat = _chat(update)
    asked = await _request(update, context, parse_schedule, configure=True)
    if asked is None:
        return
    request, loc = asked
    await _set_up(update, context)
    if request.off:
        services.scheduler.remove(chat.id)
        await services.store.delete_schedule(chat.id)
        await reply(update, schedule_set(None, loc=loc))
        return
    schedule = Schedule(chat.id, request.every_s, request.daily_minute)
    services.scheduler.set(schedule)
    await services.store.set_schedule(schedule)
    await reply(update, schedule_set(schedule, loc=loc))


async def lang(update: Update, context: Context) -> None:
    """Choose the chat's language, or `auto` for each user's Telegram language."""
    services = services_of(context)
    chat = _chat(update)
    asked = await _request(
        update, context, lambda args: parse_lang(args, sorted(CATALOG)), configure=True
    )
    if asked is None:
        return
    chosen, _ = asked  # the reply is in the language just chosen
    await _set_up(update, context)
    await services.prefs.update(chat.id, lang=chosen)
    await reply(update, language_set(chosen, loc=locale_of(update, context)))


async def tz(update: Update, context: Context) -> None:
    """Set the chat's time zone: daily summaries, quiet hours and shown times follow it."""
    services = services_of(context)
    chat = _chat(update)
    asked = await _request(update, context, parse_tz, configure=True)
    if asked is None:
        return
    name, _ = asked  # the reply shows times in the zone just chosen
    await _set_up(update, context)
    await services.prefs.update(chat.id, tz=None if name == "UTC" else name)
    services.scheduler.zone_changed(chat.id)
    services.dispatcher.release(chat.id)  # quiet hours moved with the clock
    now_ms = time.time_ns() // 1_000_000
    await reply(update, zone_set(name, now_ms, loc=locale_of(update, context)))


async def quiet(update: Update, context: Context) -> None:
    """Set quiet hours (alerts wait and come as one digest after) or turn them off."""
    services = services_of(context)
    chat = _chat(update)
    asked = await _request(update, context, parse_quiet, configure=True)
    if asked is None:
        return
    hours, loc = asked
    await _set_up(update, context)
    prefs = await services.prefs.update(chat.id, quiet=hours)
    services.dispatcher.release(chat.id)
    await reply(update, quiet_set(hours, prefs.tz or "UTC", loc=loc))


async def status(update: Update, context: Context) -> None:
    """Feeds, counters, queue depths and database size, for the bot's administrators."""
    services = services_of(context)
    loc = locale_of(update, context)
    user = update.effective_user
    if user is None or user.id not in services.settings.admin_user_ids:
        await _refuse(update, loc, UsageError("err_status_admins", "/stats"))
        return
    await reply(update, status_report(services.status_lines(), loc=loc))


async def unknown(update: Update, context: Context) -> None:
    """Answer a command the bot does not know (unless it is addressed to another bot)."""
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split(maxsplit=1)[0]
    _, _, addressee = command.partition("@")
    if addressee and addressee.lower() != (context.bot.username or "").lower():
        return  # "/cmd@otherbot" in a group is none of our business
    await _refuse(update, locale_of(update, context), UsageError("err_unknown", "/help"))


async def button(update: Update, context: Context) -> None:
    """Handle a press on an inline button: switch a window, or remove a rule."""
    query = update.callback_query
    if query is None:
        return
    press = parse_press(query.data)
    chat = update.effective_chat
    loc = locale_of(update, context)
    if press is None or chat is None or query.message is None:
        await query.answer()  # an old or foreign button: nothing to do
        return
    if not await may_press(update, context, press):
        await query.answer(plain_text(not_admin(loc=loc)), show_alert=True)
        return
    services = services_of(context)
    view: tuple[str, InlineKeyboardMarkup | None] | None
    notice = ""
    if press.action == "top":
        if press.number not in services.queries.windows_s:
            await query.answer()
            return
        view = _top_view(services, press.number, loc)
    elif press.action == "st":
        if press.number not in services.queries.windows_s:
            await query.answer()
            return
        view = _stats_view(services, press.asset, press.number, loc)
    elif press.action == "rm":
        rules = [r for r in services.rules.rules_for(chat.id) if r.rule_id == press.number]
        await _remove_rules(services, chat.id, rules)
        notice = plain_text(rules_removed(len(rules), loc=loc))
        view = _subs_view(services, chat.id, loc)
    else:  # "rmc"
        ids = [r.rule_id for r in _cascade_rules(services, chat.id) if r.rule_id == press.number]
        await _remove_cascades(services, chat.id, ids)
        notice = plain_text(cascades_removed(len(ids), loc=loc))
        view = _subs_view(services, chat.id, loc)
    if view is not None:
        await _edit(query.message.chat.id, query.message.message_id, view, context)
    await query.answer(notice or None)


async def _edit(
    chat_id: int,
    message_id: int,
    view: tuple[str, InlineKeyboardMarkup | None],
    context: Context,
) -> None:
    """Replace a message's text and buttons; an unchanged message is left as it is."""
    text, markup = view
    try:
        await context.bot.edit_message_text(
            split_message(text)[0],
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=markup,
        )
    except BadRequest as exc:
        if "message is not modified" not in exc.message.lower():
            raise


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
