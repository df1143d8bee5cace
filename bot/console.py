"""Print liquidations, feed status and window totals to a terminal (console mode, replay)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from aggregation.query import LiquidationQueries, RankedAsset, SideTotals, WindowTotals
from aggregation.store import StoreStats
from aggregation.windows import IngestCounters
from bot.texts.durations import format_window
from bot.texts.formatting import format_duration, format_price, format_usd, format_utc
from collectors.record import Liquidation, Side
from collectors.stats import FeedStats

_RED = "\x1b[31m"
_GREEN = "\x1b[32m"
_RESET = "\x1b[0m"

DATA_NOTE = (
    "Note: Binance sends at most one liquidation per symbol per second, so its totals are a "
    "lower bound; OKX reports only part of its liquidations; Bybit reports all of them."
)


def use_color(stream: TextIO) -> bool:
    """Color only a terminal, and never when NO_COLOR is set."""
    return stream.isatty() and "NO_COLOR" not in os.environ


def format_event_line(record: Liquidation, *, color: bool = False) -> str:
    """Return one readable line: time, exchange, asset, side, USD size, price."""
    side = "LONG  liquidated" if record.side is Side.LONG else "SHORT liquidated"
    if color:
        # The seed's convention: red = a long was liquidated, green = a short.
        side = f"{_RED if record.side is Side.LONG else _GREEN}{side}{_RESET}"
    venue = f"{record.exchange} {record.market}"
    return (
        f"{format_utc(record.ts_ms)}  {venue:<14} {record.base:<10} {side}  "
        f"{format_usd(record.notional_usd):>9}  at {format_price(record.price)}"
    )


def format_status_line(stats: FeedStats, now_ms: int) -> str:
    """Return one status line for a feed: connected or not, events, errors, reconnects."""
    if stats.connected and stats.intervals:
        state = f"up {format_duration((now_ms - stats.intervals[-1].start_ms) / 1000)}"
    else:
        state = "DOWN" + (f" ({stats.last_error})" if stats.last_error else "")
    last = (
        f", last event {format_duration((now_ms - stats.last_event_ms) / 1000)} ago"
        if stats.last_event_ms is not None
        else ""
    )
    return (
        f"status {stats.feed_id}: {state}, {stats.events:,} events, "
        f"{stats.bad_frames:,} bad frames, {stats.unknown_instrument_events:,} unknown-instrument "
        f"events, {stats.reconnects:,} reconnects{last}"
    )


def _sides(totals: SideTotals) -> str:
    return (
        f"{format_usd(totals.total_usd)} (long {format_usd(totals.long_usd)} / "
        f"short {format_usd(totals.short_usd)})"
    )


def format_market_line(windows: Sequence[WindowTotals]) -> str:
    """Return one line of market-wide totals for every window."""
    return "totals " + " | ".join(
        f"{format_window(w.window_s)} {_sides(w.totals)}" for w in windows
    )


class ConsolePrinter:
    """Print every new liquidation at or above a USD floor."""

    def __init__(self, out: TextIO, *, min_usd: float, color: bool) -> None:
        self._out = out
        self._min_usd = min_usd
        self._color = color
        self.printed = 0

    def print_event(self, record: Liquidation) -> None:
        """Print one line if the event is at least the floor."""
        if record.notional_usd >= self._min_usd:
            self._out.write(format_event_line(record, color=self._color) + "\n")
            self._out.flush()
            self.printed += 1


def format_ingest_line(counters: IngestCounters, store: StoreStats, pending: int) -> str:
    """Return one line of what ingest and the database writer did."""
    return (
        f"ingest: {counters.counted:,} counted, {counters.duplicates:,} duplicates, "
        f"{counters.stale:,} older than every window, {counters.clamped:,} future times clamped; "
        f"database: {store.written:,} rows written, {pending:,} pending, "
        f"{store.dropped:,} dropped"
    )


async def print_status(
    out: TextIO,
    stats: Callable[[], list[FeedStats]],
    queries: LiquidationQueries | None,
    interval_s: float,
    extra: Callable[[], list[str]] | None = None,
) -> None:
    """Every `interval_s`, print a status line per feed, any extra lines and the totals."""
    while True:
        await asyncio.sleep(interval_s)
        now = time.time_ns() // 1_000_000
        for feed_stats in stats():
            out.write(format_status_line(feed_stats, now) + "\n")
        for line in extra() if extra is not None else ():
            out.write(line + "\n")
        if queries is not None:
            out.write(format_market_line(queries.market()) + "\n")
            out.write(DATA_NOTE + "\n")
        out.flush()


def _ranked(assets: Sequence[RankedAsset]) -> str:
    if not assets:
        return "none"
    return "  ".join(f"{i}. {a.asset} {format_usd(a.usd)}" for i, a in enumerate(assets, 1))


def format_replay_summary(queries: LiquidationQueries, top: int = 10) -> str:
    """Return window totals and leaderboards as of the newest event (windows on event time)."""
    market = queries.market()
    end = market[0].end_ms
    lines = [f"As of {format_utc(end)} (the capture's newest event; windows on event time):"]
    lines.append(f"{'window':<8}{'long':>12}{'short':>12}{'total':>12}{'events':>9}")
    for totals in market:
        t = totals.totals
        lines.append(
            f"{format_window(totals.window_s):<8}{format_usd(t.long_usd):>12}"
            f"{format_usd(t.short_usd):>12}{format_usd(t.total_usd):>12}{t.count:>9,}"
        )
    longest = market[-1]
    for exchange in longest.exchanges:
        name = format_window(longest.window_s)
        lines.append(f"  {name} {exchange.exchange}: {_sides(exchange.totals)}")
    for window_s in queries.windows_s:
        board = queries.leaderboard(window_s, top)
        name = format_window(window_s)
        lines.append(f"Top longs liquidated, {name}: {_ranked(board.longs)}")
        lines.append(f"Top shorts liquidated, {name}: {_ranked(board.shorts)}")
    lines.append(DATA_NOTE)
    return "\n".join(lines) + "\n"
