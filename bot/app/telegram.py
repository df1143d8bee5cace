"""Run the Telegram bot beside the collectors in one event loop (PTB started by hand)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
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
from bot.app.dashboard import serve_dashboard, telegram_metrics
from bot.app.runtime import Runtime, run_until_stopped, sleep_unless_stopped, unless_stopped
from bot.app.wiring import wire
from bot.delivery.outcome import Outcome, classify
from bot.delivery.sender import Sender
from bot.handlers import registry
from bot.handlers.context import Services
from bot.settings import Settings
from bot.tables.bot_store import BotStore
from bot.tables.split import adopt_bot_tables
from bot.texts.catalog import CATALOG, DEFAULT_LANG
from collectors.backoff import Backoff
from collectors.supervisor import Supervisor

log = logging.getLogger(__name__)


async def _initialize(application: BotApplication, retry_s: float, stop: asyncio.Event) -> bool:
    """Call getMe until Telegram answers (True) or `stop` is set (False); a wrong token is
    fatal and said plainly."""
    backoff = Backoff(initial_s=retry_s, max_s=max(retry_s, 60.0))
    attempt = 0
    while not stop.is_set():
        try:
            if not await unless_stopped(stop, application.initialize()):
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

    On stop: polling ends, alerts still queued get `drain_timeout_s` to go out, what remains
    is stored for the next start, and the database writer flushes.
    """
    tuning = tuning or TelegramTuning()
    started = time.monotonic()
    async with Runtime(settings) as runtime:
        store = await open_bot_store(settings)
        requests = BotRequests()
        application = build_application(settings, tuning, requests)
        try:
            if not await _initialize(application, tuning.init_retry_s, stop):
                log.info("stopped before Telegram answered")
                return
            supervisor = Supervisor()
            services = await wire(
                settings, tuning, runtime, store, application, started, supervisor
            )
            running = RunningBot(application, services, runtime, supervisor)
            metrics = functools.partial(telegram_metrics, runtime, services)
            async with serve_dashboard(settings, runtime, metrics):
                await _serve(tuning, running, store, stop, on_ready)
        finally:
            Sender.of(application.bot).unregister()
            if application.running:
                await application.stop()
            await application.shutdown()
            await requests.shutdown()  # also when getMe never answered (PTB skips them then)
            await store.close()


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
        await application.bot.set_my_commands(list(registry.commands(lang)), language_code=code)
    admin_menu = list(registry.admin_commands())
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
    # Each loop under supervision: one that raises is logged, counted (/status) and restarted.
    supervise = running.supervisor.supervise
    dispatching = asyncio.create_task(
        supervise("dispatcher", services.dispatcher.run), name="dispatcher"
    )
    journaling = asyncio.create_task(
        supervise("alert-journal", services.journal.run), name="alert-journal"
    )
    cascading = asyncio.create_task(supervise("cascades", services.cascades.run), name="cascades")
    log.info("Telegram bot @%s is running", application.bot.username)
    if on_ready is not None:
        on_ready(running)
    try:
        await run_until_stopped(stop, runtime.run())
    finally:
        runtime.aggregation.remove_listener(services.router.on_liquidation)
        runtime.aggregation.remove_listener(services.cascades.on_liquidation)
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
