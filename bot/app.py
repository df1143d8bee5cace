"""Compose the process: settings -> collectors -> sinks; console, record and replay modes."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TextIO

import httpx
import msgspec

from bot.console import ConsoleSink, format_status_line, print_status, use_color
from bot.settings import Settings
from collectors.capture import CaptureWriter, ReplayReport, read_capture, replay
from collectors.metadata_cache import SqliteMetadataCache
from collectors.record import Liquidation
from collectors.registry import FEED_IDS, Endpoints, build_feeds
from collectors.service import CollectorService
from collectors.stats import FeedStateChange, FeedStats

log = logging.getLogger(__name__)

CONSOLE_BANNER = (
    "Console mode: TELEGRAM_BOT_TOKEN is not set, so liquidations are printed here.\n"
    "To run the Telegram bot, put TELEGRAM_BOT_TOKEN=<token from @BotFather> in the "
    "environment or in .env (see .env.example).\n"
)


def prepare_database_file(path: Path) -> None:
    """Create the database file (and its folder) readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(descriptor)
    os.chmod(path, 0o600)


def http_client() -> httpx.AsyncClient:
    """Return the REST client used for exchange metadata."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(10.0),
        headers={"User-Agent": "liquidation-bot"},
        follow_redirects=True,
    )


async def run_until_stopped(stop: asyncio.Event, *coros: Coroutine[Any, Any, None]) -> None:
    """Run forever-coroutines until `stop` is set; an error in any of them propagates."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(coro) for coro in coros]
        await stop.wait()
        for task in tasks:
            task.cancel()


async def run_console(settings: Settings, out: TextIO, stop: asyncio.Event) -> None:
    """Run the collectors and print each liquidation and a periodic status line."""
    prepare_database_file(settings.database_path)
    sink = ConsoleSink(out, min_usd=settings.min_event_usd, color=use_color(out))
    async with http_client() as http, SqliteMetadataCache(settings.database_path) as cache:
        service = CollectorService(
            build_feeds(settings.exchanges, settings.endpoints()),
            sink,
            http=http,
            cache=cache,
            metadata_refresh_s=settings.metadata_refresh_s,
        )
        out.write(CONSOLE_BANNER)
        out.write(
            f"Feeds: {', '.join(settings.exchanges)}. Events under "
            f"${settings.min_event_usd:,.0f} are not printed (MIN_EVENT_USD).\n"
        )
        out.flush()
        await run_until_stopped(
            stop, service.run(), print_status(out, service.stats, settings.status_interval_s)
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
    prepare_database_file(settings.database_path)
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
                print_status(err, service.stats, settings.status_interval_s),
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


class _EventPrinter:
    """Write one JSON object per liquidation."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._encoder = msgspec.json.Encoder()

    def on_liquidation(self, record: Liquidation) -> None:
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


def replay_summary(report: ReplayReport) -> list[str]:
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


def run_replay(path: Path, *, events: bool, out: TextIO, err: TextIO) -> int:
    """Replay a capture through the real parsers; return the exit status."""
    feeds = build_feeds(FEED_IDS, Endpoints())
    sink = _EventPrinter(out) if events else _CountingSink()
    try:
        with path.open("rb") as capture:
            report = replay(read_capture(capture), feeds, sink)
    except OSError as exc:
        err.write(f"replay: cannot read {path}: {exc.strerror or exc}\n")
        return 2
    if not events:
        for line in replay_summary(report):
            out.write(line + "\n")
    bad = sum(stats.bad_frames for stats in report.feeds.values())
    produced = sum(stats.events for stats in report.feeds.values())
    err.write(
        f"replay: {report.lines:,} lines, {produced:,} events, {bad:,} bad frames, "
        f"{report.problems:,} malformed lines\n"
    )
    return 0
