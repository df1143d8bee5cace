"""Run the Telegram bot beside the collectors in one event loop (PTB started by hand)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from telegram import BotCommandScopeChat
from telegram.error import TelegramError

from aggregation.store import private_file
from bot.app.application import (
    ALLOWED_UPDATES,
    BotApplication,
    BotRequests,
    TelegramTuning,
    build_application,
)
from bot.app.dashboard import runtime_metrics, serve_dashboard, telegram_metrics
from bot.app.runtime import Runtime, in_turn, sleep_unless_stopped, unless_stopped
from bot.app.wiring import wire
from bot.delivery.outcome import Outcome, classify
from bot.delivery.sender import Sender
from bot.handlers import registry
from bot.handlers.context import Services
from bot.settings import Settings
from bot.tables.bot_store import BotStore
from bot.tables.split import adopt_bot_tables
from bot.texts.catalog import CATALOG, DEFAULT_LANG
from bot.web import ProcessMetrics
from collectors.backoff import Backoff
from collectors.outage import OutageLog
from collectors.supervisor import Supervisor

log = logging.getLogger(__name__)


async def _until_answered(
    call: Callable[[], Awaitable[object]], retry_s: float, stop: asyncio.Event
) -> bool:
    """Await `call()` until Telegram answers (True) or `stop` is set (False).

    A network failure, a timeout or a flood wait is retried with backoff (one line each); a
    wrong token is fatal and said plainly; any other error propagates."""
    backoff = Backoff(initial_s=retry_s, max_s=max(retry_s, 60.0))
    attempt = 0

    async def once() -> None:
        await call()

    while not stop.is_set():
        try:
            if not await unless_stopped(stop, once()):
                return False
        except TelegramError as exc:
            result = classify(exc)
            if result.outcome is Outcome.FATAL:
                raise SystemExit(
                    "Telegram refused TELEGRAM_BOT_TOKEN (401/404): check the token from @BotFather"
                ) from None
            if result.outcome not in (Outcome.NETWORK, Outcome.UNCERTAIN, Outcome.RETRY_AFTER):
                raise
            delay = result.delay_s or backoff.delay(attempt)
            attempt += 1
            log.warning("Telegram is unreachable (%s); retrying in %.1fs", exc, delay)
            if not await sleep_unless_stopped(stop, delay):
                return False
        else:
            return True
    return False


async def _set_menus(
    application: BotApplication, admin_ids: Iterable[int], retry_s: float, stop: asyncio.Event
) -> bool:
    """Set the command menu of each language and of each admin; False if stopped first."""
    bot = application.bot
    for lang in sorted(CATALOG):  # the menu in each language, English for the rest
        code = None if lang == DEFAULT_LANG else lang
        menu = list(registry.commands(lang))
        set_menu = functools.partial(bot.set_my_commands, menu, language_code=code)
        if not await _until_answered(set_menu, retry_s, stop):
            return False
    admin_menu = list(registry.admin_commands())
    for admin_id in admin_ids:
        scope = BotCommandScopeChat(admin_id)
        set_menu = functools.partial(bot.set_my_commands, admin_menu, scope=scope)
        try:  # /status shows in the menu of the bot's admins only
            if not await _until_answered(set_menu, retry_s, stop):
                return False
        except TelegramError as exc:  # e.g. the admin has not started the bot yet
            log.warning("could not set the admin command menu for %d: %s", admin_id, exc)
    return True


@dataclass(frozen=True, slots=True)
class RunningBot:
    """What `run_telegram` built, handed to `on_ready` (tests observe and drive it)."""

    application: BotApplication
    services: Services
    runtime: Runtime
    supervisor: Supervisor = field(default_factory=Supervisor)  # the bot's background tasks


async def open_bot_store(settings: Settings) -> BotStore:
    """Open the bot's own tables in their own file (owner-only), moving them out of the events'
    file first if an earlier release kept them there."""
    path = settings.bot_tables_path
    private_file(path)
    await asyncio.to_thread(adopt_bot_tables, path, settings.database_path)
    return await BotStore(path).open()


async def run_telegram(
    settings: Settings,
    stop: asyncio.Event,
    tuning: TelegramTuning | None = None,
    on_ready: Callable[[RunningBot], None] | None = None,
) -> None:
    """Run collectors, aggregation and the bot until `stop` is set; then stop cleanly.

    The collectors, the database writer and the dashboard run from the start, whatever
    Telegram does: events are counted, stored and shown while getMe is still unanswered. On
    stop: polling ends, alerts still queued get `drain_timeout_s` to go out, what remains is
    stored for the next start, and the database writer flushes.
    """
    tuning = tuning or TelegramTuning()
    started = time.monotonic()
    async with Runtime(settings) as runtime:
        store = await open_bot_store(settings)
        requests = BotRequests()
        application = build_application(settings, tuning, requests)
        # A long poll that fails is said like a feed's outage: once, a line a minute, its end.
        polling = OutageLog("Telegram (getUpdates)", log, recovered_as="answered again")
        requests.updates.on_ok = polling.recovered
        collecting = asyncio.create_task(runtime.run(), name="collectors")
        collecting.add_done_callback(lambda _: stop.set())  # their failure stops the bot
        wired: list[Services] = []  # the dashboard counts alerts once there are any

        def metrics() -> ProcessMetrics:
            return telegram_metrics(runtime, wired[0]) if wired else runtime_metrics(runtime)

        try:
            async with serve_dashboard(settings, runtime, metrics):
                if await _until_answered(application.initialize, tuning.init_retry_s, stop):
                    supervisor = Supervisor()
                    services = await wire(
                        settings, tuning, runtime, store, application, started, supervisor
                    )
                    wired.append(services)
                    running = RunningBot(application, services, runtime, supervisor)
                    await _serve(tuning, running, store, stop, on_ready, polling, collecting)
                else:
                    log.info("stopped before Telegram answered")
        finally:
            Sender.of(application.bot).unregister()
            await in_turn(
                lambda: _stopped(collecting),  # their sockets close (cancelled at once in _serve)
                lambda: _stop_application(application),
                application.shutdown,
                requests.shutdown,  # also when getMe never answered (PTB skips them then)
                store.close,
            )
    if not collecting.cancelled() and (error := collecting.exception()) is not None:
        raise error  # the collectors' failure, now that everything is stored


async def _stopped(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait for it to end (an error it ended with stays in it). A
    cancellation of this wait (the grace) leaves the task to end on its own: unlike `_ended`,
    which a cancellation does not cut short."""
    task.cancel()
    await asyncio.wait([task])


