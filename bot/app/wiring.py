"""Wire the Telegram side: build the services and settle what the last run left."""

from __future__ import annotations

import bisect
import logging
import time

from aggregation.writes import WriteFailed
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

FUTURE_MS = 3_600_000  # an exchange's clock may run ahead: stored events up to an hour ahead


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
    cascades, dispatcher = services.cascades, services.dispatcher
    aggregation = runtime.aggregation
    # The cascades open before this start continue from the stored events (the listener is
    # added right after the read: each event is counted once, see `_read_then_listen`).
    longest_ms = max((rule.window_ms for rule in cascades.detector.rules()), default=0)
    if longest_ms:
        now = now_ms()
        stored, heard = await _read_then_listen(
            runtime,
            now - longest_ms - 5_000,
            now + FUTURE_MS,
            min_usd=0.0,
            purpose="cascades open before this start are counted from now",
        )
        cascades.warm((*stored, *heard))
    aggregation.add_listener(cascades.on_liquidation)
    clean = await store.take_clean_stop()
    dispatcher.restore(await store.take_pending())
    await _catch_up(settings, runtime, store, services, clean=clean)
    await _schedule_summaries(settings, store, services.scheduler)
    return services


async def _read_then_listen(
    runtime: Runtime, start_ms: int, end_ms: int, *, min_usd: float, purpose: str
) -> tuple[tuple[Liquidation, ...], list[Liquidation]]:
    """Return the stored events of [start_ms, end_ms) of at least min_usd, and every event
    counted while they were read.

    The read is queued behind every event counted so far; those counted meanwhile are not in
    it, and are heard instead. One kind is both: an event memory could not tell new (older
    than what it remembers) is told once the database has stored it, so one stored just
    before the read is told during it; what was heard is returned without the stored events.
    The caller adds its listener before its next await: then each event reaches it once, from
    the read, from what was heard, or live. If the events' database is failing, the start goes
    on without the stored events (said, for `purpose`).
    """
    aggregation = runtime.aggregation
    heard: list[Liquidation] = []
    aggregation.add_listener(heard.append)
    try:
        stored = await runtime.queries.events_between(start_ms, end_ms, min_usd=min_usd)
    except WriteFailed as error:
        log.error("%s: the stored events could not be read (%s)", purpose, error)
        stored = ()
    finally:
        aggregation.remove_listener(heard.append)
    if heard and stored:
        oldest = min(record.ts_ms for record in heard)
        # Oldest first: only the stored events from the oldest one heard on can be among them.
        at = bisect.bisect_left(stored, oldest, key=lambda record: record.ts_ms)
        known = {record.identity() for record in stored[at:]}
        heard = [record for record in heard if record.identity() not in known]
    return stored, heard


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


async def _catch_up(
    settings: Settings, runtime: Runtime, store: BotStore, services: Services, *, clean: bool
) -> None:
    """Alert what was counted before the alerts listened, then make them listen.

    After a clean stop: the matching events heard since this process started (while Telegram
    was asked who the bot is). After an unclean one: also those of the last ALERT_MAX_AGE_S
    that the journal does not show: an alert marked on the wire may have arrived, and is
    reported, never resent; a matched alert with no mark never left, and is sent now.

    The router starts listening right after the read (`_read_then_listen`): an event counted
    meanwhile is alerted once, not by the live path and this catch-up both.
    """
    router, dispatcher = services.router, services.dispatcher
    journal = {} if clean else await store.journal()
    now = now_ms()
    since = now - int(settings.alert_max_age_s * 1000)
    stored, heard = await _read_then_listen(
        runtime,
        since,
        now + FUTURE_MS,
        min_usd=MIN_RULE_USD,
        purpose="alerts owed from before the alerts listened are not sent",
    )
    owed = 0
    for record in stored:
        if clean and record.recv_ms < runtime.started_ms:
            continue  # the last run's: it alerted them, or stored them in its queue
        for (chat_id, topic), rule in services.rules.match(record).items():
            key = event_key(record, topic)
            if rule.created_ms <= record.recv_ms and key not in journal.get(chat_id, {}):
                dispatcher.enqueue_alert(chat_id, record, topic)
                owed += 1
    for record in heard:
        router.on_liquidation(record)
    runtime.aggregation.add_listener(router.on_liquidation)
    if clean:
        if owed:
            log.info("%d alert(s) for events that arrived while the bot started", owed)
        return
    await _settle_journal(store, dispatcher, journal, owed)


async def _settle_journal(
    store: BotStore, dispatcher: AlertDispatcher, journal: dict[int, dict[str, int]], owed: int
) -> None:
    """Report the alerts an unclean stop left on the wire, then mark the journal settled."""
    uncertain = {
        chat_id: sum(1 for state in states.values() if state == ON_THE_WIRE)
        for chat_id, states in journal.items()
    }
    for chat_id, count in uncertain.items():
        if count:
            dispatcher.note_uncertain(chat_id, count)
    await store.settle_journal()
    if owed or any(uncertain.values()):
        log.warning(
            "recovered after an unclean stop: %d alert(s) to send, %d reported as uncertain",
            owed,
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
