"""Record mode (raw frames to a capture file) and replay mode (a capture through the parsers)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import BinaryIO, TextIO

import msgspec

from aggregation.coverage import CoverageTracker
from aggregation.query import LiquidationQueries
from aggregation.store import LiquidationStore, private_file
from aggregation.windows import DEFAULT_WINDOWS_S, WindowStore
from bot.app.console import print_status
from bot.app.runtime import http_client, run_until_stopped
from bot.render.replay import format_replay_summary
from bot.render.status import format_status_line
from bot.settings import Settings
from bot.texts.formatting import plural
from collectors.capture import CaptureWriter, Replayer, ReplayReport, read_capture
from collectors.clock import now_ms
from collectors.endpoints import FEED_IDS, Endpoints
from collectors.metadata_cache import SqliteMetadataCache
from collectors.record import FeedStateChange, Liquidation
from collectors.registry import build_feeds
from collectors.service import CollectorService
from collectors.stats import FeedStats


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
    now = now_ms()
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


def without_float_noise(usd: float) -> float:
    """Return a computed USD amount at 12 significant digits: 11238.048099999998 -> 11238.0481
    (qty x price carries binary noise; no venue quotes more digits than that)."""
    return float(f"{usd:.12g}")


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
                notional_usd=without_float_noise(record.notional_usd),
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
    err.write(closing_line(report) + "\n")
    return 0


def closing_line(report: ReplayReport) -> str:
    """Return the replay's last line: lines read, events produced, and every kind of skip
    (bad frames, malformed lines, unknown instruments, duplicates, lines of sources no feed
    reads, metadata bodies that could not be used); the log says which, once per kind."""
    feeds = report.feeds.values()
    bad = sum(stats.bad_frames for stats in feeds)
    produced = sum(stats.events for stats in feeds)
    unknown = sum(stats.unknown_instrument_events for stats in feeds)
    duplicates = sum(stats.duplicates for stats in feeds)
    unused = sum(report.unknown_sources.values())
    return (
        f"replay: {plural(report.lines, 'line', 'lines')}, {plural(produced, 'event', 'events')}, "
        f"skipped: {plural(bad, 'bad frame', 'bad frames')}, "
        f"{plural(report.problems, 'malformed line', 'malformed lines')}, "
        f"{plural(unknown, 'unknown-instrument event', 'unknown-instrument events')}, "
        f"{plural(duplicates, 'duplicate', 'duplicates')}, "
        f"{plural(unused, 'line of an unknown source', 'lines of unknown sources')}, "
        f"{plural(report.metadata_failed, 'unusable metadata body', 'unusable metadata bodies')}"
    )