async def _start_polling(
    application: BotApplication,
    services: Services,
    tuning: TelegramTuning,
    stop: asyncio.Event,
    polling: OutageLog,
) -> bool:
    """Set the menus, start the Application and its long poll; False if stopped first.

    Telegram can go away after getMe too: each call is retried until it answers, and said."""
    retry_s = tuning.init_retry_s
    if not await _set_menus(application, services.settings.admin_user_ids, retry_s, stop):
        return False
    # Polling starts with deleteWebhook, which PTB tries once by default (a failure then ends
    # start_polling with an ERROR traceback) or, as below, retries without a word: asked here
    # first, so an outage is said, and PTB's own call only retries a blip in between.
    if not await _until_answered(application.bot.delete_webhook, retry_s, stop):
        return False
    await application.start()
    assert application.updater is not None
    start = application.updater.start_polling(
        poll_interval=0.0,
        timeout=tuning.poll_timeout_s,
        allowed_updates=ALLOWED_UPDATES,
        bootstrap_retries=-1,
        # PTB retries a failed poll after 1 s, then further apart up to 30 s; without this it
        # logs each failure at ERROR with a traceback.
        error_callback=lambda exc: polling.failed(_described(exc)),
    )
    return await unless_stopped(stop, start)


def _described(error: TelegramError) -> str:
    """Return the error's class and message ("NetworkError: ..."), but Telegram's 409 once:
    its own text starts with "Conflict: ", like the class's name."""
    text, kind = str(error), type(error).__name__
    return text if text.startswith(f"{kind}: ") else f"{kind}: {text}"


async def _serve(
    tuning: TelegramTuning,
    running: RunningBot,
    store: BotStore,
    stop: asyncio.Event,
    on_ready: Callable[[RunningBot], None] | None,
    polling: OutageLog,
    collecting: asyncio.Task[None],
) -> None:
    application, services, runtime = running.application, running.services, running.runtime
    # Each loop under supervision: one that raises is logged, counted (/status) and restarted.
    supervise = running.supervisor.supervise
    dispatching = asyncio.create_task(
        supervise("dispatcher", services.dispatcher.run), name="dispatcher"
    )
    journaling = asyncio.create_task(
        supervise("alert-journal", services.journal.run), name="alert-journal"
    )
    cascading = asyncio.create_task(supervise("cascades", services.cascades.run), name="cascades")
    try:
        if not await _start_polling(application, services, tuning, stop, polling):
            return  # stopped while Telegram was away: what is queued is stored all the same
        log.info("Telegram bot @%s is running", application.bot.username)
        if on_ready is not None:
            on_ready(running)
        await stop.wait()
    finally:
        # No new event reaches the alerts from here on; the collectors' sockets close meanwhile
        # (waited for last, in run_telegram: a socket the network dropped takes its timeout).
        collecting.cancel()
        runtime.aggregation.remove_listener(services.router.on_liquidation)
        runtime.aggregation.remove_listener(services.cascades.on_liquidation)
        services.cascades.finish()  # open cascade messages are stored: the next start adopts them
        await in_turn(
            lambda: _stop_application(application, only_polling=True),
            lambda: _drained(services, cascading, tuning.drain_timeout_s),
            lambda: _ended(dispatching, journaling, cascading),
            lambda: _owed_stored(store, services),
            lambda: _stop_application(application),
        )


async def _stop_application(application: BotApplication, *, only_polling: bool = False) -> None:
    """Stop the long poll, then (unless `only_polling`) the Application, where they run."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if not only_polling and application.running:
        await application.stop()


async def _drained(services: Services, cascading: asyncio.Task[None], timeout_s: float) -> None:
    """Give the alerts still queued, and the cascade round in progress, `timeout_s` to go out."""
    drained, _ = await asyncio.gather(
        services.dispatcher.drain(timeout_s), asyncio.wait([cascading], timeout=timeout_s)
    )
    if not drained:
        log.warning("stopping with alerts still queued; they are stored for the next start")


async def _ended(*tasks: asyncio.Task[None]) -> None:
    """Cancel the tasks and wait for them to end, even when this wait is cancelled (the next
    step stores what they held). Unlike `_stopped`, whose task may wait on the network."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _owed_stored(store: BotStore, services: Services) -> None:
    """Store what the alerts still owe for the next start, then mark the stop clean (only when
    all of it is stored: otherwise the next start recovers from the journal, as after a crash)."""
    await services.journal.flush()
    await store.save_pending(services.dispatcher.snapshot())
    await store.mark_clean_stop()
