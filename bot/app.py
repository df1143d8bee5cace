"""Compose the process: console, record and replay modes on top of the shared runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import msgspec

from aggregation.coverage import CoverageTracker
from aggregation.query import LiquidationQueries
from aggregation.store import LiquidationStore, private_file
from aggregation.windows import DEFAULT_WINDOWS_S, WindowStore
from bot.console import (
    ConsolePrinter,
    format_ingest_line,
    format_replay_summary,
    format_status_line,
    print_status,
    use_color,
)
from bot.runtime import Runtime, http_client
from bot.settings import Settings
from bot.web import Dashboard, ProcessMetrics, WebError, feed_health
from collectors.capture import CaptureWriter, Replayer, ReplayReport, read_capture
from collectors.metadata_cache import SqliteMetadataCache
from collectors.record import FeedStateChange, Liquidation
from collectors.registry import FEED_IDS, Endpoints, build_feeds
from collectors.service import CollectorService
from collectors.stats import FeedStats

log = logging.getLogger(__name__)

CONSOLE_BANNER = (
    "Console mode: TELEGRAM_BOT_TOKEN is not set, so liquidations are printed here.\n"
    "To run the Telegram bot, put TELEGRAM_BOT_TOKEN=<token from @BotFather> in the "
    "environment or in .env (see .env.example).\n"
)


async def run_until_stopped(stop: asyncio.Event, *coros: Coroutine[Any, Any, None]) -> None:
    """Run forever-coroutines until `stop` is set; an error in any of them propagates."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(coro) for coro in coros]
        await stop.wait()
        for task in tasks:
            task.cancel()


def runtime_metrics(runtime: Runtime) -> ProcessMetrics:
    """Return the ingest and database figures the dashboard's /metrics shows."""
    store, counters = runtime.store, runtime.aggregation.windows.counters
    return ProcessMetrics(
        events_counted=counters.counted,
        events_duplicate=counters.duplicates,
        database_queue=store.pending(),
        database_rows_written=store.stats.written,
        database_rows_dropped=store.stats.dropped,
        database_bytes=store.db_bytes(),
    )


@contextlib.asynccontextmanager
async def serve_dashboard(
    settings: Settings, runtime: Runtime, metrics: Callable[[], ProcessMetrics] | None = None
) -> AsyncIterator[Dashboard | None]:
    """Serve the web dashboard beside the runtime (None when WEB_ENABLED is false).

    A refused bind or a taken port ends the process with a one-line reason.
    """
    if not settings.web_enabled:
        yield None
        return
    dashboard = Dashboard(
        settings.web(),
        queries=runtime.queries,
        health=lambda: feed_health(runtime.feeds, runtime.feed_stats()),
        metrics=metrics or (lambda: runtime_metrics(runtime)),
        database_path=settings.database_path,
    )
    try:
        await dashboard.start()
    except WebError as exc:
        raise SystemExit(f"dashboard: {exc}") from None
    runtime.listeners.append(dashboard.on_liquidation)
    try:
        yield dashboard
    finally:
        runtime.listeners.remove(dashboard.on_liquidation)
        await dashboard.stop()


async def run_console(settings: Settings, out: TextIO, stop: asyncio.Event) -> None:
    """Run collectors and aggregation; print each liquidation and periodic status lines."""
    printer = ConsolePrinter(out, min_usd=settings.min_event_usd, color=use_color(out))
    async with (
        Runtime(settings, listeners=[printer.print_event]) as runtime,
        serve_dashboard(settings, runtime) as dashboard,
    ):
        loaded = runtime.start_report.events_loaded if runtime.start_report else 0
        out.write(CONSOLE_BANNER)
        out.write(
            f"Feeds: {', '.join(settings.exchanges)}. Database: {settings.database_path} "
            f"({loaded:,} events of the last 24 h restored). Events under "
            f"${settings.min_event_usd:,.0f} are not printed (MIN_EVENT_USD).\n"
        )
        if dashboard is not None:
            sign_in = " (sign in once: /?token=WEB_TOKEN)" if settings.web_token else ""
            out.write(f"Dashboard: {dashboard.url}{sign_in}\n")
        out.flush()
        aggregation = runtime.aggregation

        def ingest_line() -> list[str]:
            store = aggregation.store
            return [format_ingest_line(aggregation.windows.counters, store.stats, store.pending())]

        await run_until_stopped(
            stop,
            runtime.run(),
            print_status(
                out, runtime.feed_stats, runtime.queries, settings.status_interval_s, ingest_line
            ),
        )


class _CountingSink:
    """Count what the collectors produce while recording."""

    def __init__(self) -> None:
        self.events = 0

    def on_liquidation(self, record: Liquidation) -> None:
        self.events += 1

    def on_feed_state(self, change: FeedStateChange) -> None:
        pass


