"""Wire the Telegram side: build the services and settle what the last run left."""

from __future__ import annotations

import logging
import time

from bot.app.application import BotApplication, TelegramTuning
from bot.app.runtime import Runtime
from bot.delivery.cascades import CascadeNotifier
from bot.delivery.directory import ChatDirectory
from bot.delivery.dispatcher import AlertDispatcher
from bot.delivery.journal import AlertJournal
from bot.delivery.router import AlertRouter
from bot.delivery.sender import Sender
from bot.delivery.summaries import SummaryScheduler
from bot.handlers.arguments import MIN_RULE_USD
from bot.handlers.context import Services
from bot.handlers.middleware import AdminCache, CommandLimiter
from bot.prefs.chats import ChatSettings
from bot.render.status import StatusFigures, status_lines
from bot.rules.cascade import DAY_MS
from bot.rules.detector import CascadeDetector
from bot.rules.matching import RuleIndex
from bot.rules.volumes import DailyVolumes
from bot.settings import Settings
from bot.tables.bot_store import BotStore
from bot.tables.journal import ON_THE_WIRE, event_key
from collectors.clock import now_ms
from collectors.record import Liquidation
from collectors.supervisor import Supervisor

log = logging.getLogger(__name__)


async def wire(
    settings: Settings,
    tuning: TelegramTuning,
    runtime: Runtime,
    store: BotStore,
    application: BotApplication,
    started: float,
    supervisor: Supervisor | None = None,
) -> Services:
    """Build the bot's services, make them the collectors' listeners, and take up what the
    last run left: its open cascades, its unsent alerts and its schedules."""
    services = await _build(settings, tuning, runtime, store, application)
    tasks = supervisor if supervisor is not None else Supervisor()
    services.status_lines = lambda: status_lines(_status_figures(runtime, services, started, tasks))
    router, cascades, dispatcher = services.router, services.cascades, services.dispatcher
    aggregation = runtime.aggregation
    aggregation.add_listener(router.on_liquidation)
    # The cascades open before this start continue from the stored events. The read is queued
    # behind every event counted so far; those counted meanwhile are heard and replayed after
    # it (no await between that replay and the listener): each event is counted once.
    longest_ms = max((rule.window_ms for rule in cascades.detector.rules()), default=0)
    if longest_ms:
        now = now_ms()
        heard: list[Liquidation] = []
        aggregation.add_listener(heard.append)
        try:
            stored = await runtime.queries.events_between(now - longest_ms - 5_000, now + 60_000)
        finally:
            aggregation.remove_listener(heard.append)
        cascades.warm((*stored, *heard))
    aggregation.add_listener(cascades.on_liquidation)
    clean = await store.take_clean_stop()
    dispatcher.restore(await store.take_pending())
    if not clean:
        await _recover(settings, runtime, store, services.rules, dispatcher)
    await _schedule_summaries(settings, store, services.scheduler)
    return services


async def _build(
    settings: Settings,
    tuning: TelegramTuning,
    runtime: Runtime,
    store: BotStore,
    application: BotApplication,
) -> Services:
    """Build the services from the stored rules, preferences and cascade rules."""
    rules = RuleIndex(await store.load_rules())
    prefs = ChatSettings(store, await store.load_prefs())
    chats = ChatDirectory(store, rules, prefs)
    journal = AlertJournal(store)
    # One sender for every outgoing call: alerts, summaries, cascades, replies, button edits.
    sender = Sender(application.bot, chats)
    sender.register()
    dispatcher = AlertDispatcher(
        application.bot,
        chats,
        private_interval_s=tuning.private_interval_s,
        group_interval_s=tuning.group_interval_s,
        workers=tuning.dispatch_workers,
        journal=journal,
        prefs=prefs,
        sender=sender,
    )
    assert application.job_queue is not None, "install python-telegram-bot[job-queue]"
    scheduler = SummaryScheduler(application.job_queue, runtime.queries, dispatcher, prefs)
    detector = await _cascade_detector(runtime, store)
    cascades = CascadeNotifier(
        application.bot,
        detector,
        store,
        prefs,
        chats,
        private_edit_s=tuning.cascade_private_edit_s,
        group_edit_s=tuning.cascade_group_edit_s,
        tick_s=tuning.cascade_tick_s,
        sender=sender,
    )
    chats.attach(scheduler, cascades)
    router = AlertRouter(rules, dispatcher, max_age_s=settings.alert_max_age_s)
    services = application.bot_data
    services.wire(
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
        admins=AdminCache(),
        limiter=CommandLimiter(settings.commands_per_minute),
    )
    return services


async def _cascade_detector(runtime: Runtime, store: BotStore) -> CascadeDetector:
    """Return the cascade detector with the stored cascade rules."""
    queries = runtime.queries
    return CascadeDetector(
        DailyVolumes(lambda: queries.window_volumes(DAY_MS // 1000)),
        rules=await store.load_cascade_rules(),
    )


async def _schedule_summaries(
    settings: Settings, store: BotStore, scheduler: SummaryScheduler
) -> None:
    """Schedule the stored summaries, and CHANNEL_IDS' default where a channel has none."""
    scheduled = set()
    for schedule, _source in await store.load_schedules():
        scheduler.set(schedule)
        scheduled.add(schedule.chat_id)
    for channel_id in settings.channel_ids:
        if channel_id not in scheduled:  # a schedule set by the channel's admins wins
            schedule = settings.default_schedule(channel_id)
            scheduler.set(schedule)
            await store.set_schedule(schedule, source="CHANNEL_IDS")


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
    now = now_ms()
    since = now - int(settings.alert_max_age_s * 1000)
    resent = 0
    for record in await runtime.queries.events_between(since, now + 1, min_usd=MIN_RULE_USD):
        for (chat_id, topic), rule in rules.match(record).items():
            key = event_key(record, topic)
            if rule.created_ms <= record.recv_ms and key not in journal.get(chat_id, {}):
                dispatcher.enqueue_alert(chat_id, record, topic)
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


def _status_figures(
    runtime: Runtime, services: Services, started: float, supervisor: Supervisor
) -> StatusFigures:
    """Gather the figures of the admins' status report."""
    health = runtime.queries.ingest_health()
    collectors = runtime.collectors
    feed_tasks = [] if collectors is None else list(collectors.supervisor.tasks.values())
    return StatusFigures(
        uptime_s=time.monotonic() - started,
        now_ms=now_ms(),
        feeds=runtime.feed_stats(),
        ingest=health.ingest,
        writer=health.store,
        writer_pending=health.pending,
        delivery=services.dispatcher.stats,
        alerts_pending=services.dispatcher.pending_alerts(),
        chats_pending=services.dispatcher.pending_chats(),
        rules=len(services.rules),
        rule_chats=len(services.rules.chats()),
        summaries=len(services.scheduler.jobs()),
        late_events=services.router.too_old,
        cascade_rules=len(services.cascades.detector.rules()),
        cascades_open=services.cascades.active(),
        cascades=services.cascades.stats,
        backfill=health.backfill,
        db_bytes=health.db_bytes,
        db_path=str(health.db_path),
        tasks=[*supervisor.tasks.values(), *feed_tasks],
    )
