"""Run the Telegram bot beside the collectors in one event loop (PTB started by hand)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from telegram import BotCommandScopeChat, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import handlers, messages
from bot.alerts import AlertRouter
from bot.app import run_until_stopped, runtime_metrics, serve_dashboard
from bot.cascade_alerts import CascadeNotifier, DailyVolumes
from bot.cascades import DAY_MS, CascadeDetector
from bot.chats import ChatDirectory
from bot.commands import MIN_RULE_USD
from bot.console import format_ingest_line, format_status_line
from bot.dispatcher import AlertDispatcher
from bot.formatting import format_duration
from bot.handlers import CommandLimiter, Services
from bot.journal import AlertJournal
from bot.prefs import ChatSettings
from bot.rules import RuleIndex
from bot.runtime import Runtime
from bot.settings import Settings
from bot.storage import ON_THE_WIRE, BotStore, event_key
from bot.summaries import SummaryScheduler
from bot.texts import CATALOG, DEFAULT_LANG, text
from bot.web import ProcessMetrics

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.CHANNEL_POST,
    Update.MY_CHAT_MEMBER,
    Update.CALLBACK_QUERY,
]
COMMANDS = {
    "start": handlers.start,
    "help": handlers.help_command,
    "subscribe": handlers.subscribe,
    "unsubscribe": handlers.unsubscribe,
    "subs": handlers.subs,
    "stats": handlers.stats,
    "top": handlers.top,
    "latest": handlers.latest,
    "summary": handlers.summary,
    "chart": handlers.chart,
    "cascade": handlers.cascade,
    "lang": handlers.lang,
    "tz": handlers.tz,
    "quiet": handlers.quiet,
    "status": handlers.status,
}


@dataclass(frozen=True, slots=True)
class TelegramTuning:
    """Rates and timeouts of the Telegram side (Telegram's published limits by default)."""

    overall_per_s: float = 30.0
    group_per_minute: float = 20.0
    limiter_retries: int = 3
    private_interval_s: float = 1.0
    group_interval_s: float = 3.0
    dispatch_workers: int = 8
    drain_timeout_s: float = 5.0
    poll_timeout_s: int = 10
    init_retry_s: float = 5.0
    cascade_private_edit_s: float = 3.0  # between two versions of one cascade message
    cascade_group_edit_s: float = 6.0
    cascade_tick_s: float = 1.0


def file_base_url(base_url: str) -> str:
    """Return the file download base for a Bot API base: .../bot -> .../file/bot."""
    return base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else base_url


def build_application(settings: Settings, tuning: TelegramTuning) -> Application:  # type: ignore[type-arg]
    """Build the PTB Application: token, base URL, rate limiter, defaults and handlers."""
    assert settings.telegram_bot_token is not None
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .base_file_url(file_base_url(settings.telegram_base_url))
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
        .build()
    )
    # Commands come as messages (private chats, groups) or as channel posts; an edited
    # command is not run again.
    where = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
    # Group -1 runs first: a sender over the command limit stops there.
    application.add_handler(TypeHandler(Update, handlers.limit_commands), group=-1)
    for name, callback in COMMANDS.items():
        application.add_handler(CommandHandler(name, callback, filters=where))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, handlers.migrated))
    application.add_handler(
        ChatMemberHandler(handlers.my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_handler(CallbackQueryHandler(handlers.button))
    # Last in the same group: it runs only when no command above matched.
    application.add_handler(MessageHandler(filters.COMMAND & where, handlers.unknown))
    application.add_error_handler(handlers.on_error)
    return application


async def _initialize(application: Application, retry_s: float) -> None:  # type: ignore[type-arg]
    """Call getMe until Telegram answers; a wrong token is fatal and said plainly."""
    while True:
        try:
            await application.initialize()
        except InvalidToken:
            raise SystemExit(
                "Telegram refused TELEGRAM_BOT_TOKEN (401/404): check the token from @BotFather"
            ) from None
        except NetworkError as exc:
            log.warning("Telegram is unreachable (%s); retrying in %.0fs", exc, retry_s)
            await asyncio.sleep(retry_s)
        else:
            return


def _status_lines(runtime: Runtime, services: Services, started: float) -> list[str]:
    now = time.time_ns() // 1_000_000
    aggregation = runtime.aggregation
    dispatch = services.dispatcher.stats
    lines = [f"uptime {format_duration(time.monotonic() - started)}"]
    lines += [format_status_line(s, now) for s in runtime.feed_stats()]
    store = aggregation.store
    lines.append(format_ingest_line(aggregation.windows.counters, store.stats, store.pending()))
    lines.append(
        f"alerts: {dispatch.alerts_queued:,} queued, {dispatch.alerts_delivered:,} delivered in "
        f"{dispatch.messages_sent:,} messages ({dispatch.digests_sent:,} digests), "
        f"{services.dispatcher.pending_alerts():,} pending in "
        f"{services.dispatcher.pending_chats():,} chats, {dispatch.alerts_dropped:,} dropped, "
        f"{dispatch.alerts_uncertain:,} uncertain, {dispatch.alerts_failed:,} failed, "
        f"{dispatch.rate_limited:,} rate-limited, {dispatch.chats_gone:,} chats gone"
    )
    lines.append(
        f"rules: {len(services.rules):,} in {len(services.rules.chats()):,} chats; "
        f"summaries: {len(services.scheduler.jobs()):,} scheduled; "
        f"late events without alert: {services.router.too_old:,}"
    )
    cascade = services.cascades.stats
    lines.append(
        f"cascades: {len(services.cascades.detector.rules()):,} rules, "
        f"{services.cascades.active():,} open, {cascade.started:,} started, "
        f"{cascade.edits:,} edits, {cascade.abandoned:,} abandoned"
    )
    backfill = runtime.backfill_stats
    lines.append(
        f"okx backfills: {backfill.runs:,} runs, {backfill.events:,} events, "
        f"{backfill.errors:,} errors"
    )
    lines.append(f"database: {store.db_bytes() / 1e6:,.1f} MB at {store.path}")
    return lines


def _metrics(runtime: Runtime, services: Services) -> ProcessMetrics:
    """Return the dashboard's /metrics figures, alerts included."""
    stats = services.dispatcher.stats
    return dataclasses.replace(
        runtime_metrics(runtime),
        alerts_sent=stats.alerts_delivered,
        alerts_failed=stats.alerts_failed,
        alerts_dropped=stats.alerts_dropped,
        alert_queue=services.dispatcher.pending_alerts(),
    )


@dataclass(frozen=True, slots=True)
class RunningBot:
    """What `run_telegram` built, handed to `on_ready` (tests observe and drive it)."""

    application: Application  # type: ignore[type-arg]
    services: Services
    runtime: Runtime


async def run_telegram(
    settings: Settings,
    stop: asyncio.Event,
    tuning: TelegramTuning | None = None,
    on_ready: Callable[[RunningBot], None] | None = None,
) -> None:
    """Run collectors, aggregation and the bot until `stop` is set; then stop cleanly.

    On stop: polling ends, alerts still queued get `drain_timeout_s` to go out, what remains
    is stored for the next start, and the database writer flushes.
    """
    tuning = tuning or TelegramTuning()
    started = time.monotonic()
    async with Runtime(settings) as runtime:
        store = await BotStore(settings.database_path).open()
        application = build_application(settings, tuning)
        try:
            await _initialize(application, tuning.init_retry_s)
            services = await _wire(settings, tuning, runtime, store, application, started)
            running = RunningBot(application, services, runtime)
            async with serve_dashboard(settings, runtime, lambda: _metrics(runtime, services)):
                await _serve(tuning, running, store, stop, on_ready)
        finally:
            if application.running:
                await application.stop()
            await application.shutdown()
            await store.close()


async def _wire(
    settings: Settings,
    tuning: TelegramTuning,
    runtime: Runtime,
    store: BotStore,
    application: Application,  # type: ignore[type-arg]
    started: float,
) -> Services:
    rules = RuleIndex(await store.load_rules())
    prefs = ChatSettings(store, await store.load_prefs())
    chats = ChatDirectory(store, rules, prefs)
    journal = AlertJournal(store)
    dispatcher = AlertDispatcher(
        application.bot,
        chats,
        private_interval_s=tuning.private_interval_s,
        group_interval_s=tuning.group_interval_s,
        workers=tuning.dispatch_workers,
        journal=journal,
        prefs=prefs,
    )
    assert application.job_queue is not None, "install python-telegram-bot[job-queue]"
    scheduler = SummaryScheduler(application.job_queue, runtime.queries, dispatcher, prefs)
    queries = runtime.queries
    detector = CascadeDetector(
        DailyVolumes(lambda: queries.asset_volumes(DAY_MS // 1000)),
        rules=await store.load_cascade_rules(),
    )
    cascades = CascadeNotifier(
        application.bot,
        detector,
        store,
        prefs,
        chats,
        private_edit_s=tuning.cascade_private_edit_s,
        group_edit_s=tuning.cascade_group_edit_s,
        tick_s=tuning.cascade_tick_s,
    )
    chats.attach(scheduler, cascades)
    router = AlertRouter(rules, dispatcher, max_age_s=settings.alert_max_age_s)
    services = Services(
        settings=settings,
        queries=runtime.queries,
        store=store,
        rules=rules,
        dispatcher=dispatcher,
        scheduler=scheduler,
        chats=chats,
        router=router,
        journal=journal,
        prefs=prefs,
        cascades=cascades,
        limiter=CommandLimiter(settings.commands_per_minute),
    )
    services.status_lines = lambda: _status_lines(runtime, services, started)
    application.bot_data["services"] = services
    runtime.listeners.append(router.on_liquidation)
    # The cascades open before this start continue from the stored events (no await between
    # the replay and the listener: each event is counted once).
    longest_ms = max((rule.window_ms for rule in detector.rules()), default=0)
    if longest_ms:
        now = time.time_ns() // 1_000_000
        cascades.warm(queries.events_between(now - longest_ms - 5_000, now + 60_000))
    runtime.listeners.append(cascades.on_liquidation)
    clean = await store.take_clean_stop()
    dispatcher.restore(await store.take_pending())
    if not clean:
        await _recover(settings, runtime, store, rules, dispatcher)
    scheduled = set()
    for schedule, _source in await store.load_schedules():
        scheduler.set(schedule)
        scheduled.add(schedule.chat_id)
    for channel_id in settings.channel_ids:
        if channel_id not in scheduled:  # a schedule set by the channel's admins wins
            schedule = settings.default_schedule(channel_id)
            scheduler.set(schedule)
            await store.set_schedule(schedule, source="CHANNEL_IDS")
    return services


async def _recover(
    settings: Settings,
    runtime: Runtime,
    store: BotStore,
    rules: RuleIndex,
    dispatcher: AlertDispatcher,
) -> None:
    """After an unclean stop, settle the alerts of the last ALERT_MAX_AGE_S from the journal.

    An alert marked on the wire may have arrived: it is reported, never resent. A matched
    alert with no mark never left: it is sent now.
    """
    journal = await store.journal()
    uncertain = {
        chat_id: sum(1 for state in states.values() if state == ON_THE_WIRE)
        for chat_id, states in journal.items()
    }
    now = time.time_ns() // 1_000_000
    since = now - int(settings.alert_max_age_s * 1000)
    resent = 0
    for record in runtime.queries.events_between(since, now + 1, min_usd=MIN_RULE_USD):
        key = event_key(record)
        for chat_id, rule in rules.match(record).items():
            if rule.created_ms <= record.recv_ms and key not in journal.get(chat_id, {}):
                dispatcher.enqueue_alert(chat_id, record)
                resent += 1
    for chat_id, count in uncertain.items():
        if count:
            dispatcher.note_uncertain(chat_id, count)
    await store.settle_journal()
    if resent or any(uncertain.values()):
        log.warning(
            "recovered after an unclean stop: %d alert(s) to send, %d reported as uncertain",
            resent,
            sum(uncertain.values()),
        )


async def _serve(
    tuning: TelegramTuning,
    running: RunningBot,
    store: BotStore,
    stop: asyncio.Event,
    on_ready: Callable[[RunningBot], None] | None,
) -> None:
    application, services, runtime = running.application, running.services, running.runtime
    for lang in sorted(CATALOG):  # the menu in each language, English for the rest
        code = None if lang == DEFAULT_LANG else lang
        await application.bot.set_my_commands(list(messages.commands(lang)), language_code=code)
    admin_menu = [*messages.COMMANDS, ("status", str(text(DEFAULT_LANG, "cmd_status")))]
    for admin_id in services.settings.admin_user_ids:
        try:  # /status shows in the menu of the bot's admins only
            await application.bot.set_my_commands(admin_menu, scope=BotCommandScopeChat(admin_id))
        except TelegramError as exc:  # e.g. the admin has not started the bot yet
            log.warning("could not set the admin command menu for %d: %s", admin_id, exc)
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(
        poll_interval=0.0, timeout=tuning.poll_timeout_s, allowed_updates=ALLOWED_UPDATES
    )
    dispatching = asyncio.create_task(services.dispatcher.run(), name="dispatcher")
    journaling = asyncio.create_task(services.journal.run(), name="alert-journal")
    cascading = asyncio.create_task(services.cascades.run(), name="cascades")
    log.info("Telegram bot @%s is running", application.bot.username)
    if on_ready is not None:
        on_ready(running)
    try:
        await run_until_stopped(stop, runtime.run())
    finally:
        runtime.listeners.remove(services.router.on_liquidation)
        runtime.listeners.remove(services.cascades.on_liquidation)
        cascading.cancel()  # open cascade messages are stored: the next start adopts them
        await application.updater.stop()
        if not await services.dispatcher.drain(tuning.drain_timeout_s):
            log.warning("stopping with alerts still queued; they are stored for the next start")
        dispatching.cancel()
        journaling.cancel()
        await asyncio.gather(dispatching, journaling, cascading, return_exceptions=True)
        await services.journal.flush()
        await store.save_pending(services.dispatcher.snapshot())
        await store.mark_clean_stop()
        await application.stop()