async def _flush_every(writer: CaptureWriter, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        writer.flush()


async def run_record(
    settings: Settings, path: Path, duration_s: float | None, stop: asyncio.Event, err: TextIO
) -> list[FeedStats]:
    """Write every raw frame and metadata body of the configured feeds to a capture file."""
    private_file(settings.database_path)  # the metadata cache lives there
    sink = _CountingSink()
    writer = CaptureWriter(path).open()
    loop = asyncio.get_running_loop()
    timer = loop.call_later(duration_s, stop.set) if duration_s is not None else None
    try:
        async with http_client() as http, SqliteMetadataCache(settings.database_path) as cache:
            service = CollectorService(
                build_feeds(settings.exchanges, settings.endpoints()),
                sink,
                http=http,
                cache=cache,
                recorder=writer,
                metadata_refresh_s=settings.metadata_refresh_s,
            )
            await run_until_stopped(
                stop,
                service.run(),
                _flush_every(writer, 1.0),
                print_status(err, service.stats, None, settings.status_interval_s),
            )
    finally:
        if timer is not None:
            timer.cancel()
        writer.close()
    now = time.time_ns() // 1_000_000
    for stats in service.stats():
        err.write(format_status_line(stats, now) + "\n")
    err.write(f"Recorded {writer.lines:,} lines ({sink.events:,} liquidations) to {path}\n")
    return service.stats()


class EventLine(msgspec.Struct):
    """One `replay --events` output line."""

    exchange: str
    market: str
    symbol: str
    base: str
    side: str
    price: float
    qty: float
    notional_usd: float
    ts_ms: int


class _ReplaySink:
    """Count replayed events on event time; print and store them if asked."""

    def __init__(
        self, windows: WindowStore, out: TextIO | None, store: LiquidationStore | None
    ) -> None:
        self.windows = windows
        self._out = out
        self._store = store
        self._encoder = msgspec.json.Encoder()

    def on_liquidation(self, record: Liquidation) -> None:
        # Windows are measured on event time: the replay's clock is the newest event time.
        self.windows.add(msgspec.structs.replace(record, recv_ms=record.ts_ms))
        if self._store is not None:
            self._store.enqueue(record)
        if self._out is not None:
            line = EventLine(
                exchange=record.exchange,
                market=record.market,
                symbol=record.symbol,
                base=record.base,
                side=record.side.value,
                price=record.price,
                qty=record.qty_base,
                notional_usd=record.notional_usd,
                ts_ms=record.ts_ms,
            )
            self._out.write(self._encoder.encode(line).decode() + "\n")

    def on_feed_state(self, change: FeedStateChange) -> None:
        pass


def replay_feed_lines(report: ReplayReport) -> list[str]:
    """Return the per-feed lines printed at the end of a replay."""
    lines = []
    for feed_id, stats in report.feeds.items():
        if stats.frames:
            lines.append(
                f"{feed_id}: {stats.frames:,} frames, {stats.events:,} events, "
                f"{stats.bad_frames:,} bad frames, {stats.unknown_instrument_events:,} "
                f"unknown-instrument events, {stats.duplicates:,} duplicates"
            )
    return lines


async def _replay(
    capture: BinaryIO, sink: _ReplaySink, store: LiquidationStore | None
) -> ReplayReport:
    replayer = Replayer(build_feeds(FEED_IDS, Endpoints()), sink)
    for count, item in enumerate(read_capture(capture), start=1):
        replayer.process(item)
        if store is not None and count % 20_000 == 0:
            await store.flush()  # keep the write buffer bounded on long captures
    if store is not None:
        await store.flush()
    return replayer.finish()


async def run_replay(
    path: Path, *, events: bool, out: TextIO, err: TextIO, store_path: Path | None = None
) -> int:
    """Replay a capture through the real parsers; return the exit status."""
    try:
        capture = path.open("rb")
    except OSError as exc:
        err.write(f"replay: cannot read {path}: {exc.strerror or exc}\n")
        return 2
    windows = WindowStore(DEFAULT_WINDOWS_S)
    store = None
    if store_path is not None:
        try:
            store = await LiquidationStore(store_path).open()
        except (OSError, sqlite3.Error, RuntimeError) as exc:
            capture.close()
            err.write(f"replay: cannot open database {store_path}: {exc}\n")
            return 2
    sink = _ReplaySink(windows, out if events else None, store)
    try:
        with capture:
            report = await _replay(capture, sink, store)
    except OSError as exc:  # the file went away or the disk failed mid-read
        err.write(f"replay: cannot read {path}: {exc.strerror or exc}\n")
        return 2
    finally:
        if store is not None:
            await store.close()
    if not events:
        queries = LiquidationQueries(windows, CoverageTracker([]), clock=lambda: 0)
        for line in replay_feed_lines(report):
            out.write(line + "\n")
        if windows.counters.counted:
            out.write(format_replay_summary(queries))
    if store is not None:
        err.write(
            f"replay: stored into {store_path}: {store.stats.written:,} new rows, "
            f"{store.stats.duplicates:,} already there\n"
        )
    bad = sum(stats.bad_frames for stats in report.feeds.values())
    produced = sum(stats.events for stats in report.feeds.values())
    err.write(
        f"replay: {report.lines:,} lines, {produced:,} events, {bad:,} bad frames, "
        f"{report.problems:,} malformed lines\n"
    )
    return 0
